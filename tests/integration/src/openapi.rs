//! docs/openapi.yaml as the tests read it: which routes it lists, and whether a
//! response the tests captured validates against the schema the spec gives for
//! its route and status (the status's own response, else `default`).

use crate::Answer;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The parsed spec and the validators built from it so far.
pub struct Spec {
    doc: Value,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

/// The spec, read once per test process.
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: Value =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("docs/openapi.yaml: {e}"));
        Spec {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

/// Whether a concrete path's segment matches a template's (`{x}` matches any one segment).
fn segment_matches(template: &str, concrete: &str) -> bool {
    (template.starts_with('{') && template.ends_with('}')) || template == concrete
}

impl Spec {
    /// The OpenAPI version the spec declares.
    pub fn version(&self) -> &str {
        self.doc["openapi"].as_str().unwrap_or_default()
    }

    /// The spec's path templates.
    pub fn templates(&self) -> Vec<&str> {
        self.doc["paths"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether the spec lists `method template` (`GET`, `/api/v1/profiles/{profile_id}`).
    pub fn has(&self, method: &str, template: &str) -> bool {
        self.doc["paths"][template][method.to_ascii_lowercase()].is_object()
    }

    /// The template a concrete path (query string ignored) belongs to; literal
    /// segments win over parameters.
    pub fn template_of(&self, path: &str) -> Option<&str> {
        let path = path.split('?').next().unwrap_or_default();
        let concrete: Vec<&str> = path.split('/').collect();
        self.templates()
            .into_iter()
            .filter(|t| {
                let parts: Vec<&str> = t.split('/').collect();
                parts.len() == concrete.len()
                    && parts
                        .iter()
                        .zip(&concrete)
                        .all(|(t, c)| segment_matches(t, c))
            })
            .max_by_key(|t| t.split('/').filter(|s| !s.starts_with('{')).count())
    }

    /// The JSON schema of `method template`'s `status` response, or `None`
    /// when that response has no JSON body (a redirect, a 204).
    fn response_schema(
        &self,
        method: &str,
        template: &str,
        status: u16,
    ) -> Result<Option<Value>, String> {
        let op = &self.doc["paths"][template][method.to_ascii_lowercase()];
        if !op.is_object() && status == 405 {
            // A method the path does not serve: the error body.
            return Ok(Some(json!({"$ref": "#/components/schemas/Error"})));
        }
        if !op.is_object() {
            return Err(format!("docs/openapi.yaml has no {method} {template}"));
        }
        let responses = &op["responses"];
        let mut response = match &responses[status.to_string()] {
            Value::Null => responses["default"].clone(),
            r => r.clone(),
        };
        if response.is_null() {
            return Err(format!(
                "{method} {template}: status {status} is not documented (and no default)"
            ));
        }
        if let Some(r) = response["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap_or_default();
            response = self.doc["components"]["responses"][name].clone();
        }
        Ok(response["content"]["application/json"]
            .get("schema")
            .cloned())
    }

    fn validator(&self, key: &str, schema: Value) -> std::sync::Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(key.to_owned())
            .or_insert_with(|| {
                // Component refs (`#/components/schemas/…`) resolve inside this root.
                let mut root = json!({"allOf": [schema]});
                root["components"] = self.doc["components"].clone();
                std::sync::Arc::new(
                    jsonschema::draft202012::new(&root)
                        .unwrap_or_else(|e| panic!("schema of {key} compiles: {e}")),
                )
            })
            .clone()
    }

    /// Checks one captured response: its route and status are documented and
    /// its body validates against the documented schema. Violations as lines.
    pub fn check(&self, method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
        let template = self
            .template_of(path)
            .ok_or_else(|| format!("docs/openapi.yaml has no path matching {path}"))?;
        let Some(schema) = self.response_schema(method, template, status)? else {
            return Ok(());
        };
        let key = format!("{method} {template} {status}");
        let v = self.validator(&key, schema);
        let errors: Vec<String> = v
            .iter_errors(body)
            .map(|e| {
                let m: String = e.to_string().chars().take(200).collect();
                format!("{key}{} @ {}: {m}", e.instance_path(), e.schema_path())
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }
}

/// Asserts `answer` (to `method path`) conforms to docs/openapi.yaml.
#[track_caller]
pub fn assert_conforms(method: &str, path: &str, answer: &Answer) {
    if let Err(e) = spec().check(method, path, answer.status, &answer.body) {
        panic!(
            "{method} {path} answered {} not as docs/openapi.yaml says:\n{e}\nbody: {}",
            answer.status, answer.body
        );
    }
}
