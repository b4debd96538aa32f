//! What tasks can ask for, on AWS: SSM commands whose results resume the lifecycle, and
//! heartbeats.
//!
//! ```
//! use std::sync::Arc;
//! use lifecycle_aws::effects::{CommandSender, SsmCommands};
//! use lifecycle_aws::testing::MemoryCommands;
//! use lifecycle_core::CommandRequest;
//! # let config = lifecycle_aws::testing::example_sdk_config();
//! // Deployed: SSM. In tests: a stand-in in memory that keeps what it was sent.
//! let deployed: Arc<dyn CommandSender> = Arc::new(SsmCommands(aws_sdk_ssm::Client::new(&config)));
//! let memory = Arc::new(MemoryCommands::new());
//! let commands: Arc<dyn CommandSender> = memory.clone();
//! let join = CommandRequest::new("ClusterJoin", ["i-1"]).parameter("Role", ["worker"]);
//! let id = lifecycle_aws::testing::block_on(commands.send(&join)).unwrap();
//! assert_eq!(memory.sent(), [(id, join)]);
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

use lifecycle_core::{
    ClaimOutcome, ClaimRequest, CommandKey, CommandRequest, CommandStatus, EffectError, Effects,
    Event, LifecycleAction, Record,
};

use crate::actions::{Completed, LifecycleActions};
use crate::aws_error::{error_chain, is_transient};
use crate::store::{CommandRegistration, NodeTable, StoreError};

/// An SDK error as an [`EffectError`], transient or not.
fn effect_error<E, R>(
    operation: &'static str,
    error: &aws_sdk_ssm::error::SdkError<E, R>,
) -> EffectError
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    if is_transient(error) {
        EffectError::transient(operation, error_chain(error))
    } else {
        EffectError::new(operation, error_chain(error))
    }
}

/// Sends commands to instances: SSM `SendCommand` on AWS ([`SsmCommands`]), a simulation
/// locally.
///
/// ```
/// use lifecycle_aws::effects::CommandSender;
/// use lifecycle_core::{CommandRequest, EffectError};
///
/// /// Commands run by a local agent instead of SSM.
/// struct Agent;
///
/// #[async_trait::async_trait]
/// impl CommandSender for Agent {
///     async fn send(&self, request: &CommandRequest) -> Result<String, EffectError> {
///         Ok(format!("agent-{}", request.document_name))
///     }
///
///     async fn cancel(&self, _command_id: &str) -> Result<(), EffectError> {
///         Ok(())
///     }
/// }
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let id = Agent.send(&CommandRequest::new("ClusterJoin", ["i-1"])).await.unwrap();
///     assert_eq!(id, "agent-ClusterJoin");
///     // No lookup by marker: a delivery that died after sending sends again.
///     assert_eq!(Agent.find(&CommandRequest::new("ClusterJoin", ["i-1"]), "d1.0").await.unwrap(), None);
/// });
/// ```
#[async_trait::async_trait]
pub trait CommandSender: Send + Sync {
    /// Sends `request`; returns the command id.
    ///
    /// ```
    /// use lifecycle_aws::effects::CommandSender;
    /// use lifecycle_aws::testing::MemoryCommands;
    /// use lifecycle_core::CommandRequest;
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let commands = MemoryCommands::new();
    ///     let id = commands.send(&CommandRequest::new("ClusterLeave", ["i-1"])).await.unwrap();
    ///     assert_eq!(commands.sent()[0].0, id);
    /// });
    /// ```
    async fn send(&self, request: &CommandRequest) -> Result<String, EffectError>;

    /// Cancels a command sent moments ago.
    ///
    /// ```
    /// use lifecycle_aws::effects::CommandSender;
    /// use lifecycle_aws::testing::MemoryCommands;
    /// use lifecycle_core::CommandRequest;
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let commands = MemoryCommands::new();
    ///     let id = commands.send(&CommandRequest::new("ClusterLeave", ["i-1"])).await.unwrap();
    ///     commands.cancel(&id).await.unwrap();
    ///     assert_eq!(commands.cancelled(), [id]);
    /// });
    /// ```
    async fn cancel(&self, command_id: &str) -> Result<(), EffectError>;

    /// A command for `request`'s first instance sent earlier with `marker` in its comment and
    /// not cancelled: what a delivery that died after sending left behind. The default finds
    /// nothing (a sender that cannot look commands up sends again).
    ///
    /// ```
    /// use lifecycle_aws::effects::{CommandSender, marked_comment};
    /// use lifecycle_aws::testing::MemoryCommands;
    /// use lifecycle_core::CommandRequest;
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let commands = MemoryCommands::new();
    ///     let request = CommandRequest::new("ClusterJoin", ["i-1"]).comment(marked_comment(None, "d1.0"));
    ///     let id = commands.send(&request).await.unwrap();
    ///     assert_eq!(commands.find(&request, "d1.0").await.unwrap(), Some(id));
    ///     assert_eq!(commands.find(&request, "d9.0").await.unwrap(), None);
    /// });
    /// ```
    async fn find(
        &self,
        request: &CommandRequest,
        marker: &str,
    ) -> Result<Option<String>, EffectError> {
        let _ = (request, marker);
        Ok(None)
    }

    /// How command `command_id` ended, once it has: what the sweep asks of a command whose
    /// lifecycle still waits for its result (its status event lost — EventBridge delivers
    /// best-effort — or come before the command was registered and let go). `None` while it
    /// runs; the default cannot tell, and the wait ends at its deadline.
    ///
    /// ```
    /// use lifecycle_aws::effects::CommandSender;
    /// use lifecycle_aws::testing::MemoryCommands;
    /// use lifecycle_core::{CommandRequest, CommandStatus};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let commands = MemoryCommands::new();
    ///     let id = commands.send(&CommandRequest::new("ClusterJoin", ["i-1"])).await.unwrap();
    ///     assert_eq!(commands.status(&id).await.unwrap(), None, "still running");
    ///     commands.finish(&id, CommandStatus::Success);
    ///     assert_eq!(commands.status(&id).await.unwrap(), Some(CommandStatus::Success));
    /// });
    /// ```
    async fn status(&self, command_id: &str) -> Result<Option<CommandStatus>, EffectError> {
        let _ = command_id;
        Ok(None)
    }
}

/// SSM's limit on a command's comment.
const COMMENT_LIMIT: usize = 100;

/// `comment` with `[marker]` at its end, within SSM's 100 characters (the comment is cut, the
/// marker never).
///
/// ```
/// use lifecycle_aws::effects::marked_comment;
/// assert_eq!(marked_comment(Some("join"), "0123abcd.0"), "join [0123abcd.0]");
/// assert_eq!(marked_comment(None, "0123abcd.0"), "[0123abcd.0]");
/// assert_eq!(marked_comment(Some(&"x".repeat(200)), "m.0").len(), 100);
/// ```
pub fn marked_comment(comment: Option<&str>, marker: &str) -> String {
    let tag = format!("[{marker}]");
    let Some(comment) = comment.filter(|c| !c.is_empty()) else {
        return tag;
    };
    let room = COMMENT_LIMIT.saturating_sub(tag.len() + 1);
    let mut end = comment.len().min(room);
    while !comment.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} {tag}", &comment[..end])
}

/// Whether a command's `comment` carries `marker` (as [`marked_comment`] puts it): how
/// [`CommandSender::find`] recognises a command sent under a claim.
///
/// ```
/// use lifecycle_aws::effects::{carries_marker, marked_comment};
/// let comment = marked_comment(Some("join"), "0123abcd.0");
/// assert!(carries_marker(Some(&comment), "0123abcd.0"));
/// assert!(!carries_marker(Some(&comment), "0123abcd.1"));
/// assert!(!carries_marker(None, "0123abcd.0"));
/// ```
pub fn carries_marker(comment: Option<&str>, marker: &str) -> bool {
    comment.is_some_and(|c| {
        c.strip_suffix(']')
            .and_then(|c| c.strip_suffix(marker))
            .is_some_and(|c| c.ends_with('['))
    })
}

/// [`CommandSender`] through SSM.
///
/// Deployed, `SsmCommands(aws_sdk_ssm::Client::new(&config))`; here with a mocked client, to
/// show the request a command makes (values as document parameters):
///
/// ```
/// use aws_sdk_ssm::operation::send_command::SendCommandOutput;
/// use aws_sdk_ssm::types::Command;
/// use aws_smithy_mocks::{mock, mock_client};
/// use lifecycle_aws::effects::{CommandSender, SsmCommands};
/// use lifecycle_core::CommandRequest;
/// let send = mock!(aws_sdk_ssm::Client::send_command)
///     .match_requests(|r| {
///         r.document_name() == Some("ClusterJoin")
///             && r.instance_ids() == ["i-1"]
///             && r.parameters().and_then(|p| p.get("Role")).map(Vec::as_slice) == Some(&["worker".to_owned()][..])
///     })
///     .then_output(|| SendCommandOutput::builder().command(Command::builder().command_id("c-1").build()).build());
/// let commands = SsmCommands(mock_client!(aws_sdk_ssm, [&send]));
/// let join = CommandRequest::new("ClusterJoin", ["i-1"]).parameter("Role", ["worker"]);
/// assert_eq!(lifecycle_aws::testing::block_on(commands.send(&join)).unwrap(), "c-1");
/// assert_eq!(send.num_calls(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct SsmCommands(pub aws_sdk_ssm::Client);

#[async_trait::async_trait]
impl CommandSender for SsmCommands {
    /// Values go in as document parameters, never spliced into a shell string. Sent once: SSM
    /// has no idempotency token, so the SDK's retry (after a timeout or a 5xx the command may
    /// have run) would start a second command; [`AwsEffects`] looks the command up by its
    /// marker instead.
    async fn send(&self, request: &CommandRequest) -> Result<String, EffectError> {
        let parameters: HashMap<String, Vec<String>> =
            request.parameters.clone().into_iter().collect();
        let once = aws_sdk_ssm::config::retry::RetryConfig::standard().with_max_attempts(1);
        let output = self
            .0
            .send_command()
            .document_name(&request.document_name)
            .set_instance_ids(Some(request.instance_ids.clone()))
            .set_parameters((!parameters.is_empty()).then_some(parameters))
            .set_comment(request.comment.clone())
            .customize()
            .config_override(aws_sdk_ssm::config::Config::builder().retry_config(once))
            .send()
            .await
            .map_err(|e| effect_error("send_command", &e))?;
        output
            .command()
            .and_then(|c| c.command_id())
            .map(str::to_owned)
            .ok_or_else(|| EffectError::new("send_command", "SSM returned no command id"))
    }

    async fn cancel(&self, command_id: &str) -> Result<(), EffectError> {
        self.0
            .cancel_command()
            .command_id(command_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| effect_error("cancel_command", &e))
    }

    /// `ListCommands` for the instance (the most recent 50): only a delivery that takes over
    /// an abandoned claim asks.
    async fn find(
        &self,
        request: &CommandRequest,
        marker: &str,
    ) -> Result<Option<String>, EffectError> {
        use aws_sdk_ssm::types::CommandStatus;
        let Some(instance) = request.instance_ids.first() else {
            return Ok(None);
        };
        let output = self
            .0
            .list_commands()
            .instance_id(instance)
            .max_results(50)
            .send()
            .await
            .map_err(|e| effect_error("list_commands", &e))?;
        Ok(output
            .commands()
            .iter()
            .filter(|c| carries_marker(c.comment(), marker))
            .filter(|c| {
                !matches!(
                    c.status(),
                    Some(CommandStatus::Cancelled | CommandStatus::Cancelling)
                )
            })
            .find_map(|c| c.command_id().map(str::to_owned)))
    }

    /// `ListCommands` for the command: its status, once it is final.
    async fn status(&self, command_id: &str) -> Result<Option<CommandStatus>, EffectError> {
        use aws_sdk_ssm::types::CommandStatus as Ssm;
        let output = self
            .0
            .list_commands()
            .command_id(command_id)
            .send()
            .await
            .map_err(|e| effect_error("list_commands", &e))?;
        Ok(output
            .commands()
            .first()
            .and_then(|c| c.status())
            .and_then(|status| match status {
                Ssm::Success => Some(CommandStatus::Success),
                Ssm::Failed => Some(CommandStatus::Failed),
                Ssm::TimedOut => Some(CommandStatus::TimedOut),
                Ssm::Cancelled => Some(CommandStatus::Cancelled),
                // Pending, InProgress, Cancelling: not over yet.
                _ => None,
            }))
    }
}

/// A claim this delivery holds: what to release if it stops before its state change.
///
/// ```
/// use lifecycle_aws::effects::AwsEffects;
/// use lifecycle_aws::store::MemoryTable;
/// use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
/// let (commands, table, actions) = (MemoryCommands::new(), MemoryTable::new(), MemoryActions::new());
/// let now = 1_764_158_400;
/// let effects = AwsEffects::new(&commands, &table, &actions, Some("eu-central-1"), now, now + 60);
/// // Nothing claimed yet: nothing to release.
/// assert!(effects.held_claim().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldClaim {
    /// The record.
    pub ident: String,
    /// This delivery.
    pub holder: String,
    /// The record's version the claim wrote.
    pub version: u64,
}

/// [`Effects`] for one event: the record claimed before a side effect, commands sent (or
/// adopted) and registered in the node table, heartbeats in the event's region.
///
/// ```
/// use lifecycle_aws::effects::AwsEffects;
/// use lifecycle_aws::store::MemoryTable;
/// use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
/// let (commands, table, actions) = (MemoryCommands::new(), MemoryTable::new(), MemoryActions::new());
/// let now = 1_764_158_400;
/// let effects = AwsEffects::new(&commands, &table, &actions, Some("eu-central-1"), now, now + 60);
/// use lifecycle_core::{CommandKey, CommandRequest, Effects, Record};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let event = lifecycle_core::testing::launching("i-1");
///     let key = CommandKey { marker: "d1.0".into(), previous: None };
///     let id = effects.send_command(&event, &Record::new("i-1", "joining"),
///         CommandRequest::new("ClusterJoin", ["i-1"]), &key).await.unwrap();
///     assert_eq!(commands.sent()[0].0, id);
///     // No state change has taken the command up yet; it was registered at the record's
///     // version (no claim was taken here).
///     assert_eq!(effects.uncommitted(), [(id, 0)]);
/// });
/// ```
pub struct AwsEffects<'a, T> {
    commands: &'a dyn CommandSender,
    table: &'a T,
    actions: &'a dyn LifecycleActions,
    region: Option<&'a str>,
    now: u64,
    lease_until: u64,
    /// When the sweep first looks at a command of a lifecycle action (its first heartbeat),
    /// and at any command (its deadline).
    first_look: u64,
    deadline_at: u64,
    /// The model whose lifecycle waits for the commands (their `WaitShard`).
    waiter: &'a str,
    /// What the deployment puts before each document's name (`Runtime::with_name_prefix`).
    document_prefix: &'a str,
    /// Every command sent or adopted, the claim version it was registered at, and whether a
    /// stored state change made it part of the lifecycle.
    sent: Mutex<Vec<(String, u64, bool)>>,
    claim: Mutex<Option<HeldClaim>>,
    /// The clock the lease is checked against before each command is sent.
    clock: Option<&'a dyn crate::runtime::Clock>,
}

impl<'a, T: NodeTable> AwsEffects<'a, T> {
    /// Effects through these parts, for an event from `region` handled at `now` (epoch
    /// seconds: when its commands are registered). Claims last until `lease_until`.
    ///
    /// ```
    /// use lifecycle_aws::effects::AwsEffects;
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
    /// let (commands, table, actions) = (MemoryCommands::new(), MemoryTable::new(), MemoryActions::new());
    /// let now = 1_764_158_400;
    /// let effects = AwsEffects::new(&commands, &table, &actions, None, now, now + 60);
    /// assert!(effects.uncommitted().is_empty());
    /// ```
    pub fn new(
        commands: &'a dyn CommandSender,
        table: &'a T,
        actions: &'a dyn LifecycleActions,
        region: Option<&'a str>,
        now: u64,
        lease_until: u64,
    ) -> Self {
        AwsEffects {
            commands,
            table,
            actions,
            region,
            now,
            lease_until,
            first_look: u64::MAX,
            deadline_at: u64::MAX,
            waiter: "",
            document_prefix: "",
            sent: Mutex::new(Vec::new()),
            claim: Mutex::new(None),
            clock: None,
        }
    }

    /// The clock to check the lease against before each command is sent and before each
    /// transition's tasks ([`Effects::may_act`]): a delivery paused past its lease (another
    /// may hold the record now) sends nothing and runs no further task, and fails
    /// transiently. Without one, the lease is not checked here.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use lifecycle_aws::effects::AwsEffects;
    /// use lifecycle_aws::runtime::Clock;
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
    /// use lifecycle_core::Effects;
    /// /// A clock at a given second.
    /// struct At(u64);
    /// impl Clock for At {
    ///     fn now(&self) -> SystemTime { SystemTime::UNIX_EPOCH + Duration::from_secs(self.0) }
    /// }
    /// let (commands, table, actions) = (MemoryCommands::new(), MemoryTable::new(), MemoryActions::new());
    /// let now = 1_764_158_400;
    /// let (within, past) = (At(now + 59), At(now + 60));
    /// let effects = |clock| AwsEffects::new(&commands, &table, &actions, None, now, now + 60).with_clock(clock);
    /// assert!(effects(&within).may_act().is_ok());
    /// let refused = effects(&past).may_act().unwrap_err();
    /// assert!(refused.transient && refused.to_string().contains("lease ran out"));
    /// ```
    pub fn with_clock(mut self, clock: &'a dyn crate::runtime::Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Whether this delivery holds a claim whose lease has run out by its clock
    /// ([`AwsEffects::with_clock`]): it was paused past it, and another delivery may have
    /// taken the record over.
    fn lease_ran_out(&self) -> bool {
        self.clock.is_some_and(|clock| {
            lock(&self.claim).is_some()
                && crate::runtime::epoch_seconds(clock.now()) >= self.lease_until
        })
    }

    /// When `waiter`'s sweep (the model's) first looks at the commands sent: at `first_look`
    /// (to keep a lifecycle action alive and ask SSM how the command stands), or at
    /// `deadline_at` (to end the wait) if that comes first. Default: never.
    pub fn with_waits(mut self, waiter: &'a str, first_look: u64, deadline_at: u64) -> Self {
        self.waiter = waiter;
        self.first_look = first_look;
        self.deadline_at = deadline_at;
        self
    }

    /// Sends each document under `prefix` followed by the name the model gave it (the
    /// deployment's documents are named after its stack); the command is registered under
    /// the model's name. Default: no prefix.
    ///
    /// ```
    /// use lifecycle_aws::effects::AwsEffects;
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
    /// use lifecycle_core::{CommandKey, CommandRequest, Effects, Record};
    /// let (commands, table, actions) = (MemoryCommands::new(), MemoryTable::new(), MemoryActions::new());
    /// let effects = AwsEffects::new(&commands, &table, &actions, None, 1_000, 1_060).with_document_prefix("prod-");
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let key = CommandKey { marker: "d1.0".into(), previous: None };
    ///     effects.send_command(&lifecycle_core::testing::launching("i-1"), &Record::new("i-1", "joining"),
    ///         CommandRequest::new("ClusterJoin", ["i-1"]), &key).await.unwrap();
    /// });
    /// assert_eq!(commands.sent()[0].1.document_name, "prod-ClusterJoin");
    /// ```
    pub fn with_document_prefix(mut self, prefix: &'a str) -> Self {
        self.document_prefix = prefix;
        self
    }

    /// The commands no stored state change took up: a lost race's, a failed transition's, or
    /// those of a delivery cut off before its state change; each with the claim version it was
    /// registered at (what [`NodeTable::withdraw_command`] withdraws it by).
    ///
    /// ```
    /// use lifecycle_aws::effects::AwsEffects;
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
    /// let (commands, table, actions) = (MemoryCommands::new(), MemoryTable::new(), MemoryActions::new());
    /// let now = 1_764_158_400;
    /// let effects = AwsEffects::new(&commands, &table, &actions, Some("eu-central-1"), now, now + 60);
    /// assert!(effects.uncommitted().is_empty());
    /// ```
    pub fn uncommitted(&self) -> Vec<(String, u64)> {
        lock(&self.sent)
            .iter()
            .filter(|(_, _, stored)| !stored)
            .map(|(id, version, _)| (id.clone(), *version))
            .collect()
    }

    /// The claim this delivery still holds (no state change released it).
    ///
    /// ```
    /// use lifecycle_aws::effects::AwsEffects;
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
    /// let (commands, table, actions) = (MemoryCommands::new(), MemoryTable::new(), MemoryActions::new());
    /// let now = 1_764_158_400;
    /// let effects = AwsEffects::new(&commands, &table, &actions, Some("eu-central-1"), now, now + 60);
    /// assert!(effects.held_claim().is_none());
    /// ```
    pub fn held_claim(&self) -> Option<HeldClaim> {
        lock(&self.claim).clone()
    }

    /// The claim's version: what a command sent now is registered at.
    fn sent_at_version(&self, record: &Record) -> u64 {
        lock(&self.claim)
            .as_ref()
            .map_or(record.version, |c| c.version)
    }

    async fn register(
        &self,
        event: &Event,
        record: &Record,
        request: &CommandRequest,
        command_id: &str,
        marker: &str,
    ) -> Result<(), crate::store::StoreError> {
        let sent_at_version = self.sent_at_version(record);
        self.table
            .register_command(CommandRegistration {
                command_id,
                owner: &record.ident,
                targets: &request.instance_ids,
                lifecycle: event.lifecycle.as_ref(),
                event_id: &event.id,
                comment: request.comment.as_deref(),
                document_name: &request.document_name,
                registered_at: self.now,
                sent_at_version,
                marker,
                // Looked at every heartbeat interval, with a lifecycle action or without: SSM
                // is asked how the command stands (its result may be lost), and a termination
                // deferred behind it is kept alive.
                due_at: self.first_look.min(self.deadline_at),
                waiter: self.waiter,
            })
            .await
    }
}

fn lock<V>(mutex: &Mutex<V>) -> std::sync::MutexGuard<'_, V> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait::async_trait]
impl<T: NodeTable> Effects for AwsEffects<'_, T> {
    async fn claim(&self, request: ClaimRequest<'_>) -> Result<ClaimOutcome, EffectError> {
        // Held until known otherwise: a claim whose answer was lost may have been applied, and
        // must then be let go when the delivery stops (releasing one that was not is a no-op).
        *lock(&self.claim) = Some(HeldClaim {
            ident: request.ident.to_owned(),
            holder: request.holder.to_owned(),
            version: request.version + 1,
        });
        let outcome = self
            .table
            .claim(request, self.lease_until, self.now)
            .await
            .map_err(|e| match e {
                StoreError::Request {
                    transient: true, ..
                } => EffectError::transient("claim", e.to_string()),
                StoreError::Request { .. } => EffectError::new("claim", e.to_string()),
                StoreError::Malformed { .. } => EffectError::new("claim", e.to_string()),
            })?;
        if !matches!(outcome, ClaimOutcome::Claimed { .. }) {
            *lock(&self.claim) = None;
        }
        Ok(outcome)
    }

    /// Sends the command with its marker in the comment (or adopts the one an earlier holder
    /// of the claim sent), then registers it so its status-change event resumes the
    /// lifecycle. A command sent but not registered stays: the event fails transiently, and
    /// its redelivery, taking the claim over, finds and adopts it.
    async fn send_command(
        &self,
        event: &Event,
        record: &Record,
        mut request: CommandRequest,
        key: &CommandKey,
    ) -> Result<String, EffectError> {
        let mut adopted = None;
        if let Some(previous) = &key.previous {
            adopted = self.commands.find(&request, previous).await?;
        }
        let (command_id, marker) = match adopted {
            Some(id) => {
                tracing::info!(event_id = %event.id, command_id = %id, marker = %key.previous.as_deref().unwrap_or_default(), "adopted the command an earlier delivery sent");
                (id, key.previous.clone().unwrap_or_default())
            }
            None => {
                request.comment = Some(marked_comment(request.comment.as_deref(), &key.marker));
                // The deployed document's name; the model's name stays in the registration.
                let named = if self.document_prefix.is_empty() {
                    std::borrow::Cow::Borrowed(&request)
                } else {
                    let mut named = request.clone();
                    named.document_name =
                        format!("{}{}", self.document_prefix, request.document_name);
                    std::borrow::Cow::Owned(named)
                };
                if self.lease_ran_out() {
                    return Err(EffectError::transient(
                        "send_command",
                        "the claim's lease ran out before the command was sent (this delivery was paused past it): another delivery may hold the record now",
                    ));
                }
                let id = match self.commands.send(&named).await {
                    Ok(id) => id,
                    // The answer may be lost with the command sent: look before anyone sends
                    // again.
                    Err(e) if e.transient => {
                        match self.commands.find(&request, &key.marker).await {
                            Ok(Some(id)) => {
                                tracing::info!(event_id = %event.id, command_id = %id, error = %e, "SendCommand failed but the command was sent: adopted it");
                                id
                            }
                            _ => return Err(e),
                        }
                    }
                    Err(e) => return Err(e),
                };
                tracing::info!(event_id = %event.id, command_id = %id, document = %request.document_name, "command sent");
                (id, key.marker.clone())
            }
        };
        let version = self.sent_at_version(record);
        lock(&self.sent).push((command_id.clone(), version, false));
        if let Err(e) = self
            .register(event, record, &request, &command_id, &marker)
            .await
        {
            return Err(EffectError::transient(
                "send_command",
                format!("sent {command_id} but could not register it: {e}"),
            ));
        }
        Ok(command_id)
    }

    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), EffectError> {
        match self.actions.heartbeat(action, self.region).await {
            Ok(Completed::Done) => Ok(()),
            Ok(Completed::NoActiveAction) => Err(EffectError::new(
                "record_heartbeat",
                "Auto Scaling has no active lifecycle action for this instance any more",
            )),
            Err(e) => Err(EffectError::transient("record_heartbeat", e.to_string())),
        }
    }

    fn stored(&self, commands: &[String]) {
        for (id, _, stored) in lock(&self.sent).iter_mut() {
            *stored |= commands.contains(id);
        }
        *lock(&self.claim) = None;
    }

    /// The runtime's clock at this delivery (simulated in local runs).
    fn now(&self) -> Option<u64> {
        Some(self.now)
    }

    /// Until the lease this delivery was given at its start runs out by its clock
    /// ([`AwsEffects::with_clock`]), claim or no claim: the sweep goes on with a record left
    /// still that long after its last step, so past it another may be acting on the record.
    fn may_act(&self) -> Result<(), EffectError> {
        match self.clock {
            Some(clock) if crate::runtime::epoch_seconds(clock.now()) >= self.lease_until => {
                Err(EffectError::transient(
                    "act",
                    "this delivery's lease ran out (it was paused past it): another may be acting on the record now",
                ))
            }
            _ => Ok(()),
        }
    }
}
