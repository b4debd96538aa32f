//! SSM in memory.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::collections::HashMap;

use lifecycle_core::{CommandRequest, CommandStatus, EffectError};

use super::lock;
use crate::effects::{CommandSender, carries_marker};

/// SSM, recorded: each command gets an id shaped like SSM's, is kept until cancelled, and can
/// be found again by its claim marker (as [`SsmCommands`](crate::effects::SsmCommands) finds a
/// command whose answer was lost).
///
/// ```
/// use lifecycle_aws::effects::CommandSender;
/// use lifecycle_aws::testing::MemoryCommands;
/// use lifecycle_core::CommandRequest;
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let commands = MemoryCommands::new();
///     // The claim marker goes at the end of the comment, as the runtime puts it.
///     let comment = lifecycle_aws::effects::marked_comment(Some("join"), "d1.0");
///     let id = commands.send(&CommandRequest::new("ClusterJoin", ["i-1"]).comment(comment)).await.unwrap();
///     assert_eq!(commands.find(&CommandRequest::new("ClusterJoin", ["i-1"]), "d1.0").await.unwrap(), Some(id.clone()));
///     commands.cancel(&id).await.unwrap();
///     assert!(commands.sent().is_empty());
/// });
/// ```
#[derive(Debug, Default)]
pub struct MemoryCommands {
    sent: Mutex<Vec<(String, CommandRequest)>>,
    cancelled: Mutex<Vec<String>>,
    finished: Mutex<HashMap<String, CommandStatus>>,
    // Ids are never reused, even after a cancel.
    count: AtomicUsize,
}

impl MemoryCommands {
    /// Nothing sent yet.
    ///
    /// ```
    /// assert!(lifecycle_aws::testing::MemoryCommands::new().sent().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The commands sent and not cancelled, with their ids, in order.
    ///
    /// ```
    /// use lifecycle_aws::effects::CommandSender;
    /// use lifecycle_aws::testing::MemoryCommands;
    /// use lifecycle_core::CommandRequest;
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let commands = MemoryCommands::new();
    ///     let id = commands.send(&CommandRequest::new("ClusterJoin", ["i-1"])).await.unwrap();
    ///     assert_eq!(commands.sent(), [(id, CommandRequest::new("ClusterJoin", ["i-1"]))]);
    /// });
    /// ```
    pub fn sent(&self) -> Vec<(String, CommandRequest)> {
        lock(&self.sent).clone()
    }

    /// The ids of the commands cancelled.
    ///
    /// ```
    /// use lifecycle_aws::effects::CommandSender;
    /// use lifecycle_aws::testing::MemoryCommands;
    /// use lifecycle_core::CommandRequest;
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let commands = MemoryCommands::new();
    ///     let id = commands.send(&CommandRequest::new("ClusterJoin", ["i-1"])).await.unwrap();
    ///     commands.cancel(&id).await.unwrap();
    ///     assert_eq!(commands.cancelled(), [id]);
    /// });
    /// ```
    pub fn cancelled(&self) -> Vec<String> {
        lock(&self.cancelled).clone()
    }

    /// Ends command `command_id` with `status`, as SSM reports it from then on
    /// ([`CommandSender::status`]); see there for an example.
    pub fn finish(&self, command_id: &str, status: CommandStatus) {
        lock(&self.finished).insert(command_id.to_owned(), status);
    }
}

#[async_trait::async_trait]
impl CommandSender for MemoryCommands {
    async fn send(&self, request: &CommandRequest) -> Result<String, EffectError> {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let command_id = format!("{n:08x}-5151-4000-8000-{n:012x}");
        lock(&self.sent).push((command_id.clone(), request.clone()));
        Ok(command_id)
    }

    /// As SSM: a command that has ended ([`MemoryCommands::finish`]) is not cancelled; it
    /// ran, and stays found by its marker.
    async fn cancel(&self, command_id: &str) -> Result<(), EffectError> {
        if lock(&self.finished).contains_key(command_id) {
            return Ok(());
        }
        lock(&self.sent).retain(|(id, _)| id != command_id);
        lock(&self.cancelled).push(command_id.to_owned());
        Ok(())
    }

    async fn find(
        &self,
        request: &CommandRequest,
        marker: &str,
    ) -> Result<Option<String>, EffectError> {
        Ok(lock(&self.sent)
            .iter()
            .find(|(_, sent)| {
                sent.instance_ids.first() == request.instance_ids.first()
                    && carries_marker(sent.comment.as_deref(), marker)
            })
            .map(|(id, _)| id.clone()))
    }

    async fn status(&self, command_id: &str) -> Result<Option<CommandStatus>, EffectError> {
        if let Some(status) = lock(&self.finished).get(command_id) {
            return Ok(Some(status.clone()));
        }
        Ok(lock(&self.cancelled)
            .iter()
            .any(|id| id == command_id)
            .then_some(CommandStatus::Cancelled))
    }
}
