//! KMS envelope encryption against moto_server (`KUSTIQ_TEST_MOTO_ENDPOINT`):
//! the blob opens only with the same key, region, workspace and purpose.

use aws_sdk_kms::primitives::Blob;
use kustiq::adapters::aws::{AwsTarget, sdk_config};
use kustiq::adapters::kms::KmsSealer;
use kustiq::domain::ids::WorkspaceId;
use kustiq::domain::secret::Secret;
use kustiq::ports::keys::{KeyError, SealContext, SealPurpose, SealedBlob, Sealer};
use kustiq_tests::moto;

const EU: &str = "eu-central-1";
const US: &str = "us-east-1";

async fn sealer(region: &str) -> KmsSealer {
    let (config, arn) = moto::create_kms_key(region).await;
    KmsSealer::new(&config, arn)
}

fn ctx(workspace: &str, purpose: SealPurpose) -> SealContext {
    SealContext::new(WorkspaceId::parse(workspace).unwrap(), purpose)
}

/// Asserts `sealer` cannot open `blob` in context `c`.
async fn assert_cannot_open(sealer: &KmsSealer, c: &SealContext, blob: &SealedBlob) {
    assert_eq!(sealer.open(c, blob).await.unwrap_err(), KeyError::Decrypt);
}

/// A copy of `blob` with one part replaced.
fn with_parts(
    blob: &SealedBlob,
    key_version: u32,
    wrapped_key: Vec<u8>,
    ciphertext: Vec<u8>,
) -> SealedBlob {
    SealedBlob::from_parts(
        blob.key_id().to_owned(),
        key_version,
        wrapped_key,
        *blob.nonce(),
        ciphertext,
    )
}

#[tokio::test]
async fn seal_and_open_roundtrip_in_both_regions() {
    for region in [EU, US] {
        let sealer = sealer(region).await;
        let c = ctx(&moto::unique_name("ws"), SealPurpose::OauthRefreshToken);
        let blob = sealer
            .seal(&c, &Secret::new("rt_live_refresh_123"))
            .await
            .unwrap();

        let stored = blob.to_string();
        assert!(stored.starts_with("ksv1."), "{stored}");
        assert!(!stored.contains("rt_live_refresh_123"));
        assert_eq!(blob.key_id(), sealer.key_id(), "blob records the key ARN");
        assert!(blob.key_id().contains(region));
        assert_eq!(blob.key_version(), 1);

        let reloaded = SealedBlob::parse(&stored).unwrap();
        let opened = sealer.open(&c, &reloaded).await.unwrap();
        assert_eq!(opened.expose(), "rt_live_refresh_123");
    }
}

#[tokio::test]
async fn each_seal_uses_a_fresh_data_key_and_nonce() {
    let sealer = sealer(EU).await;
    let c = ctx(&moto::unique_name("ws"), SealPurpose::AccessToken);
    let a = sealer.seal(&c, &Secret::new("same")).await.unwrap();
    let b = sealer.seal(&c, &Secret::new("same")).await.unwrap();
    assert_ne!(a.wrapped_key(), b.wrapped_key());
    assert_ne!(a.nonce(), b.nonce());
    assert_ne!(a.ciphertext(), b.ciphertext());
}

#[tokio::test]
async fn wrong_workspace_or_purpose_fails_to_decrypt() {
    let sealer = sealer(EU).await;
    let ws = moto::unique_name("ws");
    let c = ctx(&ws, SealPurpose::RestrictedKey);
    let blob = sealer.seal(&c, &Secret::new("rk_live_abc")).await.unwrap();

    let other_workspace = ctx(&moto::unique_name("ws"), SealPurpose::RestrictedKey);
    let other_purpose = ctx(&ws, SealPurpose::AccessToken);
    assert_cannot_open(&sealer, &other_workspace, &blob).await;
    assert_cannot_open(&sealer, &other_purpose, &blob).await;
    // The right context still opens it afterwards.
    assert_eq!(
        sealer.open(&c, &blob).await.unwrap().expose(),
        "rk_live_abc"
    );
}

#[tokio::test]
async fn a_key_in_eu_central_1_cannot_open_data_sealed_with_the_us_east_1_key() {
    let us = sealer(US).await;
    let eu = sealer(EU).await;
    let c = ctx(&moto::unique_name("ws"), SealPurpose::OauthRefreshToken);
    let blob = us.seal(&c, &Secret::new("rt_us_only")).await.unwrap();

    let err = eu.open(&c, &blob).await.unwrap_err();
    assert_eq!(err, KeyError::Decrypt);
    assert!(!err.is_retryable());

    // Not only our KeyId pinning: KMS in eu-central-1 refuses the US data key outright.
    let eu_kms = aws_sdk_kms::Client::new(&moto::config(EU).await);
    let mut raw = eu_kms
        .decrypt()
        .ciphertext_blob(Blob::new(blob.wrapped_key()));
    for (k, v) in c.kms_pairs() {
        raw = raw.encryption_context(k, v);
    }
    assert!(
        raw.send().await.is_err(),
        "eu-central-1 decrypted a us-east-1 data key"
    );

    assert_eq!(us.open(&c, &blob).await.unwrap().expose(), "rt_us_only");
}

#[tokio::test]
async fn another_key_in_the_same_region_cannot_open_it() {
    let a = sealer(EU).await;
    let b = sealer(EU).await;
    let c = ctx(&moto::unique_name("ws"), SealPurpose::AccessToken);
    let blob = a.seal(&c, &Secret::new("tok")).await.unwrap();
    assert_cannot_open(&b, &c, &blob).await;
}

#[tokio::test]
async fn tampered_blobs_fail_to_decrypt() {
    let sealer = sealer(US).await;
    let c = ctx(&moto::unique_name("ws"), SealPurpose::WebhookSecret);
    let blob = sealer.seal(&c, &Secret::new("whsec_123")).await.unwrap();

    let mut ciphertext = blob.ciphertext().to_vec();
    ciphertext[0] ^= 0x01;
    let bad_payload = with_parts(
        &blob,
        blob.key_version(),
        blob.wrapped_key().to_vec(),
        ciphertext,
    );
    assert_cannot_open(&sealer, &c, &bad_payload).await;

    let mut tag = blob.ciphertext().to_vec();
    let last = tag.len() - 1;
    tag[last] ^= 0x80;
    let bad_tag = with_parts(&blob, blob.key_version(), blob.wrapped_key().to_vec(), tag);
    assert_cannot_open(&sealer, &c, &bad_tag).await;

    let mut wrapped = blob.wrapped_key().to_vec();
    let mid = wrapped.len() / 2;
    wrapped[mid] ^= 0x01;
    let bad_key = with_parts(
        &blob,
        blob.key_version(),
        wrapped,
        blob.ciphertext().to_vec(),
    );
    assert_cannot_open(&sealer, &c, &bad_key).await;

    // KMS never sees the key version; the AES-GCM associated data does.
    let bad_header = with_parts(
        &blob,
        2,
        blob.wrapped_key().to_vec(),
        blob.ciphertext().to_vec(),
    );
    assert_cannot_open(&sealer, &c, &bad_header).await;
}

#[tokio::test]
async fn a_missing_key_is_a_configuration_error() {
    let config = moto::config(EU).await;
    let sealer = KmsSealer::new(&config, "alias/kustiq-does-not-exist");
    let err = sealer
        .seal(&ctx("ws_1", SealPurpose::AccessToken), &Secret::new("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, KeyError::Misconfigured(_)), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_unreachable_key_service_is_retryable() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = sdk_config(&AwsTarget::local(EU, &format!("http://127.0.0.1:{port}"))).await;
    let sealer = KmsSealer::new(&config, "alias/any");
    let err = sealer
        .seal(&ctx("ws_1", SealPurpose::AccessToken), &Secret::new("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, KeyError::Unavailable(_)), "{err:?}");
    assert!(err.is_retryable());
}
