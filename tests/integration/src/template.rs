//! infra/template.yaml and samconfig.toml as the template and region tests read them:
//! CloudFormation's short tags (`!Ref`, `!Sub` …) in their long JSON form, each
//! function's routes, schedules and policy statements, and a renderer that resolves
//! the intrinsics for one parameter set and AWS region, as CloudFormation would.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// A file of the workspace as text.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A YAML document as JSON, CloudFormation short tags in long form
/// (`!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`).
pub fn yaml(text: &str, what: &str) -> Value {
    let doc: serde_norway::Value =
        serde_norway::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    long_form(doc)
}

fn long_form(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(long_form).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_norway::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_owned(),
                    };
                    (key, long_form(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let value = long_form(t.value);
            match tag {
                "Ref" | "Condition" => json!({ tag: value }),
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (res, attr) = s.split_once('.').unwrap_or((&s, ""));
                        json!({"Fn::GetAtt": [res, attr]})
                    }
                    other => json!({"Fn::GetAtt": other}),
                },
                other => json!({ format!("Fn::{other}"): value }),
            }
        }
    }
}

/// The template, parsed, with its raw text (comments live only there).
pub struct Template {
    /// The document in long form.
    pub doc: Value,
    /// The text.
    pub raw: String,
}

/// One `AWS::Serverless::Function` of the template.
#[derive(Debug, Clone)]
pub struct Function {
    /// Its logical id (`WebhookFunction`).
    pub logical_id: String,
    /// The cargo binary it deploys (`kustiq-webhook`).
    pub binary: String,
    /// `(METHOD, path, authorized by the JWT authorizer)` of its HttpApi events.
    pub routes: Vec<(String, String, bool)>,
    /// `(schedule expression, kustiq_task, has a dead-letter queue)` of its ScheduleV2 events.
    pub schedules: Vec<(String, String, bool)>,
    /// Its other event sources' types (SQS …).
    pub other_events: Vec<String>,
    /// Every IAM statement of its inline policies.
    pub statements: Vec<Value>,
    /// Its properties.
    pub properties: Value,
}

impl Template {
    /// infra/template.yaml.
    pub fn load() -> Self {
        let raw = read("infra/template.yaml");
        Self {
            doc: yaml(&raw, "infra/template.yaml"),
            raw,
        }
    }

    /// The resources by logical id.
    pub fn resources(&self) -> &Map<String, Value> {
        self.doc["Resources"]
            .as_object()
            .unwrap_or_else(|| panic!("template has no Resources"))
    }

    /// Every serverless function.
    pub fn functions(&self) -> Vec<Function> {
        self.resources()
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
            .map(|(id, r)| {
                let props = &r["Properties"];
                let mut f = Function {
                    logical_id: id.clone(),
                    binary: r["Metadata"]["BuildProperties"]["Binary"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    routes: vec![],
                    schedules: vec![],
                    other_events: vec![],
                    statements: vec![],
                    properties: props.clone(),
                };
                for event in props["Events"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|e| e.1)
                {
                    let p = &event["Properties"];
                    match event["Type"].as_str().unwrap_or_default() {
                        "HttpApi" => f.routes.push((
                            p["Method"].as_str().unwrap_or_default().to_uppercase(),
                            p["Path"].as_str().unwrap_or_default().to_owned(),
                            p["Auth"]["Authorizer"] != "NONE",
                        )),
                        "ScheduleV2" => {
                            let input: Value =
                                serde_json::from_str(p["Input"].as_str().unwrap_or("null"))
                                    .unwrap_or(Value::Null);
                            f.schedules.push((
                                p["ScheduleExpression"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .to_owned(),
                                input["kustiq_task"].as_str().unwrap_or_default().to_owned(),
                                !p["DeadLetterConfig"].is_null(),
                            ));
                        }
                        other => f.other_events.push(other.to_owned()),
                    }
                }
                for policy in props["Policies"].as_array().into_iter().flatten() {
                    f.statements.extend(
                        policy["Statement"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .cloned(),
                    );
                }
                f
            })
            .collect()
    }

    /// Every IAM statement anywhere in the template (function policies, key and queue policies).
    pub fn all_statements(&self) -> Vec<Value> {
        fn walk(v: &Value, out: &mut Vec<Value>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::Array(s)) = m.get("Statement") {
                        out.extend(s.iter().cloned());
                    }
                    m.values().for_each(|v| walk(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = vec![];
        walk(&self.doc["Resources"], &mut out);
        out
    }

    /// The comment lines directly above each line `- Sid: <sid>` (one entry per occurrence).
    pub fn comments_above_sid(&self, sid: &str) -> Vec<Vec<String>> {
        let lines: Vec<&str> = self.raw.lines().collect();
        let mut found = vec![];
        for (i, line) in lines.iter().enumerate() {
            if line.trim() == format!("- Sid: {sid}") {
                let comments = lines[..i]
                    .iter()
                    .rev()
                    .take_while(|l| l.trim_start().starts_with('#'))
                    .map(|l| l.trim().to_owned())
                    .collect();
                found.push(comments);
            }
        }
        found
    }
}

/// The strings of a statement's `Action` or `Resource` (a string or a list; intrinsics
/// in their JSON text, so a `*` inside a `!Sub` shows).
pub fn strings_of(v: &Value) -> Vec<String> {
    match v {
        Value::Null => vec![],
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings_of).collect(),
        other => vec![other.to_string()],
    }
}

/// One samconfig environment (`eu`, `us`): its AWS region and deploy parameters.
#[derive(Debug, Clone)]
pub struct SamEnv {
    /// `[<env>.global.parameters] region`.
    pub aws_region: String,
    /// `stack_name`.
    pub stack_name: String,
    /// Every deploy parameter value (parameter_overrides, tags, s3_prefix), for the cross-region check.
    pub deploy_strings: Vec<String>,
    /// `parameter_overrides`, parsed.
    pub parameters: BTreeMap<String, String>,
}

/// `samconfig.toml`'s `env` section.
pub fn sam_env(env: &str) -> SamEnv {
    let doc: toml_edit::DocumentMut = read("samconfig.toml")
        .parse()
        .unwrap_or_else(|e| panic!("samconfig.toml: {e}"));
    let text = |table: &str, key: &str| -> String {
        doc.get(env)
            .and_then(|t| t.get(table))
            .and_then(|t| t.get("parameters"))
            .and_then(|t| t.get(key))
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("samconfig.toml has no [{env}.{table}.parameters] {key}"))
            .to_owned()
    };
    let overrides = text("deploy", "parameter_overrides");
    SamEnv {
        aws_region: text("global", "region"),
        stack_name: text("global", "stack_name"),
        deploy_strings: vec![
            overrides.clone(),
            text("deploy", "tags"),
            text("deploy", "s3_prefix"),
        ],
        parameters: pairs(&overrides),
    }
}

/// `Key="value" Other="v w"` (SAM's parameter_overrides syntax) as a map.
fn pairs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .unwrap_or_else(|| panic!("parameter_overrides: no '=' in {rest:?}"));
        let after = after.trim_start();
        let (value, tail) = match after.strip_prefix('"') {
            Some(q) => q
                .split_once('"')
                .unwrap_or_else(|| panic!("parameter_overrides: unclosed quote in {after:?}")),
            None => after.split_once(' ').unwrap_or((after, "")),
        };
        out.insert(key.trim().to_owned(), value.to_owned());
        rest = tail.trim_start();
    }
    out
}

/// Why a parameter set does not deploy where it was aimed.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// A rule's assertion failed.
    Rule(String),
    /// `Fn::FindInMap` had no entry (the region pin mapping).
    NoMapping(String),
    /// A required parameter has no value.
    MissingParameter(String),
}

/// The template rendered for one stack: parameters and pseudo parameters substituted,
/// conditions decided, resources whose condition is false dropped.
pub struct Rendered {
    /// `Resources` with every intrinsic resolved.
    pub resources: Map<String, Value>,
    /// `Outputs`, resolved.
    pub outputs: Value,
}

struct Ctx<'a> {
    doc: &'a Value,
    params: BTreeMap<String, String>,
    aws_region: &'a str,
}

const ACCOUNT: &str = "123456789012";

impl Ctx<'_> {
    fn condition(&self, name: &str) -> Result<bool, Refused> {
        let c = &self.doc["Conditions"][name];
        self.truth(c)
    }

    fn truth(&self, c: &Value) -> Result<bool, Refused> {
        if let Some(args) = c.get("Fn::Equals") {
            let a = self.eval(&args[0])?;
            let b = self.eval(&args[1])?;
            return Ok(a == b);
        }
        if let Some(args) = c.get("Fn::Not") {
            return Ok(!self.truth(&args[0])?);
        }
        if let Some(name) = c.get("Condition").and_then(Value::as_str) {
            return self.condition(name);
        }
        panic!("unsupported condition {c}")
    }

    fn reference(&self, name: &str) -> Result<Value, Refused> {
        if let Some(v) = self.params.get(name) {
            return Ok(Value::String(v.clone()));
        }
        Ok(Value::String(match name {
            "AWS::Region" => self.aws_region.to_owned(),
            "AWS::AccountId" => ACCOUNT.to_owned(),
            "AWS::Partition" => "aws".to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".to_owned(),
            "AWS::StackName" => "stack".to_owned(),
            _ if self.doc["Resources"].get(name).is_some() => {
                format!("{name}-physical-id")
            }
            _ => return Err(Refused::MissingParameter(name.to_owned())),
        }))
    }

    fn get_att(&self, resource: &str, attr: &str) -> String {
        let kind = self.doc["Resources"][resource]["Type"]
            .as_str()
            .unwrap_or_default()
            .split("::")
            .nth(1)
            .unwrap_or("resource")
            .to_lowercase();
        format!(
            "arn:aws:{kind}:{}:{ACCOUNT}:{resource}/{attr}",
            self.aws_region
        )
    }

    fn sub(&self, text: &str, vars: &Map<String, Value>) -> Result<String, Refused> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            let name = &rest[start + 2..start + end];
            let value = if let Some(v) = vars.get(name) {
                self.eval(v)?
            } else if let Some((res, attr)) = name.split_once('.') {
                Value::String(self.get_att(res, attr))
            } else {
                self.reference(name)?
            };
            out.push_str(value.as_str().unwrap_or_default());
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn eval(&self, v: &Value) -> Result<Value, Refused> {
        match v {
            Value::Array(a) => a.iter().map(|v| self.eval(v)).collect(),
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().unwrap_or_else(|| unreachable!());
                match k.as_str() {
                    "Ref" => self.reference(arg.as_str().unwrap_or_default()),
                    "Fn::GetAtt" => Ok(Value::String(self.get_att(
                        arg[0].as_str().unwrap_or_default(),
                        arg[1].as_str().unwrap_or_default(),
                    ))),
                    "Fn::Sub" => match arg {
                        Value::String(s) => Ok(Value::String(self.sub(s, &Map::new())?)),
                        Value::Array(a) => Ok(Value::String(self.sub(
                            a[0].as_str().unwrap_or_default(),
                            a[1].as_object().unwrap_or(&Map::new()),
                        )?)),
                        other => panic!("unsupported Fn::Sub {other}"),
                    },
                    "Fn::If" => {
                        let which = if self.condition(arg[0].as_str().unwrap_or_default())? {
                            &arg[1]
                        } else {
                            &arg[2]
                        };
                        self.eval(which)
                    }
                    "Fn::FindInMap" => {
                        let path: Vec<Value> = arg
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|p| self.eval(p))
                            .collect::<Result<_, _>>()?;
                        let keys: Vec<&str> = path
                            .iter()
                            .map(|p| p.as_str().unwrap_or_default())
                            .collect();
                        let found = &self.doc["Mappings"][keys[0]][keys[1]][keys[2]];
                        if found.is_null() {
                            return Err(Refused::NoMapping(keys.join("/")));
                        }
                        Ok(found.clone())
                    }
                    "Fn::Join" => {
                        let parts = self.eval(&arg[1])?;
                        let parts: Vec<String> = strings_of(&parts);
                        Ok(Value::String(
                            parts.join(arg[0].as_str().unwrap_or_default()),
                        ))
                    }
                    "Fn::Not" | "Fn::Equals" => Ok(Value::Bool(self.truth(v)?)),
                    _ => Ok(Value::Object(
                        m.iter()
                            .map(|(k, v)| Ok((k.clone(), self.eval(v)?)))
                            .collect::<Result<_, Refused>>()?,
                    )),
                }
            }
            Value::Object(m) => Ok(Value::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), self.eval(v)?)))
                    .collect::<Result<_, Refused>>()?,
            )),
            other => Ok(other.clone()),
        }
    }
}

impl Template {
    /// Renders the stack for `parameters` in `aws_region`, or says why CloudFormation
    /// would refuse it (a rule, the region pin mapping, a missing parameter).
    pub fn render(
        &self,
        parameters: &BTreeMap<String, String>,
        aws_region: &str,
    ) -> Result<Rendered, Refused> {
        let mut params = BTreeMap::new();
        for (name, decl) in self.doc["Parameters"].as_object().into_iter().flatten() {
            let value = parameters
                .get(name)
                .cloned()
                .or_else(|| match &decl["Default"] {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                })
                .ok_or_else(|| Refused::MissingParameter(name.clone()))?;
            params.insert(name.clone(), value);
        }
        let ctx = Ctx {
            doc: &self.doc,
            params,
            aws_region,
        };
        for (name, rule) in self.doc["Rules"].as_object().into_iter().flatten() {
            if !rule["RuleCondition"].is_null() && !ctx.truth(&rule["RuleCondition"])? {
                continue;
            }
            for assertion in rule["Assertions"].as_array().into_iter().flatten() {
                if !ctx.truth(&assertion["Assert"])? {
                    return Err(Refused::Rule(name.clone()));
                }
            }
        }
        let mut resources = Map::new();
        for (id, r) in self.resources() {
            if let Some(c) = r["Condition"].as_str()
                && !ctx.condition(c)?
            {
                continue;
            }
            resources.insert(id.clone(), ctx.eval(r)?);
        }
        // Globals apply to every function: rendered once per function, as SAM merges them.
        let globals = ctx.eval(&self.doc["Globals"])?;
        for r in resources.values_mut() {
            if r["Type"] == "AWS::Serverless::Function" {
                r["Globals"] = globals["Function"].clone();
            }
        }
        Ok(Rendered {
            resources,
            outputs: ctx.eval(&self.doc["Outputs"])?,
        })
    }
}
