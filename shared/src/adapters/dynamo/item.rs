//! The item shape every entity shares: keys, sparse GSI keys, TTL, version, JSON data
//! (or a binary encoding of its own, for the billing state).

use crate::ports::store::StoreError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// A table key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
}

impl Key {
    /// A key from its two parts.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    pub(crate) fn to_attributes(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S(self.pk.clone())),
            ("sk".to_owned(), AttributeValue::S(self.sk.clone())),
        ])
    }
}

/// One stored item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Table key.
    pub key: Key,
    /// Sparse GSI1 key (`gsi1pk`, `gsi1sk`).
    pub gsi1: Option<Key>,
    /// Sparse GSI2 key (`gsi2pk`, `gsi2sk`).
    pub gsi2: Option<Key>,
    /// Expiry in epoch seconds; DynamoDB TTL deletes the item after it.
    pub ttl: Option<i64>,
    /// The version read back from the store (0 for an item not yet written).
    pub version: u64,
    /// The entity, as JSON (empty when it is stored in `bin`).
    pub data: String,
    /// The entity in a binary encoding of its own (the billing state), if so.
    pub bin: Option<Vec<u8>>,
}

impl Item {
    /// An item holding `value` as JSON.
    pub fn json<T: Serialize>(key: Key, value: &T) -> Result<Self, StoreError> {
        let data = serde_json::to_string(value).map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(Self {
            key,
            gsi1: None,
            gsi2: None,
            ttl: None,
            version: 0,
            data,
            bin: None,
        })
    }

    /// An item holding `bytes` in the binary attribute (see `state_codec`).
    pub fn binary(key: Key, bytes: Vec<u8>) -> Self {
        Self {
            key,
            gsi1: None,
            gsi2: None,
            ttl: None,
            version: 0,
            data: String::new(),
            bin: Some(bytes),
        }
    }

    /// Sets the GSI1 key.
    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1 = Some(Key::new(pk, sk));
        self
    }

    /// Sets the GSI2 key.
    pub fn with_gsi2(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi2 = Some(Key::new(pk, sk));
        self
    }

    /// Sets the TTL (epoch seconds).
    pub fn with_ttl(mut self, ttl: i64) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Decodes the JSON data.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        serde_json::from_str(&self.data)
            .map_err(|e| StoreError::Corrupt(format!("{}/{}: {e}", self.key.pk, self.key.sk)))
    }

    pub(crate) fn to_attributes(&self, version: u64) -> HashMap<String, AttributeValue> {
        let mut m = self.key.to_attributes();
        if let Some(g) = &self.gsi1 {
            m.insert("gsi1pk".into(), AttributeValue::S(g.pk.clone()));
            m.insert("gsi1sk".into(), AttributeValue::S(g.sk.clone()));
        }
        if let Some(g) = &self.gsi2 {
            m.insert("gsi2pk".into(), AttributeValue::S(g.pk.clone()));
            m.insert("gsi2sk".into(), AttributeValue::S(g.sk.clone()));
        }
        if let Some(t) = self.ttl {
            m.insert("ttl".into(), AttributeValue::N(t.to_string()));
        }
        m.insert("ver".into(), AttributeValue::N(version.to_string()));
        match &self.bin {
            Some(b) => m.insert("bin".into(), AttributeValue::B(Blob::new(b.clone()))),
            None => m.insert("data".into(), AttributeValue::S(self.data.clone())),
        };
        m
    }

    pub(crate) fn from_attributes(
        mut m: HashMap<String, AttributeValue>,
    ) -> Result<Self, StoreError> {
        let mut s = |name: &str| -> Option<String> {
            match m.remove(name) {
                Some(AttributeValue::S(v)) => Some(v),
                _ => None,
            }
        };
        let pk = s("pk").ok_or_else(|| StoreError::Corrupt("item without pk".into()))?;
        let sk = s("sk").ok_or_else(|| StoreError::Corrupt(format!("{pk}: item without sk")))?;
        let gsi1 = match (s("gsi1pk"), s("gsi1sk")) {
            (Some(a), Some(b)) => Some(Key::new(a, b)),
            _ => None,
        };
        let gsi2 = match (s("gsi2pk"), s("gsi2sk")) {
            (Some(a), Some(b)) => Some(Key::new(a, b)),
            _ => None,
        };
        let data = s("data").unwrap_or_default();
        let num = |v: Option<AttributeValue>| match v {
            Some(AttributeValue::N(n)) => n.parse::<i64>().ok(),
            _ => None,
        };
        let bin = match m.remove("bin") {
            Some(AttributeValue::B(b)) => Some(b.into_inner()),
            _ => None,
        };
        let ttl = num(m.remove("ttl"));
        let version = num(m.remove("ver")).unwrap_or(0).max(0) as u64;
        Ok(Self {
            key: Key::new(pk, sk),
            gsi1,
            gsi2,
            ttl,
            version,
            data,
            bin,
        })
    }
}
