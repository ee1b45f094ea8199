//! [`SecretSource`] for the embedded default: secrets from `KUSTIQ_*`
//! environment variables (see [`SecretName::env_var`]), with defaults that
//! work with `stripe-sim` out of the box.

use crate::domain::secret::Secret;
use crate::ports::secrets::{SecretError, SecretName, SecretSource};
use std::collections::HashMap;

/// The platform key `stripe-sim` accepts.
pub const SIM_PLATFORM_KEY: &str = "sk_test_sim";

/// Secrets read from a snapshot of environment variables, falling back to
/// defaults. Unset or blank variables count as absent.
#[derive(Clone, Default)]
pub struct EnvSecrets {
    vars: HashMap<String, Secret>,
    defaults: HashMap<SecretName, Secret>,
}

impl std::fmt::Debug for EnvSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("EnvSecrets")
            .field("vars", &names)
            .finish_non_exhaustive()
    }
}

impl EnvSecrets {
    /// The process environment's `KUSTIQ_*` variables, with the local runner's
    /// defaults (`KUSTIQ_STRIPE_PLATFORM_KEY` = `sk_test_sim`).
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars().filter(|(k, _)| k.starts_with("KUSTIQ_"))).with_default(
            SecretName::STRIPE_PLATFORM_KEY,
            Secret::new(SIM_PLATFORM_KEY),
        )
    }

    /// Exactly these variables and no defaults (tests, embedding).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars = vars
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k, Secret::new(v)))
            .collect();
        Self {
            vars,
            defaults: HashMap::new(),
        }
    }

    /// Uses `value` for `name` when its variable is not set.
    #[must_use]
    pub fn with_default(mut self, name: SecretName, value: Secret) -> Self {
        self.defaults.insert(name, value);
        self
    }
}

impl SecretSource for EnvSecrets {
    async fn get(&self, name: &SecretName) -> Result<Secret, SecretError> {
        self.vars
            .get(&name.env_var())
            .or_else(|| self.defaults.get(name))
            .cloned()
            .ok_or_else(|| SecretError::NotFound(name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> EnvSecrets {
        EnvSecrets::from_vars(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
    }

    #[tokio::test]
    async fn webhook_secrets_come_from_a_comma_separated_variable() {
        let env = vars(&[("KUSTIQ_STRIPE_WEBHOOK_SECRET", "whsec_old,whsec_new")]);
        let list = env
            .get_list(&SecretName::STRIPE_WEBHOOK_SECRET)
            .await
            .unwrap();
        let got: Vec<&str> = list.iter().map(Secret::expose).collect();
        assert_eq!(got, ["whsec_old", "whsec_new"]);
    }

    #[tokio::test]
    async fn variables_override_defaults_and_missing_ones_are_not_found() {
        let key = SecretName::STRIPE_PLATFORM_KEY;
        let defaulted = vars(&[]).with_default(key.clone(), Secret::new(SIM_PLATFORM_KEY));
        assert_eq!(
            defaulted.get(&key).await.unwrap().expose(),
            SIM_PLATFORM_KEY
        );

        let set = vars(&[("KUSTIQ_STRIPE_PLATFORM_KEY", "sk_test_real")])
            .with_default(key.clone(), Secret::new(SIM_PLATFORM_KEY));
        assert_eq!(set.get(&key).await.unwrap().expose(), "sk_test_real");

        let blank = vars(&[("KUSTIQ_STRIPE_WEBHOOK_SECRET", "  ")]);
        assert_eq!(
            blank
                .get(&SecretName::STRIPE_WEBHOOK_SECRET)
                .await
                .unwrap_err(),
            SecretError::NotFound(SecretName::STRIPE_WEBHOOK_SECRET)
        );
    }

    #[test]
    fn debug_lists_names_not_values() {
        let env = vars(&[("KUSTIQ_STRIPE_PLATFORM_KEY", "sk_test_hidden")]);
        let dbg = format!("{env:?}");
        assert!(dbg.contains("KUSTIQ_STRIPE_PLATFORM_KEY"));
        assert!(!dbg.contains("sk_test_hidden"));
    }
}
