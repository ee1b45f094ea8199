use super::*;

fn pid(s: &str) -> ProfileId {
    ProfileId::parse(s).unwrap()
}

fn cus(s: &str) -> StripeCustomerId {
    StripeCustomerId::parse(s).unwrap()
}

fn profile(
    id: &str,
    email: Option<&str>,
    domain: Option<&str>,
    customer: Option<&str>,
) -> ProfileContact {
    ProfileContact {
        profile_id: pid(id),
        email: email.map(|e| Email::parse(e).unwrap()),
        domain: domain.map(|d| Domain::parse(d).unwrap()),
        stripe_customer_id: customer.map(cus),
    }
}

fn customer(id: &str, email: Option<&str>) -> CustomerContact {
    CustomerContact {
        customer: cus(id),
        email: email.map(str::to_owned),
        metadata_profile: None,
        metadata_domain: None,
        deleted: false,
    }
}

fn index() -> ProfileIndex {
    ProfileIndex::new([
        profile(
            "p_manual",
            Some("ann@acme.io"),
            Some("acme.io"),
            Some("cus_manual"),
        ),
        profile("p_meta", None, None, None),
        profile("p_email", Some("bob@globex.com"), None, None),
        profile("p_domain", None, Some("initech.de"), None),
        profile("p_shared_a", None, Some("umbrella.co"), None),
        profile("p_shared_b", Some("x@umbrella.co"), None, None),
        profile("p_gmail", Some("carl@gmail.com"), None, None),
    ])
}

fn decided(c: &CustomerContact) -> (MatchStatus, Option<String>, Option<MatchMethod>, u8) {
    let d = index().decide(c);
    (
        d.status,
        d.profile_id.map(String::from),
        d.method,
        d.confidence,
    )
}

#[test]
fn the_manual_override_wins_over_every_other_method() {
    let mut c = customer("cus_manual", Some("bob@globex.com"));
    c.metadata_profile = Some("p_meta".into());
    assert_eq!(
        decided(&c),
        (
            MatchStatus::Matched,
            Some("p_manual".into()),
            Some(MatchMethod::Manual),
            100
        )
    );
}

#[test]
fn metadata_names_the_profile_before_email_is_looked_at() {
    let mut c = customer("cus_1", Some("bob@globex.com"));
    c.metadata_profile = Some("p_meta".into());
    assert_eq!(
        decided(&c),
        (
            MatchStatus::Matched,
            Some("p_meta".into()),
            Some(MatchMethod::Metadata),
            100
        )
    );
    // A metadata id naming no profile is ignored: the next method decides.
    c.metadata_profile = Some("p_unknown".into());
    assert_eq!(decided(&c).2, Some(MatchMethod::Email));
}

#[test]
fn an_exact_email_matches_at_95() {
    let c = customer("cus_1", Some(" Bob@Globex.com "));
    assert_eq!(
        decided(&c),
        (
            MatchStatus::Matched,
            Some("p_email".into()),
            Some(MatchMethod::Email),
            95
        )
    );
}

#[test]
fn a_business_domain_matches_at_90_from_the_email_or_metadata() {
    let c = customer("cus_1", Some("dana@initech.de"));
    assert_eq!(
        decided(&c),
        (
            MatchStatus::Matched,
            Some("p_domain".into()),
            Some(MatchMethod::Domain),
            90
        )
    );
    let mut c = customer("cus_2", Some("dana.private@gmail.com"));
    c.metadata_domain = Some("Initech.de".into());
    assert_eq!(decided(&c).1.as_deref(), Some("p_domain"));
}

#[test]
fn a_personal_provider_is_never_a_domain_match() {
    // Another gmail user is not carl's company.
    let c = customer("cus_1", Some("someone.else@gmail.com"));
    assert_eq!(decided(&c).0, MatchStatus::Unmatched);
}

#[test]
fn a_domain_shared_by_two_profiles_goes_to_review_never_a_guess() {
    let d = index().decide(&customer("cus_1", Some("eve@umbrella.co")));
    assert_eq!(d.status, MatchStatus::Review);
    assert_eq!(d.profile_id, None);
    assert!(d.confidence < AUTO_MATCH_MIN);
    assert_eq!(d.candidates, vec![pid("p_shared_a"), pid("p_shared_b")]);
    assert!(!d.feeds_scores());
}

#[test]
fn a_subdomain_is_a_candidate_below_the_threshold() {
    let d = index().decide(&customer("cus_1", Some("fay@eu.initech.de")));
    assert_eq!(
        (d.status, d.profile_id, d.confidence),
        (MatchStatus::Review, Some(pid("p_domain")), 70)
    );
}

#[test]
fn a_profile_matched_to_another_customer_is_only_a_candidate() {
    // Same domain as p_manual, which already names cus_manual.
    let d = index().decide(&customer("cus_2", Some("gus@acme.io")));
    assert_eq!(d.status, MatchStatus::Review);
    assert!(d.confidence < AUTO_MATCH_MIN, "{d:?}");
}

#[test]
fn a_customer_with_no_email_and_no_metadata_stays_unmatched() {
    let d = index().decide(&customer("cus_1", None));
    assert_eq!((d.status, d.confidence), (MatchStatus::Unmatched, 0));
}

#[test]
fn a_deleted_customer_is_not_matched() {
    let mut c = customer("cus_1", Some("bob@globex.com"));
    c.deleted = true;
    assert_eq!(decided(&c).0, MatchStatus::Unmatched);
}

#[test]
fn two_profiles_naming_one_customer_go_to_review() {
    let index = ProfileIndex::new([
        profile("p1", None, None, Some("cus_1")),
        profile("p2", None, None, Some("cus_1")),
    ]);
    let d = index.decide(&customer("cus_1", None));
    assert_eq!(
        (d.status, d.method),
        (MatchStatus::Review, Some(MatchMethod::Manual))
    );
}
