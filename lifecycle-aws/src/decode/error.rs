//! Why an event could not be decoded.

/// Why an event could not be decoded. Nothing is written for any of these.
///
/// ```
/// use lifecycle_aws::decode::{DecodeError, decode_event};
/// assert!(matches!(decode_event(b"{\"Records\": ["), Err(DecodeError::Json { .. })));
/// let unknown = decode_event(br#"{"source": "aws.s3", "detail-type": "Object Created", "id": "e", "detail": {}}"#);
/// assert_eq!(unknown.unwrap_err().to_string(), "unsupported event: source `aws.s3`, detail-type `Object Created`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not JSON at all (or truncated).
    #[error("malformed JSON at {at}: {message}")]
    Json {
        /// Where: `event`, or the field holding embedded JSON (`Records[0].Sns.Message`).
        at: String,
        /// The parser's message.
        message: String,
    },
    /// A required field is absent.
    #[error("missing field `{0}`")]
    Missing(String),
    /// A field has the wrong type or an unknown value.
    #[error("field `{field}` should be {expected}")]
    WrongType {
        /// The field's path.
        field: String,
        /// What it should be.
        expected: &'static str,
    },
    /// Valid JSON, but no event this library handles.
    #[error("unsupported event: source `{event_source}`, detail-type `{detail_type}`")]
    Unsupported {
        /// `source` (or the envelope's `EventSource`).
        event_source: String,
        /// `detail-type`.
        detail_type: String,
    },
}

pub(super) fn json_error(at: &str, error: &serde_json::Error) -> DecodeError {
    DecodeError::Json {
        at: at.to_owned(),
        message: error.to_string(),
    }
}
