//! The embedded default store: dynoxide (a DynamoDB-compatible engine on
//! SQLite) reached in-process. The one DynamoDB adapter talks to it through
//! the AWS SDK as it talks to AWS, but the SDK's HTTP client is replaced by a
//! connector that hands each request straight to the engine: no port is
//! opened, so no other local user can reach the store.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use dynoxide::{Database, DynoxideError};
use kustiq::adapters::dynamo::DynamoStore;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// The endpoint the SDK believes it calls. `.invalid` never resolves, so a
/// request can only ever reach the in-process connector.
const IN_PROCESS_ENDPOINT: &str = "http://dynoxide.invalid";

/// The target prefix of every DynamoDB operation (`X-Amz-Target`).
const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// Opening the embedded engine failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The SQLite file could not be opened or created.
    #[error("cannot open the embedded store at {path}: {reason}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The embedded engine. Cheap to clone; the database closes with the last clone.
#[derive(Clone)]
pub struct EmbeddedDynamo {
    db: Database,
}

impl std::fmt::Debug for EmbeddedDynamo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbeddedDynamo(in-process)")
    }
}

impl EmbeddedDynamo {
    /// Opens (or creates) the SQLite file at `path`.
    pub fn open_file(path: &Path) -> Result<Self, EmbeddedError> {
        let db = Database::new(&path.to_string_lossy()).map_err(|e| EmbeddedError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self { db })
    }

    /// A fresh in-memory database (tests).
    pub fn in_memory() -> Result<Self, EmbeddedError> {
        let db = Database::memory().map_err(|e| EmbeddedError::Open {
            path: ":memory:".to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self { db })
    }

    /// A DynamoDB client in `region` whose every request is served by this engine.
    pub fn client(&self, region: &str) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            // The SDK signs every request; nothing checks the signature in-process.
            .credentials_provider(Credentials::new(
                "in-process",
                "in-process",
                None,
                None,
                "kustiq-local",
            ))
            .endpoint_url(IN_PROCESS_ENDPOINT)
            .http_client(self.http_client())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// The store adapter over `table` on this engine.
    pub fn store(&self, region: &str, table: impl Into<String>) -> DynamoStore {
        DynamoStore::new(self.client(region), table)
    }

    fn http_client(&self) -> SharedHttpClient {
        let connector = SharedHttpConnector::new(InProcess {
            db: self.db.clone(),
        });
        http_client_fn(move |_, _| connector.clone())
    }
}

/// Serves SDK requests by calling the engine's operations directly.
#[derive(Clone)]
struct InProcess {
    db: Database,
}

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcess")
    }
}

impl HttpConnector for InProcess {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let db = self.db.clone();
        HttpConnectorFuture::new(async move {
            let operation = request
                .headers()
                .get("x-amz-target")
                .and_then(|t| t.strip_prefix(TARGET_PREFIX))
                .map(str::to_owned);
            let body = request.body().bytes().map(<[u8]>::to_vec);
            let (Some(operation), Some(body)) = (operation, body) else {
                return Ok(answer(Err(DynoxideError::SerializationException(
                    "not a DynamoDB JSON request".to_owned(),
                ))));
            };
            // SQLite calls block: keep them off the async workers.
            let result = tokio::task::spawn_blocking(move || dispatch(&db, &operation, &body))
                .await
                .map_err(|e| ConnectorError::other(Box::new(e), None))?;
            Ok(answer(result))
        })
    }
}

fn answer(result: Result<String, DynoxideError>) -> HttpResponse {
    let (status, body) = match result {
        Ok(json) => (200, json),
        Err(e) => (e.status_code(), e.to_json()),
    };
    let status = StatusCode::try_from(status).unwrap_or_else(|_| unreachable!("400..=501"));
    let mut response = HttpResponse::new(status, SdkBody::from(body));
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
}

fn call<Req, Resp>(
    body: &[u8],
    op: impl FnOnce(Req) -> Result<Resp, DynoxideError>,
) -> Result<String, DynoxideError>
where
    Req: DeserializeOwned,
    Resp: Serialize,
{
    let request = serde_json::from_slice(body)
        .map_err(|e| DynoxideError::ValidationException(e.to_string()))?;
    serde_json::to_string(&op(request)?)
        .map_err(|e| DynoxideError::InternalServerError(e.to_string()))
}

/// The operations the store adapter and its schema management use, plus the
/// other item reads and writes, so a new adapter call works without touching
/// this file.
fn dispatch(db: &Database, operation: &str, body: &[u8]) -> Result<String, DynoxideError> {
    match operation {
        "CreateTable" => call(body, |r| db.create_table(r)),
        "DescribeTable" => call(body, |r| db.describe_table(r)),
        "DeleteTable" => call(body, |r| db.delete_table(r)),
        "ListTables" => call(body, |r| db.list_tables(r)),
        "UpdateTable" => call(body, |r| db.update_table(r)),
        "UpdateTimeToLive" => call(body, |r| db.update_time_to_live(r)),
        "DescribeTimeToLive" => call(body, |r| db.describe_time_to_live(r)),
        "GetItem" => call(body, |r| db.get_item(r)),
        "PutItem" => call(body, |r| db.put_item(r)),
        "DeleteItem" => call(body, |r| db.delete_item(r)),
        "UpdateItem" => call(body, |r| db.update_item(r)),
        "Query" => call(body, |r| db.query(r)),
        "Scan" => call(body, |r| db.scan(r)),
        "BatchGetItem" => call(body, |r| db.batch_get_item(r)),
        "BatchWriteItem" => call(body, |r| db.batch_write_item(r)),
        "TransactWriteItems" => call(body, |r| db.transact_write_items(r)),
        "TransactGetItems" => call(body, |r| db.transact_get_items(r)),
        _ => Err(DynoxideError::ValidationException(
            "operation not served by the embedded store".to_owned(),
        )),
    }
}
