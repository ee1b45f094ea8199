//! `kustiq-local demo`, the README's first command, in-process: a simulated account is
//! connected through OAuth, backfilled, matched and run through simulated days of signed
//! webhooks and nightly syncs; the segment it prints cites Stripe evidence and puts the
//! profile whose payments failed twice during those days on top.

use kustiq_local::demo::{DemoArgs, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_puts_the_profile_with_two_new_failed_payments_on_top_and_cites_stripe_evidence() {
    let summary = run(DemoArgs {
        customers: 60,
        days: 4,
        seed: 7,
        serve: false,
        port: 0,
        data_dir: None,
        years: 1,
    })
    .await
    .unwrap_or_else(|e| panic!("demo: {e}"));

    assert!(
        summary.backfilled > 60,
        "backfill read {} objects",
        summary.backfilled
    );
    let count = |status: &str| {
        summary
            .matches
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n)
    };
    assert!(
        count("matched") > count("review") + count("unmatched"),
        "{:?}",
        summary.matches
    );
    assert!(
        count("review") > 0,
        "ambiguous domains go to review: {:?}",
        summary.matches
    );
    let (delivered, refused) = summary.webhooks;
    assert!(delivered > 0, "the simulated days sent webhooks");
    assert_eq!(refused, 0, "every signed webhook was accepted");

    let (profile, failures, rank) = summary
        .victim
        .clone()
        .unwrap_or_else(|| panic!("no matched customer with a live subscription was picked"));
    assert_eq!(failures, 2);
    assert_eq!(
        rank,
        Some(1),
        "{profile} should top the segment: {:?}",
        summary.segment
    );
    let top = &summary.segment[0];
    assert!(
        top.evidence
            .iter()
            .any(|e| e.starts_with("in_") || e.starts_with("ch_")),
        "the top profile's factors cite Stripe invoices or charges: {:?}",
        top.evidence
    );
    let cited = summary
        .segment
        .iter()
        .filter(|r| r.evidence.iter().any(|e| e.contains('_')))
        .count();
    assert!(
        cited >= 3,
        "several rows cite Stripe evidence: {:?}",
        summary.segment
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_segment() {
    let args = DemoArgs {
        customers: 40,
        days: 2,
        seed: 11,
        serve: false,
        port: 0,
        data_dir: None,
        years: 1,
    };
    let a = run(args.clone())
        .await
        .unwrap_or_else(|e| panic!("demo: {e}"));
    let b = run(args).await.unwrap_or_else(|e| panic!("demo: {e}"));
    let key = |s: &kustiq_local::demo::DemoSummary| {
        s.segment
            .iter()
            .map(|r| (r.profile_id.clone(), (r.score * 10.0).round() as i64))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&a), key(&b));
    assert_eq!(a.matches, b.matches);
}
