//! The stored form of a customer's billing state: compact and versioned.
//!
//! The state is the largest item the webhook path reads and writes on every event,
//! so its size is both CPU (decode + encode per event) and cost (write units grow per
//! KB, twice over inside a transaction). It is stored as a binary attribute whose
//! first byte names the encoding:
//! - `1`: LZ4 block (size-prepended) of MessagePack with field names. Field names keep
//!   the format self-describing, so the domain types' serde attributes (defaults,
//!   skipped empties, internally tagged enums) mean the same as in JSON, and fields
//!   added later read as their defaults; LZ4 removes the names' repetition.
//!
//! Items written before the binary form hold JSON in `data`: [`decode_item`] reads both.

use super::Item;
use crate::domain::billing_state::BillingState;
use crate::ports::store::StoreError;

/// The encoding new items are written with.
pub const CURRENT: u8 = 1;

/// The largest decompressed state accepted; a larger length prefix is a corrupt item,
/// not an allocation to attempt (DynamoDB items stop at 400 KB; LZ4 rarely exceeds 10×).
const MAX_DECODED: usize = 8 * 1024 * 1024;

/// Encodes `state` in the [`CURRENT`] encoding.
pub fn encode(state: &BillingState) -> Result<Vec<u8>, StoreError> {
    let packed = rmp_serde::to_vec_named(state).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut out = Vec::with_capacity(1 + 4 + packed.len() / 2);
    out.push(CURRENT);
    out.extend_from_slice(&lz4_flex::compress_prepend_size(&packed));
    Ok(out)
}

/// Decodes bytes written by [`encode`] (any version this build knows).
pub fn decode(bytes: &[u8]) -> Result<BillingState, String> {
    match bytes.split_first() {
        Some((&1, body)) => {
            let declared = body
                .get(..4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes)
                .ok_or("truncated length")?;
            if declared as usize > MAX_DECODED {
                return Err(format!("declared size {declared} B exceeds the limit"));
            }
            let packed = lz4_flex::decompress_size_prepended(body).map_err(|e| e.to_string())?;
            rmp_serde::from_slice(&packed).map_err(|e| e.to_string())
        }
        Some((v, _)) => Err(format!("unknown state encoding {v}")),
        None => Err("empty state".to_owned()),
    }
}

/// The billing-state item for `state` under `key`.
pub fn item(key: super::Key, state: &BillingState) -> Result<Item, StoreError> {
    Ok(Item::binary(key, encode(state)?))
}

/// Reads a billing-state item in any encoding ever written (binary, or the JSON of
/// items stored before it).
pub fn decode_item(item: &Item) -> Result<BillingState, StoreError> {
    match &item.bin {
        Some(bytes) => decode(bytes)
            .map_err(|e| StoreError::Corrupt(format!("{}/{}: {e}", item.key.pk, item.key.sk))),
        None => item.parse(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::billing_state::fixtures;

    #[test]
    fn a_long_lived_customer_s_state_round_trips_and_is_smaller_than_its_json() {
        let state = fixtures::long_lived_state();
        let json = serde_json::to_vec(&state).expect("json");
        let bytes = encode(&state).expect("encodes");
        assert_eq!(decode(&bytes).expect("decodes"), state);
        assert_eq!(bytes[0], CURRENT);
        assert!(
            bytes.len() * 3 < json.len(),
            "binary {} B vs JSON {} B",
            bytes.len(),
            json.len()
        );
    }

    #[test]
    fn items_stored_as_json_before_the_binary_form_still_read() {
        let state = fixtures::long_lived_state();
        let key = super::super::Key::new("WS#a", "BILLING#cus_1");
        let legacy = Item::json(key.clone(), &state).expect("json item");
        assert_eq!(decode_item(&legacy).expect("reads"), state);
        let binary = item(key, &state).expect("binary item");
        assert!(binary.data.is_empty());
        assert_eq!(decode_item(&binary).expect("reads"), state);
    }

    #[test]
    fn corrupt_or_unknown_encodings_are_errors_not_panics() {
        let state = fixtures::long_lived_state();
        let good = encode(&state).expect("encodes");
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![2, 1, 2, 3],
            vec![1],
            vec![1, 0xff, 0xff, 0xff, 0x7f, 0],
            good[..good.len() / 2].to_vec(),
        ];
        let mut flipped = good.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x5a;
        cases.push(flipped);
        for bytes in cases {
            // A flipped byte may still decode to some state; it must never panic.
            if let Ok(s) = decode(&bytes) {
                assert_ne!(
                    bytes, good,
                    "only the intact bytes decode to the state: {s:?}"
                );
            }
        }
    }
}
