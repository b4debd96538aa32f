//! What a dispatch did: the report, why it stopped, and the lifecycle result it leads to.

use super::*;

/// How a lifecycle action is completed.
///
/// ```
/// use lifecycle_core::LifecycleResult;
/// let result: LifecycleResult = serde_json::from_str(r#""CONTINUE""#).unwrap();
/// assert_eq!(result, LifecycleResult::Continue);
/// assert_eq!(LifecycleResult::Abandon.to_string(), "ABANDON");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LifecycleResult {
    /// `CONTINUE`
    Continue,
    /// `ABANDON`
    Abandon,
}

impl LifecycleResult {
    /// The value `CompleteLifecycleAction` expects.
    ///
    /// ```
    /// use lifecycle_core::LifecycleResult;
    /// assert_eq!(LifecycleResult::Abandon.as_aws_str(), "ABANDON");
    /// ```
    pub fn as_aws_str(self) -> &'static str {
        match self {
            LifecycleResult::Continue => "CONTINUE",
            LifecycleResult::Abandon => "ABANDON",
        }
    }

    /// CONTINUE unless the event failed (ABANDON); a terminating action is always CONTINUE,
    /// since the instance goes away either way.
    ///
    /// ```
    /// use lifecycle_core::{LifecycleResult, LifecycleTransition};
    /// assert_eq!(LifecycleResult::for_outcome(LifecycleTransition::Launching, true), LifecycleResult::Abandon);
    /// assert_eq!(LifecycleResult::for_outcome(LifecycleTransition::Terminating, true), LifecycleResult::Continue);
    /// ```
    pub fn for_outcome(transition: LifecycleTransition, event_failed: bool) -> Self {
        match transition {
            LifecycleTransition::Launching if event_failed => LifecycleResult::Abandon,
            _ => LifecycleResult::Continue,
        }
    }
}

impl fmt::Display for LifecycleResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_aws_str())
    }
}

impl Context<'_> {
    /// The result to complete this event's lifecycle action with, if it belongs to one:
    /// CONTINUE unless the event failed, and always CONTINUE when terminating.
    ///
    /// ```
    /// use lifecycle_core::{Context, Event, LifecycleResult, MemoryEffects, Record};
    /// let effects = MemoryEffects::new();
    /// let launch = lifecycle_core::testing::launching("i-1");
    /// let mut record = Record::new("i-1", "joining");
    /// let ctx = Context::new(&launch, &mut record, &effects);
    /// assert_eq!(ctx.lifecycle_result(), Some(LifecycleResult::Continue));
    /// let scheduled = Event::scheduled("e", "backup");
    /// let mut job = Record::new("backup", "backup");
    /// assert_eq!(Context::new(&scheduled, &mut job, &effects).lifecycle_result(), None);
    /// ```
    pub fn lifecycle_result(&self) -> Option<LifecycleResult> {
        self.event
            .lifecycle_transition()
            .map(|t| LifecycleResult::for_outcome(t, self.event_failed))
    }
}

/// Why processing stopped.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{CommandStatus, StopReason};
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     assert_eq!(harness.launch("i-1").await.unwrap().stop, StopReason::Waiting);
///     let done = harness.finish_command("i-1", CommandStatus::Success).await.unwrap();
///     assert_eq!(done.stop, StopReason::Finished);
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// No trigger of the current state fired, or only an internal one did: the state settled
    /// and waits for another event.
    Settled,
    /// A terminal state was reached.
    Finished,
    /// A trigger marked `stop` fired.
    StopAfterTrigger {
        /// The trigger.
        trigger: &'static str,
    },
    /// A transition marked `wait` entered its destination; the next event (typically a command
    /// result) resumes.
    Waiting,
    /// A compare-and-set found the record changed by someone else: this invocation stopped with
    /// no further side effects, the other one carries on.
    LostRace,
    /// The record has not reached the initial state yet (cloud-init still running).
    NotReady,
    /// The event does not apply to the record's state: a launching event for an instance past
    /// its initial state (e.g. a duplicate), or a terminating event for one that never got
    /// there.
    Refused,
    /// A command result the record does not wait for (a superseded command's, a late
    /// duplicate's, a fire-and-forget command's): nothing runs.
    NotAwaited,
    /// A terminating event that came while the instance's launch waits for a command, in a
    /// state with no trigger for it: noted on the record ([`attr::DEFERRED_TERMINATION`]); it
    /// runs, and is completed, once the launch's lifecycle is over
    /// ([`deferred_termination`]).
    Deferred,
}

impl StopReason {
    /// The reason's name in snake_case, as answers and logs give it.
    ///
    /// ```
    /// use lifecycle_core::StopReason;
    /// assert_eq!(StopReason::LostRace.as_str(), "lost_race");
    /// assert_eq!(StopReason::StopAfterTrigger { trigger: "drain" }.as_str(), "stop_after_trigger");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Settled => "settled",
            StopReason::Finished => "finished",
            StopReason::StopAfterTrigger { .. } => "stop_after_trigger",
            StopReason::Waiting => "waiting",
            StopReason::LostRace => "lost_race",
            StopReason::NotReady => "not_ready",
            StopReason::Refused => "refused",
            StopReason::NotAwaited => "not_awaited",
            StopReason::Deferred => "deferred",
        }
    }
}

/// One trigger that fired.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     let report = harness.launch("i-1").await.unwrap();
///     let fired = report.fired[0];
///     assert_eq!((fired.trigger, fired.from, fired.to), ("join", NodeState::FinishedCloudInit, NodeState::Joining));
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fired<S> {
    /// Index into the model's transitions.
    pub index: usize,
    /// The trigger's name.
    pub trigger: &'static str,
    /// The state it fired from.
    pub from: S,
    /// The state it led to (`from` for an internal transition).
    pub to: S,
}

/// A trigger that reacted to the event but whose guards said no, so the next one was tried.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Drain::default()).with_instance("i-1", DrainState::Ready);
///     let report = harness.terminate("i-1").await.unwrap();
///     // `demote` reacted to the termination, but its guard `is_manager` said no: `drain` fired.
///     assert_eq!(report.declined[0].trigger, "demote");
///     assert_eq!(report.declined[0].fired_before, 0);
///     assert_eq!(report.fired[0].trigger, "drain");
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declined<S> {
    /// The trigger's name.
    pub trigger: &'static str,
    /// The state it would have fired from.
    pub from: S,
    /// How many triggers had fired before: its place among [`Report::fired`].
    pub fired_before: usize,
}

/// What made the event fail.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{CommandStatus, FailureCause};
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     harness.launch("i-1").await.unwrap();
///     let report = harness.finish_command("i-1", CommandStatus::Failed).await.unwrap();
///     let failure = report.failure.unwrap();
///     assert!(matches!(failure.cause, FailureCause::Event(CommandStatus::Failed)));
///     assert_eq!(failure.cause.to_string(), "the command ended with status Failed");
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureCause<E> {
    /// A task returned an error.
    Task(TaskFailure<E>),
    /// The event itself reported failure (a command that did not succeed).
    Event(CommandStatus),
}

impl<E: fmt::Display> fmt::Display for FailureCause<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureCause::Task(failure) => failure.fmt(f),
            FailureCause::Event(status) => write!(f, "the command ended with status {status}"),
        }
    }
}

/// The failure that sent processing to the failure state.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::FailureCause;
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Drain { unreachable: true }).with_instance("i-1", DrainState::Ready);
///     let report = harness.terminate("i-1").await.unwrap();
///     let failure = report.failure.unwrap();
///     assert_eq!((failure.state, failure.trigger), (DrainState::Ready, Some("drain")));
///     let FailureCause::Task(task) = failure.cause else { panic!("a task failed") };
///     assert_eq!(task.to_string(), "task `drain` failed: node unreachable");
///     assert_eq!(report.end, DrainState::Failed);
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure<S, E> {
    /// The state it happened in.
    pub state: S,
    /// The trigger that was firing, if a task failed.
    pub trigger: Option<&'static str>,
    /// What failed.
    pub cause: FailureCause<E>,
    /// How many triggers had fired when it happened: its place in [`Report::fired`].
    pub fired_before: usize,
}

/// What processing one event did: what logs and tests read.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{LifecycleResult, StopReason};
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     let report = harness.launch("i-1").await.unwrap();
///     assert_eq!(report.ident, "i-1");
///     assert_eq!(report.states, [NodeState::FinishedCloudInit, NodeState::Joining]);
///     assert_eq!(report.stop, StopReason::Waiting);
///     assert!(!report.event_failed);
///     // It waits for the join command: the lifecycle action stays open.
///     assert_eq!(report.lifecycle_result, None::<LifecycleResult>);
/// });
/// ```
#[derive(Debug)]
pub struct Report<S, E> {
    /// The event's id.
    pub event_id: String,
    /// The record's `Ident`.
    pub ident: String,
    /// The state the record was in.
    pub start: S,
    /// The state the record is in now.
    pub end: S,
    /// Every state entered, `start` first.
    pub states: Vec<S>,
    /// Every trigger that fired, in order.
    pub fired: Vec<Fired<S>>,
    /// The triggers whose guards said no, in the order they were tried: why another trigger
    /// fired (or none did).
    pub declined: Vec<Declined<S>>,
    /// Why processing stopped.
    pub stop: StopReason,
    /// The failure handled, if any.
    pub failure: Option<Failure<S, E>>,
    /// Errors of `ignore_errors` triggers: logged, and the destination entered anyway.
    pub ignored: Vec<TaskFailure<E>>,
    /// Whether the event failed: failure handling ran (a task failed, or a failed command
    /// result was not handled by an `ignore_errors` trigger).
    pub event_failed: bool,
    /// The result to complete the event's lifecycle action with, when this event ended it:
    /// the record moved and came to rest ([`StopReason::Finished`] or [`StopReason::Settled`]),
    /// or a terminating event found nothing to run (refused, or no trigger reacts): CONTINUE,
    /// so the instance is not held until its hook times out.
    /// CONTINUE unless the event failed (ABANDON); a terminating action is always CONTINUE.
    pub lifecycle_result: Option<LifecycleResult>,
}

impl<S: State, E> Report<S, E> {
    /// The names of the fired triggers, in order.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    ///     let report = harness.launch("i-1").await.unwrap();
    ///     assert_eq!(report.triggers().collect::<Vec<_>>(), ["join"]);
    /// });
    /// ```
    pub fn triggers(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fired.iter().map(|f| f.trigger)
    }

    /// Whether this event ended its lifecycle action (see [`Report::lifecycle_result`]).
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::CommandStatus;
    /// use lifecycle_core::testing::Harness;
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    ///     assert!(!harness.launch("i-1").await.unwrap().is_done());
    ///     assert!(harness.finish_command("i-1", CommandStatus::Success).await.unwrap().is_done());
    /// });
    /// ```
    pub fn is_done(&self) -> bool {
        self.lifecycle_result.is_some()
    }
}

/// The [`Report`] of model `M`.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::ModelReport;
/// use lifecycle_core::testing::Harness;
/// fn summary(report: &ModelReport<Node>) -> String {
///     format!("{} -> {}", report.start, report.end)
/// }
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     let report = harness.launch("i-1").await.unwrap();
///     assert_eq!(summary(&report), "finished_cloud_init -> joining");
/// });
/// ```
pub type ModelReport<M> = Report<<M as LifecycleModel>::State, <M as LifecycleModel>::Error>;
