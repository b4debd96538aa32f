//! How an AWS SDK call failed: whether trying again may help (no answer, a 5xx, throttling),
//! and the error's whole chain as one line, for every client this crate calls.

use aws_sdk_dynamodb::error::SdkError;

/// Whether an AWS call that failed this way may succeed when tried again: no answer (a
/// timeout, a dropped connection), a 5xx, or throttling.
///
/// ```
/// use aws_sdk_dynamodb::error::SdkError;
/// use aws_sdk_dynamodb::operation::get_item::GetItemError;
/// let timeout: SdkError<GetItemError, ()> = SdkError::timeout_error("no answer in 3 s");
/// assert!(lifecycle_aws::store::is_transient(&timeout));
/// ```
pub fn is_transient<E, R>(error: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    const THROTTLING: [&str; 8] = [
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "PriorRequestNotComplete",
    ];
    const SERVER: [&str; 4] = [
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "InternalError",
    ];
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => e
            .err()
            .code()
            .is_some_and(|code| THROTTLING.contains(&code) || SERVER.contains(&code)),
        _ => false,
    }
}

/// An error and its causes on one line: the SDK's `Display` alone says only "service error".
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// #[error("service error")]
/// struct Outer(#[source] std::io::Error);
/// let error = Outer(std::io::Error::other("connection reset"));
/// assert_eq!(lifecycle_aws::store::error_chain(&error), "service error: connection reset");
/// ```
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
