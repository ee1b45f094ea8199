//! The table's schema, for engines that start empty (DynamoDB Local, dynoxide).
//! In AWS the SAM template creates the same table; `docs/tables.md` describes it.

use super::DynamoStore;
use super::errors::map_sdk_error;
use crate::ports::store::StoreError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use std::time::Duration;

/// Name of the first GSI (`gsi1pk`/`gsi1sk`).
pub const GSI1: &str = "gsi1";
/// Name of the second GSI (`gsi2pk`/`gsi2sk`).
pub const GSI2: &str = "gsi2";
/// The TTL attribute.
pub const TTL_ATTRIBUTE: &str = "ttl";

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

fn attr(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

fn gsi(name: &str, pk: &str, sk: &str) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash)?)
        .key_schema(key(sk, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

impl DynamoStore {
    /// Creates the table with both GSIs and TTL if it does not exist, and waits
    /// until it is active. Idempotent.
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        let exists = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await;
        if exists.is_err() {
            let created = self
                .client
                .create_table()
                .table_name(&self.table)
                .billing_mode(BillingMode::PayPerRequest)
                .key_schema(key("pk", KeyType::Hash)?)
                .key_schema(key("sk", KeyType::Range)?)
                .attribute_definitions(attr("pk")?)
                .attribute_definitions(attr("sk")?)
                .attribute_definitions(attr("gsi1pk")?)
                .attribute_definitions(attr("gsi1sk")?)
                .attribute_definitions(attr("gsi2pk")?)
                .attribute_definitions(attr("gsi2sk")?)
                .global_secondary_indexes(gsi(GSI1, "gsi1pk", "gsi1sk")?)
                .global_secondary_indexes(gsi(GSI2, "gsi2pk", "gsi2sk")?)
                .send()
                .await;
            if let Err(e) = created {
                let mapped = map_sdk_error(e);
                // Another process created it first: fine.
                if !matches!(&mapped, StoreError::Invalid(m) if m.starts_with("ResourceInUseException"))
                {
                    return Err(mapped);
                }
            }
        }
        for _ in 0..100 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(map_sdk_error)?;
            let status = out.table.and_then(|t| t.table_status);
            if matches!(status, Some(TableStatus::Active) | None) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let enabled = self
            .ttl_attribute()
            .await?
            .is_some_and(|a| a == TTL_ATTRIBUTE);
        if !enabled {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            self.client
                .update_time_to_live()
                .table_name(&self.table)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(map_sdk_error)?;
        }
        Ok(())
    }

    /// The TTL attribute DynamoDB reports for the table, if TTL is enabled.
    pub async fn ttl_attribute(&self) -> Result<Option<String>, StoreError> {
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(map_sdk_error)?;
        Ok(ttl.time_to_live_description.and_then(|d| d.attribute_name))
    }
}
