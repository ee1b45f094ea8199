//! DynamoDB SDK errors → [`StoreError`], in one place.

use crate::ports::store::StoreError;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

pub(super) fn map_sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(service) = &err {
        let e = service.err();
        let code = e.code().unwrap_or_default();
        let message = e.message().unwrap_or_default();
        return match code {
            "ConditionalCheckFailedException" => StoreError::Conflict,
            "TransactionCanceledException" => StoreError::TransactionCancelled {
                reasons: message.to_owned(),
            },
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "TransactionInProgressException"
            | "TransactionConflictException" => {
                StoreError::Unavailable(format!("{code}: {message}"))
            }
            _ => StoreError::Invalid(format!("{code}: {message}")),
        };
    }
    // Timeouts, dispatch and response errors: the request may not have arrived.
    StoreError::Unavailable(format!(
        "{}",
        aws_sdk_dynamodb::error::DisplayErrorContext(&err)
    ))
}
