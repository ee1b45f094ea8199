//! The API reference lists every route the dispatcher serves.

const ROUTES: [&str; 17] = [
    "/webhooks/stripe:",
    "/webhooks/stripe/c/{connection_id}:",
    "/api/v1/integrations/stripe/connect:",
    "/api/v1/integrations/stripe/oauth/callback:",
    "/api/v1/integrations/stripe/api-key:",
    "/api/v1/integrations/stripe/webhook-secret:",
    "/api/v1/integrations/stripe/erase:",
    "/api/v1/integrations/stripe:",
    "/api/v1/integrations/stripe/sync:",
    "/api/v1/integrations/stripe/backfill:",
    "/api/v1/integrations/stripe/matches:",
    "/api/v1/integrations/stripe/customer-mapping/{profile_id}:",
    "/api/v1/integrations/stripe/rematch:",
    "/api/v1/integrations/stripe/failed-events/{event_id}/replay:",
    "/api/v1/profiles/{profile_id}:",
    "/api/v1/profiles/{profile_id}/churn:",
    "/api/v1/churn/at-risk:",
];

#[test]
fn openapi_documents_every_served_route() {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.yaml"
    ))
    .unwrap_or_else(|e| panic!("docs/openapi.yaml: {e}"));
    for route in ROUTES {
        assert!(
            spec.lines().any(|l| l.trim() == route),
            "docs/openapi.yaml lacks {route}"
        );
    }
}

fn errors_md() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md"))
        .unwrap_or_else(|e| panic!("docs/errors.md: {e}"))
}

/// The cells of the table row whose first cell is `` `key` ``.
fn row(doc: &str, key: &str) -> Option<Vec<String>> {
    doc.lines().find_map(|l| {
        let cells: Vec<String> = l.split('|').map(|c| c.trim().to_owned()).collect();
        (cells.len() > 3 && cells[1] == format!("`{key}`")).then_some(cells)
    })
}

#[test]
fn errors_md_gives_every_code_the_status_it_answers_with() {
    let doc = errors_md();
    for code in kustiq::domain::error_code::ErrorCode::ALL {
        let cells = row(&doc, code.as_str())
            .unwrap_or_else(|| panic!("docs/errors.md has no row for {}", code.as_str()));
        assert_eq!(
            cells[2],
            kustiq::http::error::status(code).to_string(),
            "docs/errors.md: the HTTP status of {}",
            code.as_str()
        );
    }
}

#[test]
fn errors_md_lists_every_limit_with_its_value() {
    use kustiq::domain::limits as l;
    let doc = errors_md();
    let limits: [(&str, String); 14] = [
        ("MAX_PROFILE_BYTES", l::MAX_PROFILE_BYTES.to_string()),
        ("MAX_BATCH_BYTES", l::MAX_BATCH_BYTES.to_string()),
        ("MAX_BATCH", l::MAX_BATCH.to_string()),
        ("MAX_EMAIL", l::MAX_EMAIL.to_string()),
        ("MAX_DOMAIN", l::MAX_DOMAIN.to_string()),
        ("MAX_NAME", l::MAX_NAME.to_string()),
        (
            "MAX_FACTORS_PER_FAMILY",
            l::MAX_FACTORS_PER_FAMILY.to_string(),
        ),
        ("MAX_FACTORS", l::MAX_FACTORS.to_string()),
        ("MAX_SIGNAL", l::MAX_SIGNAL.to_string()),
        ("MAX_EXPLANATION", l::MAX_EXPLANATION.to_string()),
        ("MAX_EVIDENCE", l::MAX_EVIDENCE.to_string()),
        ("MAX_EVIDENCE_ID", l::MAX_EVIDENCE_ID.to_string()),
        ("MAX_IMPACT", l::MAX_IMPACT.to_string()),
        ("MAX_CLASSIFIER", l::MAX_CLASSIFIER.to_string()),
    ];
    for (name, value) in limits {
        let cells =
            row(&doc, name).unwrap_or_else(|| panic!("docs/errors.md has no row for {name}"));
        assert_eq!(cells[2], value, "docs/errors.md: the value of {name}");
    }
}
