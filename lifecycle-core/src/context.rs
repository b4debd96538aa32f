//! What a task sees and what it can ask for: the event, the node's record, and side effects
//! such as SSM commands.

use serde_json::Value;

use crate::effects::{
    ClaimOutcome, ClaimRequest, CommandKey, CommandRequest, EffectError, Effects, Records,
};
use crate::token::{delivery_id, write_token, write_token_after};
use crate::{AttributeUpdate, CasOutcome, Record, attr};
use crate::{Event, LifecycleAction};

/// What a task or guard is given: the event being processed, the node's record, and the
/// side effects it may request.
///
/// Attributes set with [`Context::set`] are visible at once and stored with the next state
/// change, in the same write.
///
/// ```
/// use lifecycle_core::{lifecycle_model, CommandRequest, Context};
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("{0}")]
/// pub struct JoinError(String);
///
/// pub struct Node;
///
/// #[lifecycle_model(states(FinishedCloudInit, Joining, Ready, Failed), initial = FinishedCloudInit,
///     terminal(Ready, Failed), failure = Failed, error = JoinError)]
/// impl Node {
///     /// A task reads the event and the record, sets attributes and sends commands.
///     #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
///     async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), JoinError> {
///         let instance = ctx.record().ident.clone();
///         let role = match ctx.lifecycle().and_then(|a| a.metadata_json()) {
///             Some(metadata) => metadata["type"].as_str().unwrap_or("worker").to_owned(),
///             None => "worker".to_owned(),
///         };
///         ctx.set("Role", role.clone());
///         ctx.send_command(CommandRequest::new("ClusterJoin", [instance]).parameter("Role", [role]))
///             .await
///             .map_err(|e| JoinError(e.to_string()))?;
///         Ok(())
///     }
///
///     #[transition(from = Joining, to = Ready, on(command))]
///     async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), JoinError> {
///         Ok(())
///     }
/// }
///
/// lifecycle_core::testing::block_on(async {
///     let mut harness = lifecycle_core::testing::Harness::new(Node)
///         .with_instance("i-1", NodeState::FinishedCloudInit);
///     harness.launch("i-1").await.unwrap();
///     assert_eq!(harness.record("i-1").unwrap().get_str("Role"), Some("worker"));
///     assert_eq!(harness.commands()[0].request.parameters["Role"], ["worker"]);
/// });
/// ```
pub struct Context<'a> {
    pub(crate) event: &'a Event,
    pub(crate) record: &'a mut Record,
    pub(crate) effects: &'a dyn Effects,
    /// The store's records, for tasks that work on other records than the event's.
    pub(crate) records: Option<&'a dyn Records>,
    pub(crate) staged: Vec<(String, Value)>,
    pub(crate) event_failed: bool,
    /// An `ignore_errors` trigger fired for a failed command result: the failure is handled,
    /// and the triggers after it no longer check the event's status.
    pub(crate) event_failure_handled: bool,
    /// The last transient effect error a task saw: if the task fails, the event is retried
    /// rather than failed. A mutex, not a cell: tasks hold `&Context` across awaits, and their
    /// futures must be `Send`.
    pub(crate) transient: std::sync::Mutex<Option<EffectError>>,
    /// Whether `transient` holds an error: the dispatcher checks after every task, and an
    /// atomic load is cheaper than a lock.
    pub(crate) has_transient: std::sync::atomic::AtomicBool,
    /// The lifecycle progress (waiting, result) this event last noted on the record: a later
    /// state change that would note the same writes nothing extra.
    pub(crate) progress_noted: Option<(bool, crate::LifecycleResult)>,
    /// This delivery's id: the claim holder, and the first half of every write token.
    pub(crate) delivery: String,
    /// The side effects of the transition being fired, until its state change is stored.
    pub(crate) step: std::sync::Mutex<StepEffects>,
    /// Whether `step` holds anything: most transitions have no side effect, and the
    /// dispatcher checks after each one; an atomic load is cheaper than a lock.
    pub(crate) step_used: std::sync::atomic::AtomicBool,
    /// The next write's token, built in place (a write per state change: no allocation each).
    pub(crate) token: String,
    /// Whether this delivery has noted a step in the record's history: its next steps share
    /// the first's time and event, and are stored without them.
    pub(crate) noted_step: bool,
}

/// What the transition being fired has claimed and sent.
#[derive(Debug, Default)]
pub(crate) struct StepEffects {
    /// A claim is held (or none is needed) for this transition.
    pub(crate) claimed: bool,
    /// The record's version after the claim write, to write the state change from.
    pub(crate) version: Option<u64>,
    /// The first holder of the chain of claims this one took over (none stored a state change
    /// since): every holder in the chain marks its commands with it, so that whichever of them
    /// sent a command, any later one finds and adopts it.
    pub(crate) previous: Option<String>,
    /// Commands sent under the claim so far (their markers count from 0).
    pub(crate) sent: usize,
    /// Their ids.
    pub(crate) commands: Vec<String>,
    /// Why the claim was refused (busy or lost), for the dispatcher to stop.
    pub(crate) refused: Option<ClaimOutcome>,
}

impl<'a> Context<'a> {
    /// A context for running tasks by hand (the typestate API, tests). The dispatcher makes its
    /// own.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, MemoryEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = MemoryEffects::new();
    /// let mut ctx = Context::new(&event, &mut record, &effects);
    /// ctx.set("LastBackup", "2026-11-25");
    /// assert_eq!(ctx.record().get_str("LastBackup"), Some("2026-11-25"));
    /// ```
    pub fn new(event: &'a Event, record: &'a mut Record, effects: &'a dyn Effects) -> Self {
        Context {
            event,
            record,
            effects,
            records: None,
            staged: Vec::new(),
            event_failed: false,
            event_failure_handled: false,
            transient: std::sync::Mutex::new(None),
            has_transient: std::sync::atomic::AtomicBool::new(false),
            progress_noted: None,
            delivery: delivery_id(),
            step: std::sync::Mutex::new(StepEffects::default()),
            step_used: std::sync::atomic::AtomicBool::new(false),
            token: String::new(),
            noted_step: false,
        }
    }

    /// The context with `records` for [`Context::load_record`] and [`Context::update_record`]
    /// (the dispatcher gives its store; a context made by hand has none).
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, MemoryEffects, MemoryStore, Record};
    /// lifecycle_core::testing::block_on(async {
    /// let store = MemoryStore::new();
    /// store.insert(Record::new("i-1", "ready").with("InstanceIp", "10.0.0.7"));
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = MemoryEffects::new();
    /// let ctx = Context::new(&event, &mut record, &effects).with_records(&store);
    /// let node = ctx.load_record("i-1").await.unwrap().unwrap();
    /// assert_eq!(node.get_str("InstanceIp"), Some("10.0.0.7"));
    /// });
    /// ```
    pub fn with_records(mut self, records: &'a dyn Records) -> Self {
        self.records = Some(records);
        self
    }

    /// This delivery's id: unique to this processing of the event, it names the claim this
    /// delivery takes and the writes it makes.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, MemoryEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let (mut a, mut b) = (Record::new("backup", "backup"), Record::new("backup", "backup"));
    /// let effects = MemoryEffects::new();
    /// let first = Context::new(&event, &mut a, &effects).delivery_id().to_owned();
    /// // The same event processed again is another delivery.
    /// assert_ne!(first, Context::new(&event, &mut b, &effects).delivery_id());
    /// ```
    pub fn delivery_id(&self) -> &str {
        &self.delivery
    }

    pub(crate) fn step(&self) -> std::sync::MutexGuard<'_, StepEffects> {
        self.step_used
            .store(true, std::sync::atomic::Ordering::Release);
        self.step.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The transition's side effects so far, taken (the step starts afresh); nothing if it
    /// had none.
    pub(crate) fn take_step(&self) -> StepEffects {
        if !self
            .step_used
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            return StepEffects::default();
        }
        std::mem::take(&mut *self.step.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether the transition being fired claimed the record or sent anything.
    pub(crate) fn step_used(&self) -> bool {
        self.step_used.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Claims the record for the transition being fired, once, before its first side effect;
    /// returns the next command's key.
    async fn claim(&self) -> Result<CommandKey, EffectError> {
        if !self.step().claimed {
            let version = self.record.version;
            let token = write_token(&self.delivery, version + 1);
            // A claim left by a delivery that never stored its state change: this one takes
            // its chain over, and is written `delivery@first` so the next one can too.
            let first = self.record.claimed_by().map(first_holder);
            let holder = match first {
                Some(first) => format!("{}@{first}", self.delivery),
                None => self.delivery.clone(),
            };
            let request = ClaimRequest {
                ident: &self.record.ident,
                state: &self.record.state,
                version,
                holder: &holder,
                token: &token,
            };
            let outcome = match self.effects.claim(request).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    self.note(Err(&e));
                    return Err(e);
                }
            };
            let mut step = self.step();
            match outcome {
                ClaimOutcome::NotNeeded => step.claimed = true,
                ClaimOutcome::Claimed { version } => {
                    step.claimed = true;
                    step.version = Some(version);
                    step.previous = first.map(str::to_owned);
                }
                refused => {
                    let message = match &refused {
                        ClaimOutcome::Busy { until } => {
                            format!("another delivery holds the record's claim until {until}")
                        }
                        _ => "the record changed before it could be claimed".to_owned(),
                    };
                    step.refused = Some(refused);
                    return Err(EffectError::new("claim", message));
                }
            }
        }
        let mut step = self.step();
        let n = step.sent;
        step.sent += 1;
        // Marked with the chain's first holder: a command any holder of the chain sent is
        // found by every later one, however many took over in between.
        let marked_by = step.previous.as_deref().unwrap_or(&self.delivery);
        Ok(CommandKey {
            marker: format!("{marked_by}.{n}"),
            previous: step.previous.as_ref().map(|p| format!("{p}.{n}")),
        })
    }

    /// Whether this record was last moved by this same event: an earlier delivery of it got
    /// that far before it failed or was cut off, and this one resumes it. Tasks that run before
    /// a state change may already have run once for this event when this is true — and also
    /// when it is false, if the earlier delivery stopped before its first state change — so
    /// they must be idempotent; this tells a task it may find its own earlier work.
    ///
    /// ```
    /// use lifecycle_core::{Context, MemoryEffects, Record};
    /// let event = lifecycle_core::testing::launching("i-1");
    /// let effects = MemoryEffects::new();
    /// // An earlier delivery of this event moved the record to `joining`, and noted so.
    /// let mut record = Record::new("i-1", "joining")
    ///     .with("LifecycleProgress", "CONTINUE wait token-launching-i-1/launch launch-i-1");
    /// assert!(Context::new(&event, &mut record, &effects).is_redelivery());
    /// let mut fresh = Record::new("i-1", "finished_cloud_init");
    /// assert!(!Context::new(&event, &mut fresh, &effects).is_redelivery());
    /// ```
    pub fn is_redelivery(&self) -> bool {
        crate::LifecycleProgress::of(self.record)
            .is_some_and(|progress| progress.event_id == self.event.id)
    }

    fn note(&self, result: Result<(), &EffectError>) {
        if let Err(e) = result
            && e.transient
        {
            *self.transient.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
            self.has_transient
                .store(true, std::sync::atomic::Ordering::Release);
        }
    }

    pub(crate) fn take_transient(&self) -> Option<EffectError> {
        use std::sync::atomic::Ordering;
        if !self.has_transient.load(Ordering::Acquire) {
            return None;
        }
        self.has_transient.store(false, Ordering::Release);
        self.transient
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// The event being processed.
    ///
    /// ```
    /// use lifecycle_core::{Context, EventKind, MemoryEffects, Record};
    /// let event = lifecycle_core::testing::terminating("i-1");
    /// let mut record = Record::new("i-1", "ready");
    /// let effects = MemoryEffects::new();
    /// assert_eq!(Context::new(&event, &mut record, &effects).event().kind, EventKind::Terminating);
    /// ```
    pub fn event(&self) -> &Event {
        self.event
    }

    /// The node's record as it is now (including attributes set by earlier tasks).
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, MemoryEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup").with("Destination", "s3://backups");
    /// let effects = MemoryEffects::new();
    /// let ctx = Context::new(&event, &mut record, &effects);
    /// assert_eq!(ctx.record().get_str("Destination"), Some("s3://backups"));
    /// ```
    pub fn record(&self) -> &Record {
        self.record
    }

    /// The stored name of the current state.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, MemoryEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = MemoryEffects::new();
    /// assert_eq!(Context::new(&event, &mut record, &effects).state(), "backup");
    /// ```
    pub fn state(&self) -> &str {
        &self.record.state
    }

    /// Whether the event has failed and failure handling is running: a task failed, or a failed
    /// command result found no `ignore_errors` trigger to handle it.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, MemoryEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = MemoryEffects::new();
    /// // Only the dispatcher marks an event failed, when a task fails or a command did not succeed.
    /// assert!(!Context::new(&event, &mut record, &effects).event_failed());
    /// ```
    pub fn event_failed(&self) -> bool {
        self.event_failed
    }

    /// The lifecycle action this event belongs to, if any.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, MemoryEffects, Record};
    /// let effects = MemoryEffects::new();
    /// let launch = lifecycle_core::testing::launching("i-1");
    /// let mut record = Record::new("i-1", "finished_cloud_init");
    /// let ctx = Context::new(&launch, &mut record, &effects);
    /// assert_eq!(ctx.lifecycle().unwrap().auto_scaling_group_name, "test-group");
    /// let scheduled = Event::scheduled("e-1", "backup");
    /// let mut job = Record::new("backup", "backup");
    /// assert!(Context::new(&scheduled, &mut job, &effects).lifecycle().is_none());
    /// ```
    pub fn lifecycle(&self) -> Option<&LifecycleAction> {
        self.event.lifecycle.as_ref()
    }

    /// Sets an attribute on the record; it is stored with the next state change.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, MemoryEffects, Record};
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = MemoryEffects::new();
    /// let mut ctx = Context::new(&event, &mut record, &effects);
    /// ctx.set("Attempts", 1);
    /// ctx.set("Attempts", 2);
    /// assert_eq!(ctx.record().attributes["Attempts"], 2);
    /// ```
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        self.record.attributes.insert(key.clone(), value.clone());
        self.stage(key, value);
    }

    /// Stages `value` for the next write, the record already holding it.
    pub(crate) fn stage(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        match self.staged.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.staged.push((key, value)),
        }
    }

    /// Sends an SSM command; its completion event resumes this lifecycle (use `wait` on the
    /// transition to stop until then). Returns the command id.
    ///
    /// The first side effect of a transition claims the record (see [`Effects::claim`]): of
    /// racing deliveries of one event, only the claimer sends; the others stop.
    ///
    /// ```
    /// use lifecycle_core::{CommandRequest, Context, MemoryEffects, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = MemoryEffects::new();
    ///     let event = lifecycle_core::testing::launching("i-1");
    ///     let mut record = Record::new("i-1", "finished_cloud_init");
    ///     let ctx = Context::new(&event, &mut record, &effects);
    ///     let id = ctx
    ///         .send_command(CommandRequest::new("ClusterJoin", ["i-1"]).parameter("Role", ["manager"]))
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(effects.commands()[0].command_id, id);
    /// });
    /// ```
    pub async fn send_command(&self, request: CommandRequest) -> Result<String, EffectError> {
        let key = self.claim().await?;
        let sent = self
            .effects
            .send_command(self.event, self.record, request, &key)
            .await;
        self.note(sent.as_ref().map(|_| ()));
        if let Ok(id) = &sent {
            self.step().commands.push(id.clone());
        }
        sent
    }

    /// Loads another record of the store (a scheduled job loading the node it works on, as the
    /// original library's backup did). `None` if there is none. A store error is transient:
    /// the task fails and the event is delivered again.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, MemoryEffects, MemoryStore, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let store = MemoryStore::new();
    ///     store.insert(Record::new("i-1", "ready"));
    ///     let event = Event::scheduled("e-1", "backup");
    ///     let mut record = Record::new("backup", "backup");
    ///     let effects = MemoryEffects::new();
    ///     let ctx = Context::new(&event, &mut record, &effects).with_records(&store);
    ///     assert_eq!(ctx.load_record("i-1").await.unwrap().unwrap().state, "ready");
    ///     assert!(ctx.load_record("i-9").await.unwrap().is_none());
    /// });
    /// ```
    pub async fn load_record(&self, ident: &str) -> Result<Option<Record>, EffectError> {
        let loaded = self.records("load_record")?.load_record(ident).await;
        self.note(loaded.as_ref().map(|_| ()));
        loaded
    }

    /// Stores `set` (null removes) on `record`, a record loaded with
    /// [`Context::load_record`], if it is still as it was loaded: `Ok(true)` and `record`
    /// updated, or `Ok(false)` if someone changed it since (load it again and decide again), or
    /// a delivery holds its claim. Its state, claim and waits are left alone. The record being
    /// processed is changed with [`Context::set`] instead (it is stored with the state change).
    ///
    /// Like every task's effect, this may run again when the event is delivered again: the
    /// condition makes a repeated update find the record changed, not apply twice.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, MemoryEffects, MemoryStore, Record};
    /// lifecycle_core::testing::block_on(async {
    /// let store = MemoryStore::new();
    /// store.insert(Record::new("i-1", "ready"));
    /// let event = Event::scheduled("e-1", "backup");
    /// let mut record = Record::new("backup", "backup");
    /// let effects = MemoryEffects::new();
    /// let ctx = Context::new(&event, &mut record, &effects).with_records(&store);
    /// let mut node = ctx.load_record("i-1").await.unwrap().unwrap();
    /// let mut stale = node.clone();
    /// assert!(ctx.update_record(&mut node, vec![("LastBackup".into(), "e-1".into())]).await.unwrap());
    /// assert_eq!(store.get("i-1").unwrap().get_str("LastBackup"), Some("e-1"));
    /// // A copy loaded before that write is out of date: nothing is written.
    /// assert!(!ctx.update_record(&mut stale, vec![("LastBackup".into(), "e-0".into())]).await.unwrap());
    /// });
    /// ```
    pub async fn update_record(
        &self,
        record: &mut Record,
        set: Vec<(String, Value)>,
    ) -> Result<bool, EffectError> {
        if record.ident == self.record.ident {
            return Err(EffectError::new(
                "update_record",
                "this is the record being processed: change it with ctx.set, stored with the state change",
            ));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if record.claimed_by().is_some() && record.claimed_until().is_some_and(|until| until > now)
        {
            return Ok(false);
        }
        // A token of its own, not the delivery's: one delivery may try several updates of the
        // same record at the same version (a stale copy, then a fresh one), and only a retry of
        // this very request may find its token there and count as applied.
        let Some(token) = write_token_after(record) else {
            return Err(EffectError::new(
                "update_record",
                format!(
                    "record `{}` has a Version no write can follow",
                    record.ident
                ),
            ));
        };
        let update = AttributeUpdate {
            ident: &record.ident,
            state: &record.state,
            version: record.version,
            set: &set,
            token: &token,
        };
        let outcome = self.records("update_record")?.update_record(update).await;
        self.note(outcome.as_ref().map(|_| ()));
        match outcome? {
            CasOutcome::Applied { version } => {
                for (key, value) in set {
                    if value.is_null() {
                        record.attributes.remove(&key);
                    } else {
                        record.attributes.insert(key, value);
                    }
                }
                record.version = version;
                record
                    .attributes
                    .insert(attr::WRITE_TOKEN.into(), Value::String(token));
                Ok(true)
            }
            CasOutcome::Conflict => Ok(false),
        }
    }

    fn records(&self, operation: &'static str) -> Result<&'a dyn Records, EffectError> {
        self.records.ok_or_else(|| {
            EffectError::new(
                operation,
                "this context has no store: the dispatcher gives one; a context made by hand takes one with Context::with_records",
            )
        })
    }

    /// Records a heartbeat for this event's lifecycle action, so the hook does not time out
    /// during a long task.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, MemoryEffects, Record};
    /// lifecycle_core::testing::block_on(async {
    ///     let effects = MemoryEffects::new();
    ///     let launch = lifecycle_core::testing::launching("i-1");
    ///     let mut record = Record::new("i-1", "joining");
    ///     Context::new(&launch, &mut record, &effects).heartbeat().await.unwrap();
    ///     assert_eq!(effects.heartbeats().len(), 1);
    ///     // A scheduled job has no lifecycle action to keep alive.
    ///     let scheduled = Event::scheduled("e-1", "backup");
    ///     let mut job = Record::new("backup", "backup");
    ///     assert!(Context::new(&scheduled, &mut job, &effects).heartbeat().await.is_err());
    /// });
    /// ```
    pub async fn heartbeat(&self) -> Result<(), EffectError> {
        match &self.event.lifecycle {
            Some(action) => {
                let recorded = self.effects.record_heartbeat(action).await;
                self.note(recorded.as_ref().copied());
                recorded
            }
            None => Err(EffectError::new(
                "record_heartbeat",
                "this event belongs to no lifecycle action",
            )),
        }
    }
}

/// The first holder of a chain of claims, from a claim's holder (`delivery@first`, or the
/// first itself).
fn first_holder(holder: &str) -> &str {
    holder.split_once('@').map_or(holder, |(_, first)| first)
}
