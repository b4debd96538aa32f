//! What a conditional write is conditioned on, and what its failure says about the item.

use super::*;

/// The condition on the record's version; a record the original library wrote has none, and
/// the first write adds it.
pub(super) fn version_condition(
    version: u64,
    values: &mut HashMap<String, AttributeValue>,
) -> &'static str {
    if version == 0 {
        "attribute_not_exists(#version)"
    } else {
        values.insert(":version".into(), n(version));
        "#version = :version"
    }
}

/// Whether `item` holds the write with `token` that moved it to `version`.
pub(super) fn holds_write(
    item: &HashMap<String, AttributeValue>,
    token: &str,
    version: u64,
) -> bool {
    item.get(attr::WRITE_TOKEN) == Some(&s(token)) && item_version(item) == version
}

/// For a failed condition: `Some(item as it is now)` (`Some(None)`: there is no item).
pub(super) fn conditional_failure<R>(
    error: &SdkError<UpdateItemError, R>,
) -> Option<Option<&HashMap<String, AttributeValue>>> {
    match error {
        SdkError::ServiceError(e) => match e.err() {
            UpdateItemError::ConditionalCheckFailedException(failed) => Some(failed.item()),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn is_conditional_failure<E, R>(error: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    matches!(error, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}
