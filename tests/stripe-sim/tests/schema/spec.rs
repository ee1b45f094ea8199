//! Stripe's OpenAPI component schemas (`schemas/openapi-spec3-subset.json`, API 2020-08-27) as
//! JSON Schema, with the later API changes the simulator renders listed in [`DELTAS`].
//!
//! OpenAPI 3.0 is not JSON Schema: `nullable: true` becomes `anyOf: [null, schema]`, `$ref`s
//! point into `$defs`, and the `x-*` annotations are dropped. Nothing else is loosened: every
//! schema keeps its `required`, `enum`, `type`, `maxLength` and `additionalProperties`.

use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The vendored spec subset (see `schemas/README.md`).
const SPEC: &str = include_str!("../../schemas/openapi-spec3-subset.json");

/// One documented change between the 2020-08-27 spec and a later API version.
pub struct Delta {
    /// First API version (date) that has it.
    pub since: &'static str,
    /// Component schema it changes.
    pub schema: &'static str,
    /// What changes.
    pub change: Change,
    /// Where Stripe documents it.
    pub why: &'static str,
}

/// A change to one component schema.
pub enum Change {
    /// A value joins a property's enum.
    AddEnum(&'static str, &'static str),
    /// Properties that later versions no longer send: dropped from `required` and rejected.
    Removed(&'static [&'static str]),
    /// A property that later versions add; `true` when it is always present.
    Added(&'static str, fn() -> Value, bool),
    /// A whole component schema the 2020 spec does not have.
    NewSchema(fn() -> Value),
}

const BASIL: &str = "2025-03-31";

/// Every delta applied, oldest first. Only these differ from Stripe's published spec.
pub const DELTAS: &[Delta] = &[
    Delta {
        since: "2020-08-27",
        schema: "subscription",
        change: Change::AddEnum("status", "paused"),
        why: "docs.stripe.com/billing/subscriptions/trials: a trial ending without a payment method pauses the subscription (additive, every version)",
    },
    Delta {
        since: "2022-11-15",
        schema: "charge",
        change: Change::Removed(&["refunds"]),
        why: "changelog 2022-11-15: charges no longer include `refunds`",
    },
    Delta {
        since: BASIL,
        schema: "subscription",
        change: Change::Removed(&["current_period_start", "current_period_end", "discount"]),
        why: "changelog basil: current_period_* move to subscription items; the singular `discount` gives way to `discounts`",
    },
    Delta {
        since: BASIL,
        schema: "subscription",
        change: Change::Added("discounts", discount_ids, true),
        why: "changelog basil: `discounts` lists discount ids (expand[]=discounts for objects)",
    },
    Delta {
        since: BASIL,
        schema: "subscription_item",
        change: Change::Added("current_period_start", timestamp, true),
        why: "changelog basil 2025-03-31/deprecate-subscription-current-period-start-and-end",
    },
    Delta {
        since: BASIL,
        schema: "subscription_item",
        change: Change::Added("current_period_end", timestamp, true),
        why: "changelog basil 2025-03-31/deprecate-subscription-current-period-start-and-end",
    },
    Delta {
        since: BASIL,
        schema: "subscription_item",
        change: Change::Added("discounts", discount_ids, true),
        why: "changelog basil: subscription items carry their own `discounts`",
    },
    Delta {
        since: BASIL,
        schema: "invoice",
        change: Change::Removed(&[
            "charge",
            "paid",
            "paid_out_of_band",
            "payment_intent",
            "subscription",
            "discount",
        ]),
        why: "changelog basil 2025-03-31/add-support-for-multiple-partial-payments-on-invoices and adds-new-parent-field-to-invoicing-objects",
    },
    Delta {
        since: BASIL,
        schema: "invoice",
        change: Change::Added("parent", invoice_parent, true),
        why: "changelog basil 2025-03-31/adds-new-parent-field-to-invoicing-objects",
    },
    Delta {
        since: BASIL,
        schema: "invoice",
        change: Change::Added("payments", invoice_payments, false),
        why: "changelog basil: invoice payments, included with expand[]=payments",
    },
    Delta {
        since: BASIL,
        schema: "line_item",
        change: Change::Removed(&[
            "price",
            "plan",
            "type",
            "proration",
            "proration_details",
            "subscription",
            "subscription_item",
            "invoice_item",
            "tax_amounts",
        ]),
        why: "changelog basil 2025-03-31/invoice-pricing-configurations and adds-new-parent-field-to-invoicing-objects",
    },
    Delta {
        since: BASIL,
        schema: "line_item",
        change: Change::Added("pricing", line_pricing, true),
        why: "changelog basil 2025-03-31/invoice-pricing-configurations",
    },
    Delta {
        since: BASIL,
        schema: "line_item",
        change: Change::Added("parent", line_parent, true),
        why: "changelog basil 2025-03-31/adds-new-parent-field-to-invoicing-objects",
    },
    Delta {
        since: BASIL,
        schema: "charge",
        change: Change::Removed(&["invoice"]),
        why: "changelog basil: the `invoice` field is removed from Charge and PaymentIntent",
    },
    Delta {
        since: BASIL,
        schema: "invoice_payment",
        change: Change::NewSchema(invoice_payment),
        why: "API reference: the Invoice Payment object (basil)",
    },
];

fn timestamp() -> Value {
    json!({"type": "integer"})
}

fn discount_ids() -> Value {
    json!({"type": "array", "items": {"anyOf": [
        {"type": "string", "maxLength": 5000},
        {"$ref": "#/components/schemas/discount"}
    ]}})
}

fn invoice_parent() -> Value {
    json!({"nullable": true, "type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["quote_details", "subscription_details"]},
        "quote_details": {"nullable": true, "type": "object"},
        "subscription_details": {"nullable": true, "type": "object", "required": ["subscription"], "properties": {
            "metadata": {"nullable": true, "type": "object", "additionalProperties": {"type": "string", "maxLength": 500}},
            "subscription": {"anyOf": [{"type": "string", "maxLength": 5000}, {"$ref": "#/components/schemas/subscription"}]}
        }}
    }})
}

fn invoice_payments() -> Value {
    json!({"type": "object", "required": ["data", "has_more", "object", "url"], "properties": {
        "data": {"type": "array", "items": {"$ref": "#/components/schemas/invoice_payment"}},
        "has_more": {"type": "boolean"},
        "object": {"type": "string", "enum": ["list"]},
        "url": {"type": "string", "maxLength": 5000}
    }})
}

fn line_pricing() -> Value {
    json!({"nullable": true, "type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["price_details"]},
        "price_details": {"type": "object", "required": ["price", "product"], "properties": {
            "price": {"anyOf": [{"type": "string", "maxLength": 5000}, {"$ref": "#/components/schemas/price"}]},
            "product": {"type": "string", "maxLength": 5000}
        }},
        "unit_amount_decimal": {"nullable": true, "type": "string", "format": "decimal"}
    }})
}

fn line_parent() -> Value {
    json!({"nullable": true, "type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["invoice_item_details", "subscription_item_details"]},
        "invoice_item_details": {"nullable": true, "type": "object"},
        "subscription_item_details": {"nullable": true, "type": "object", "required": ["proration", "subscription_item"], "properties": {
            "invoice_item": {"nullable": true, "type": "string", "maxLength": 5000},
            "proration": {"type": "boolean"},
            "subscription": {"nullable": true, "type": "string", "maxLength": 5000},
            "subscription_item": {"type": "string", "maxLength": 5000}
        }}
    }})
}

fn invoice_payment() -> Value {
    json!({"type": "object", "required": [
        "amount_paid", "amount_requested", "created", "currency", "id", "invoice", "is_default",
        "livemode", "object", "payment", "status", "status_transitions"
    ], "properties": {
        "amount_paid": {"nullable": true, "type": "integer"},
        "amount_requested": {"type": "integer"},
        "created": {"type": "integer"},
        "currency": {"type": "string", "maxLength": 5000},
        "id": {"type": "string", "maxLength": 5000},
        "invoice": {"anyOf": [{"type": "string", "maxLength": 5000}, {"$ref": "#/components/schemas/invoice"}]},
        "is_default": {"type": "boolean"},
        "livemode": {"type": "boolean"},
        "object": {"type": "string", "enum": ["invoice_payment"]},
        "payment": {"type": "object", "required": ["type"], "properties": {
            "type": {"type": "string", "enum": ["charge", "payment_intent", "payment_record"]},
            "charge": {"anyOf": [{"type": "string", "maxLength": 5000}, {"$ref": "#/components/schemas/charge"}]},
            "payment_intent": {"type": "string", "maxLength": 5000}
        }},
        "status": {"type": "string", "enum": ["canceled", "open", "paid"]},
        "status_transitions": {"type": "object", "properties": {
            "canceled_at": {"nullable": true, "type": "integer"},
            "paid_at": {"nullable": true, "type": "integer"}
        }}
    }})
}

/// The spec with the deltas up to `version` applied, in OpenAPI form.
fn patched(version: &str) -> Value {
    let mut spec: Value = serde_json::from_str(SPEC).expect("the vendored spec is JSON");
    let schemas = &mut spec["components"]["schemas"];
    for d in DELTAS.iter().filter(|d| d.since <= version) {
        if let Change::NewSchema(f) = &d.change {
            schemas[d.schema] = f();
            continue;
        }
        let s = schemas
            .get_mut(d.schema)
            .unwrap_or_else(|| panic!("delta on unknown schema {}", d.schema));
        match &d.change {
            Change::AddEnum(prop, value) => {
                let e = s["properties"][*prop]["enum"]
                    .as_array_mut()
                    .expect("an enum");
                e.push(json!(value));
            }
            Change::Removed(props) => {
                if let Some(req) = s["required"].as_array_mut() {
                    req.retain(|r| !props.iter().any(|p| r == p));
                }
                let forbidden: Vec<Value> =
                    props.iter().map(|p| json!({"required": [p]})).collect();
                let not = json!({"not": {"anyOf": forbidden}});
                let all = s
                    .as_object_mut()
                    .expect("an object schema")
                    .entry("allOf")
                    .or_insert_with(|| json!([]));
                all.as_array_mut().expect("allOf").push(not);
            }
            Change::Added(prop, f, required) => {
                s["properties"][*prop] = f();
                if *required {
                    s["required"]
                        .as_array_mut()
                        .expect("required")
                        .push(json!(prop));
                }
            }
            Change::NewSchema(_) => {}
        }
    }
    spec
}

/// OpenAPI 3.0 schema → JSON Schema 2020-12.
fn convert(schema: &Value) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        match k.as_str() {
            k if k.starts_with("x-") || k == "nullable" => {}
            "$ref" => {
                let r = v.as_str().unwrap_or("");
                out.insert(
                    k.clone(),
                    json!(r.replace("#/components/schemas/", "#/$defs/")),
                );
            }
            "properties" => {
                let props = v
                    .as_object()
                    .map(|m| m.iter().map(|(n, s)| (n.clone(), convert(s))).collect())
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" | "not" => {
                out.insert(k.clone(), convert(v));
            }
            "anyOf" | "oneOf" | "allOf" => {
                let list = v.as_array().map(|a| a.iter().map(convert).collect());
                out.insert(k.clone(), Value::Array(list.unwrap_or_default()));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if obj.get("nullable") == Some(&Value::Bool(true)) {
        json!({"anyOf": [{"type": "null"}, Value::Object(out)]})
    } else {
        Value::Object(out)
    }
}

/// One violation as `what/instance/path @ schema/path: message`, the message cut short (it
/// quotes the whole offending value).
fn violation(what: &str, e: &jsonschema::ValidationError<'_>) -> String {
    let message: String = e.to_string().chars().take(160).collect();
    format!(
        "{what}{} @ {}: {message}",
        e.instance_path(),
        e.schema_path()
    )
}

/// Validators for one API version, built on first use per object type.
pub struct Schemas {
    defs: Value,
    lists: Value,
    cache: HashMap<String, jsonschema::Validator>,
}

impl Schemas {
    /// Schemas as of `version` (an API version date such as `2024-06-20`).
    pub fn for_version(version: &str) -> Self {
        let spec = patched(version);
        let defs: Map<String, Value> = spec["components"]["schemas"]
            .as_object()
            .expect("component schemas")
            .iter()
            .map(|(k, v)| (k.clone(), convert(v)))
            .collect();
        Self {
            defs: Value::Object(defs),
            lists: spec["lists"].clone(),
            cache: HashMap::new(),
        }
    }

    fn validator(
        &mut self,
        key: &str,
        schema: impl FnOnce(&Self) -> Value,
    ) -> &jsonschema::Validator {
        if !self.cache.contains_key(key) {
            let mut root = schema(self);
            root["$defs"] = self.defs.clone();
            let v = jsonschema::draft202012::new(&root)
                .unwrap_or_else(|e| panic!("schema for {key} compiles: {e}"));
            self.cache.insert(key.to_owned(), v);
        }
        &self.cache[key]
    }

    /// Violations of `value` against component schema `name`, as `path: message` lines.
    pub fn check(&mut self, name: &str, value: &Value) -> Vec<String> {
        assert!(
            self.defs.get(name).is_some(),
            "no schema named {name} in the spec"
        );
        let v = self.validator(name, |_| json!({"$ref": format!("#/$defs/{name}")}));
        v.iter_errors(value).map(|e| violation(name, &e)).collect()
    }

    /// Violations of a list envelope of `path` (`/v1/invoices`): the spec's own list schema,
    /// or for lists the subset does not describe, the same envelope around `item`.
    pub fn check_list(&mut self, path: &str, item: &str, value: &Value) -> Vec<String> {
        let lists = self.lists.clone();
        let v = self.validator(&format!("list {path}"), |_| {
            let list = lists.get(path).cloned().unwrap_or_else(|| {
                json!({"type": "object", "required": ["data", "has_more", "object", "url"], "properties": {
                    "data": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
                    "has_more": {"type": "boolean"},
                    "object": {"type": "string", "enum": ["list"]},
                    "url": {"type": "string", "maxLength": 5000, "pattern": format!("^{path}")}
                }})
            });
            convert(&list)
        });
        v.iter_errors(value)
            .map(|e| violation(&format!("list {path}"), &e))
            .collect()
    }
}
