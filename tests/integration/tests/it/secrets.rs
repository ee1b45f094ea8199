//! Secrets Manager through the TTL cache, against moto_server
//! (`KUSTIQ_TEST_MOTO_ENDPOINT`), with a clock the test moves.

use kustiq::adapters::aws::{AwsTarget, sdk_config};
use kustiq::adapters::clock::ManualClock;
use kustiq::adapters::secrets::{CachedSecrets, SecretsManagerSource};
use kustiq::domain::time::Timestamp;
use kustiq::ports::secrets::{SecretError, SecretName, SecretSource};
use kustiq_tests::moto;

const TTL: i64 = 300;

/// A cached source reading secrets under a prefix unique to this test.
async fn cached_source() -> (
    SecretsManagerSource,
    CachedSecrets<SecretsManagerSource, ManualClock>,
    ManualClock,
) {
    let config = moto::config("eu-central-1").await;
    let source =
        SecretsManagerSource::new(&config, format!("{}/", moto::unique_name("kustiq-test")));
    let clock = ManualClock::at(Timestamp::from_unix(1_800_000_000));
    let cache = CachedSecrets::new(source.clone(), clock.clone(), TTL);
    (source, cache, clock)
}

#[tokio::test]
async fn the_cache_serves_the_old_value_until_the_ttl_passes() {
    let (source, cache, clock) = cached_source().await;
    let config = moto::config("eu-central-1").await;
    let name = SecretName::STRIPE_PLATFORM_KEY;
    let id = source.secret_id(&name);
    moto::create_secret(&config, &id, "sk_test_first").await;

    assert_eq!(cache.get(&name).await.unwrap().expose(), "sk_test_first");

    moto::update_secret(&config, &id, "sk_test_rotated").await;
    assert_eq!(
        source.get(&name).await.unwrap().expose(),
        "sk_test_rotated",
        "moto holds the new value"
    );
    clock.advance(TTL - 1);
    assert_eq!(
        cache.get(&name).await.unwrap().expose(),
        "sk_test_first",
        "still cached before the TTL"
    );

    clock.advance(1);
    assert_eq!(
        cache.get(&name).await.unwrap().expose(),
        "sk_test_rotated",
        "refreshed after the TTL"
    );
}

#[tokio::test]
async fn a_missing_secret_is_not_found() {
    let (source, cache, _clock) = cached_source().await;
    let name = SecretName::parse("never-created").unwrap();
    assert_eq!(
        source.get(&name).await.unwrap_err(),
        SecretError::NotFound(name.clone())
    );
    let err = cache.get(&name).await.unwrap_err();
    assert_eq!(err, SecretError::NotFound(name));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn webhook_secrets_read_as_a_list_during_rotation() {
    let (source, cache, _clock) = cached_source().await;
    let config = moto::config("eu-central-1").await;
    let name = SecretName::STRIPE_WEBHOOK_SECRET;
    moto::create_secret(
        &config,
        &source.secret_id(&name),
        r#"["whsec_old","whsec_new"]"#,
    )
    .await;

    let list = cache.get_list(&name).await.unwrap();
    let values: Vec<&str> = list.iter().map(|s| s.expose()).collect();
    assert_eq!(values, ["whsec_old", "whsec_new"]);
}

#[tokio::test]
async fn an_unreachable_secret_service_is_retryable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = sdk_config(&AwsTarget::local(
        "eu-central-1",
        &format!("http://127.0.0.1:{port}"),
    ))
    .await;
    let source = SecretsManagerSource::new(&config, "kustiq/");
    let err = source
        .get(&SecretName::STRIPE_PLATFORM_KEY)
        .await
        .unwrap_err();
    assert!(matches!(err, SecretError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
}
