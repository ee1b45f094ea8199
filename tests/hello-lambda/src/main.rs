//! The baseline of the cold-start proxy (`scripts/bench-cold-start`): the smallest
//! `lambda_runtime` function, answering every event with `{"hello": "world"}`. It
//! lives outside `functions/` because it is never deployed.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({"hello": "world"}))
    }))
    .await
}
