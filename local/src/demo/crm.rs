//! The demo's CRM: profiles made from the simulator's customers, so that most match
//! (by override, metadata, email and domain), some need review and some stay unmatched.

use serde_json::{Value, json};

/// How a profile was built from its customer, which decides how matching should find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Planted {
    /// The customer carries `metadata.kustiq_profile_id`.
    Metadata,
    /// The profile names the customer (`stripe_customer_id`, the manual override).
    Override,
    /// Same email address.
    Email,
    /// Another address at the same business domain.
    Domain,
    /// Two profiles at the same business domain: matching must ask for review.
    Ambiguous,
    /// No profile for this customer.
    None,
}

/// One profile to create, with how it was planted.
#[derive(Debug, Clone)]
pub struct PlantedProfile {
    /// Profile id.
    pub id: String,
    /// The `PUT` body (without the id).
    pub body: Value,
    /// How it relates to its customer.
    pub planted: Planted,
}

/// Personal mail providers the simulator uses: a domain match must never be planted there.
fn personal(domain: &str) -> bool {
    stripe_sim::names::PERSONAL.contains(&domain)
}

/// Signals from the CRM's other families, varied by a small deterministic hash so the
/// segment is not all billing.
fn families(i: usize) -> Value {
    let h = (i.wrapping_mul(2_654_435_761)) % 100;
    let mut crm = Vec::new();
    let mut product = Vec::new();
    if h < 25 {
        crm.push(json!({"signal": "champion_left", "impact": 18, "explanation": "The account's champion left the company"}));
    }
    if h % 3 == 0 {
        product.push(json!({"signal": "weekly_active_users_drop", "impact": 10 + (h % 15) as i64, "explanation": "Weekly active users fell over the last month"}));
    }
    if h > 80 {
        crm.push(json!({"signal": "nps_promoter", "impact": -8, "explanation": "Answered 9 or 10 in the last NPS survey"}));
    }
    json!({"crm": crm, "product_usage": product})
}

/// Profiles for `customers` (the simulator's rendered customers, oldest first).
pub fn plant(customers: &[Value]) -> Vec<PlantedProfile> {
    let mut out = Vec::new();
    for (i, c) in customers.iter().enumerate() {
        let Some(cus) = c.get("id").and_then(Value::as_str) else {
            continue;
        };
        let email = c.get("email").and_then(Value::as_str).map(str::to_owned);
        let name = c
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let meta_profile = c
            .pointer("/metadata/kustiq_profile_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let domain = email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase());
        let business = domain.clone().filter(|d| !personal(d));
        let body = |email: Option<String>, domain: Option<String>, override_id: Option<&str>| {
            let mut b = json!({"name": name, "families": families(i)});
            if let Some(e) = email {
                b["email"] = json!(e);
            }
            if let Some(d) = domain {
                b["domain"] = json!(d);
            }
            if let Some(o) = override_id {
                b["stripe_customer_id"] = json!(o);
            }
            b
        };
        if let Some(pid) = meta_profile {
            out.push(PlantedProfile {
                id: pid,
                body: body(None, None, None),
                planted: Planted::Metadata,
            });
            continue;
        }
        let id = format!("crm_{i:05}");
        let planted = match (i % 10, email.is_some(), business.is_some()) {
            (_, false, _) => Planted::None,
            (0, _, _) => Planted::Override,
            (7, _, true) => Planted::Domain,
            (8, _, true) => Planted::Ambiguous,
            (9, _, _) => Planted::None,
            _ => Planted::Email,
        };
        match planted {
            Planted::Override => out.push(PlantedProfile {
                id,
                body: body(None, None, Some(cus)),
                planted,
            }),
            Planted::Email => out.push(PlantedProfile {
                id,
                body: body(email, None, None),
                planted,
            }),
            Planted::Domain => out.push(PlantedProfile {
                id,
                body: body(
                    business.as_ref().map(|d| format!("billing@{d}")),
                    business,
                    None,
                ),
                planted,
            }),
            Planted::Ambiguous => {
                for suffix in ["a", "b"] {
                    out.push(PlantedProfile {
                        id: format!("{id}{suffix}"),
                        body: body(
                            business.as_ref().map(|d| format!("team-{suffix}@{d}")),
                            business.clone(),
                            None,
                        ),
                        planted,
                    });
                }
            }
            Planted::Metadata | Planted::None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(id: &str, email: Option<&str>, meta: Option<&str>) -> Value {
        let mut c = json!({"id": id, "name": "N", "metadata": {}});
        if let Some(e) = email {
            c["email"] = json!(e);
        }
        if let Some(m) = meta {
            c["metadata"]["kustiq_profile_id"] = json!(m);
        }
        c
    }

    #[test]
    fn every_kind_of_match_is_planted_and_personal_domains_never_are() {
        let mut customers = Vec::new();
        for i in 0..40 {
            let email = if i % 2 == 0 {
                format!("u{i}@acme{i}.example")
            } else {
                format!("u{i}@gmail.com")
            };
            customers.push(customer(&format!("cus_{i}"), Some(&email), None));
        }
        customers.push(customer("cus_meta", Some("x@y.example"), Some("prof_0_7")));
        customers.push(customer("cus_none", None, None));
        let planted = plant(&customers);
        for kind in [
            Planted::Metadata,
            Planted::Override,
            Planted::Email,
            Planted::Domain,
            Planted::Ambiguous,
        ] {
            assert!(
                planted.iter().any(|p| p.planted == kind),
                "{kind:?} missing"
            );
        }
        for p in &planted {
            if matches!(p.planted, Planted::Domain | Planted::Ambiguous) {
                let d = p.body["domain"].as_str().unwrap_or("");
                assert!(!personal(d), "{d} planted as a business domain");
            }
        }
        assert!(planted.iter().any(|p| p.id == "prof_0_7"));
        let ambiguous = planted
            .iter()
            .filter(|p| p.planted == Planted::Ambiguous)
            .count();
        assert_eq!(ambiguous % 2, 0, "ambiguous profiles come in pairs");
    }
}
