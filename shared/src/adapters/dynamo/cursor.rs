//! Page cursors: DynamoDB's `LastEvaluatedKey` as opaque base64url JSON.
//! Only string key attributes of the queried index are accepted back, so a
//! forged cursor can at most start a page elsewhere in the caller's partition.

use super::Index;
use crate::ports::store::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::{BTreeMap, HashMap};

pub(super) fn encode(key: &HashMap<String, AttributeValue>) -> Result<String, StoreError> {
    let mut plain = BTreeMap::new();
    for (name, value) in key {
        match value {
            AttributeValue::S(s) => {
                plain.insert(name.clone(), s.clone());
            }
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "non-string key attribute {name}"
                )));
            }
        }
    }
    let json = serde_json::to_vec(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

pub(super) fn decode(
    cursor: &str,
    index: Index,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    let plain: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    let (pk, sk, _) = index.names();
    let allowed = ["pk", "sk", pk, sk];
    if plain.keys().any(|k| !allowed.contains(&k.as_str())) || !plain.contains_key("pk") {
        return Err(StoreError::BadCursor);
    }
    Ok(plain
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_roundtrips_and_rejects_garbage() {
        let key = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("WS#a".into())),
            ("sk".to_owned(), AttributeValue::S("PROF#1".into())),
        ]);
        let c = encode(&key).unwrap_or_default();
        assert_eq!(decode(&c, Index::Table).ok(), Some(key));
        assert!(matches!(
            decode("%%%", Index::Table),
            Err(StoreError::BadCursor)
        ));
        let foreign = URL_SAFE_NO_PAD.encode(br#"{"pk":"a","evil":"b"}"#);
        assert!(matches!(
            decode(&foreign, Index::Table),
            Err(StoreError::BadCursor)
        ));
    }
}
