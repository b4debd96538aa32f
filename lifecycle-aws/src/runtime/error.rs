//! Why a notification could not be handled, and whether delivering it again may help.

use super::*;

/// Why a notification could not be handled.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// use lifecycle_aws::runtime::HandleError;
/// lifecycle_aws::testing::block_on(async {
///     let event = lifecycle_aws::testing::lifecycle_action_event("i-unknown", "nodes", lifecycle_core::LifecycleTransition::Launching);
///     let error = runtime.handle(&event).await.unwrap_err();
///     assert!(matches!(&error, HandleError::UnknownInstance(id) if id == "i-unknown"));
///     assert!(error.is_retryable(), "cloud-init may not have registered it yet");
///     let garbage = runtime.handle_bytes(b"{not json").await.unwrap_err();
///     assert!(matches!(garbage, HandleError::Decode(_)) && !garbage.is_retryable());
/// });
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandleError {
    /// The payload is not an event this library handles.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// No record for the instance: cloud-init has not registered it (yet). Redelivery retries.
    #[error("no record for instance `{0}` in the node table")]
    UnknownInstance(String),
    /// A scheduled rule whose name is no state of the model (or, with a name prefix, lacks it).
    #[error("scheduled rule `{0}` names no state of the model")]
    UnknownSchedule(String),
    /// A command result for a command not registered (yet): sent moments ago, its registration
    /// may still be on its way. Redelivery retries.
    #[error("command `{0}` is not registered yet")]
    CommandNotRegisteredYet(String),
    /// A command result that came before the write that makes the record wait for it (the gap
    /// between `SendCommand` and that write). Redelivery retries.
    #[error("the record does not wait for command `{0}` yet")]
    CommandNotAwaitedYet(String),
    /// Another delivery holds the record's claim: it is running a side-effecting task for it.
    /// Redelivery retries; once the claim is released or runs out, the event resumes.
    #[error("another delivery holds the claim on `{ident}` until {until} (epoch seconds)")]
    Busy {
        /// The record.
        ident: String,
        /// When the claim runs out.
        until: u64,
    },
    /// The dispatcher could not go on (unknown stored state, an error in failure handling, a
    /// cycle).
    #[error("dispatching {event_id} for {ident}: {message}")]
    Dispatch {
        /// The event.
        event_id: String,
        /// The record.
        ident: String,
        /// What went wrong.
        message: String,
    },
    /// A task failed on a transient error (throttling, a timeout) before its state change was
    /// stored. Redelivery retries; the record resumes where it is.
    #[error("dispatching {event_id} for {ident}: {message}")]
    Transient {
        /// The event.
        event_id: String,
        /// The record.
        ident: String,
        /// What failed.
        message: String,
    },
    /// A lifecycle action event without a lifecycle action token: Auto Scaling always sends
    /// one, so this one was written by someone else. Bad input, not retried.
    #[error(
        "lifecycle action event {event_id} for `{instance}` carries no LifecycleActionToken: Auto Scaling always sends one"
    )]
    NoActionToken {
        /// The event.
        event_id: String,
        /// The instance it names.
        instance: String,
    },
    /// EC2 could not be asked about an instance. Redelivery retries.
    #[error(transparent)]
    Directory(#[from] crate::instances::DirectoryError),
    /// DynamoDB failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Auto Scaling failed.
    #[error(transparent)]
    Action(#[from] ActionError),
}

impl HandleError {
    /// Whether delivering the same event again may succeed.
    ///
    /// ```
    /// use lifecycle_aws::runtime::HandleError;
    /// assert!(HandleError::CommandNotRegisteredYet("c-1".into()).is_retryable());
    /// assert!(!HandleError::UnknownSchedule("nightly".into()).is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HandleError::UnknownInstance(_)
                | HandleError::Directory(_)
                | HandleError::CommandNotRegisteredYet(_)
                | HandleError::CommandNotAwaitedYet(_)
                | HandleError::Busy { .. }
                | HandleError::Transient { .. }
                | HandleError::Store(StoreError::Request {
                    transient: true,
                    ..
                })
        ) || matches!(self, HandleError::Action(e) if e.transient)
    }
}
