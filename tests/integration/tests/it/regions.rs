//! Two regions, nothing crossing: samconfig's `eu` and `us` deploy two independent
//! stacks, and nothing one of them creates, points at or is configured with names the
//! other region.

use kustiq_tests::template::{Refused, Rendered, Template, sam_env};
use serde_json::Value;

/// `(samconfig env, AWS region, the other data region, the other AWS region)`.
const REGIONS: [(&str, &str, &str, &str); 2] = [
    ("eu", "eu-central-1", "us", "us-east-1"),
    ("us", "us-east-1", "eu", "eu-central-1"),
];

/// Every string value with the JSON path that holds it, descriptions aside (prose).
fn strings(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((path.to_owned(), s.clone())),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| strings(v, &format!("{path}[{i}]"), out)),
        Value::Object(m) => m
            .iter()
            .filter(|(k, _)| !k.ends_with("Description"))
            .for_each(|(k, v)| strings(v, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

/// Whether `s` names `data_region` (as a word: `kustiq-prod-us-sync`, `/kustiq/prod/us/`)
/// or `aws_region`.
fn names(s: &str, data_region: &str, aws_region: &str) -> bool {
    s.contains(aws_region)
        || s.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| word == data_region)
}

fn render(env: &str) -> Rendered {
    let sam = sam_env(env);
    Template::load()
        .render(&sam.parameters, &sam.aws_region)
        .unwrap_or_else(|e| panic!("samconfig {env} does not render: {e:?}"))
}

#[test]
fn each_region_s_stack_names_nothing_of_the_other_region() {
    for (env, aws_region, other, other_aws) in REGIONS {
        let sam = sam_env(env);
        assert_eq!(
            sam.aws_region, aws_region,
            "samconfig {env} deploys to {aws_region}"
        );
        assert_eq!(sam.parameters.get("Region").map(String::as_str), Some(env));
        let rendered = render(env);
        let mut all = vec![];
        for (id, r) in &rendered.resources {
            strings(r, id, &mut all);
        }
        strings(&rendered.outputs, "Outputs", &mut all);
        for (i, s) in sam.deploy_strings.iter().enumerate() {
            all.push((format!("samconfig {env} deploy[{i}]"), s.clone()));
        }
        all.push((
            format!("samconfig {env} stack_name"),
            sam.stack_name.clone(),
        ));
        let crossing: Vec<_> = all
            .iter()
            .filter(|(_, s)| names(s, other, other_aws))
            .collect();
        assert!(
            crossing.is_empty(),
            "the {env} stack names {other}: {crossing:#?}"
        );
        // And it does name its own region where a region belongs.
        let env_region = &rendered.resources["WebhookFunction"]["Globals"]["Environment"]["Variables"]
            ["KUSTIQ_REGION"];
        assert_eq!(env_region, env, "{env}: KUSTIQ_REGION");
    }
}

#[test]
fn the_two_stacks_share_no_name_and_no_secret() {
    let name_keys = [
        "FunctionName",
        "QueueName",
        "LogGroupName",
        "AliasName",
        "Name",
        "TopicName",
        "AlarmName",
    ];
    let names_of = |r: &Rendered| -> Vec<String> {
        r.resources
            .values()
            .flat_map(|res| {
                name_keys
                    .iter()
                    .filter_map(|k| res["Properties"][k].as_str().map(str::to_owned))
            })
            .collect()
    };
    let eu = names_of(&render("eu"));
    let us = names_of(&render("us"));
    assert!(eu.len() > 20, "{eu:?}");
    let shared: Vec<&String> = eu.iter().filter(|n| us.contains(n)).collect();
    assert!(shared.is_empty(), "named alike in both stacks: {shared:?}");
    assert_ne!(sam_env("eu").stack_name, sam_env("us").stack_name);
}

#[test]
fn a_region_s_parameters_aimed_at_the_other_aws_region_are_refused() {
    let t = Template::load();
    for (env, _, _, other_aws) in REGIONS {
        let sam = sam_env(env);
        let refused = t.render(&sam.parameters, other_aws).err();
        assert!(
            matches!(refused, Some(Refused::Rule(_))),
            "samconfig {env} deployed to {other_aws}: {refused:?}"
        );
    }
    // And without the rules, the region pin mapping still refuses it.
    let mut unruled = Template::load();
    if let Some(doc) = unruled.doc.as_object_mut() {
        doc.remove("Rules");
    }
    let refused = unruled.render(&sam_env("eu").parameters, "us-east-1").err();
    assert!(
        matches!(refused, Some(Refused::NoMapping(_))),
        "{refused:?}"
    );
}
