//! Testing a model in memory: events as AWS would deliver them, and a [`Harness`] that feeds
//! them to a model the way the Lambda does — state in a [`MemoryStore`], commands recorded by
//! [`LocalEffects`], command results fed back to the record that waits for them — and remembers
//! which lifecycle actions ended, and how.
//!
//! The central pattern: a task sends a command and its transition `wait`s; the command's
//! result moves the record on.
//!
//! ```
//! use lifecycle_core::testing::Harness;
//! use lifecycle_core::{CommandRequest, CommandStatus, Context, LifecycleResult, lifecycle_model};
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("{0}")]
//! pub struct JoinError(String);
//!
//! pub struct Node;
//!
//! #[lifecycle_model(
//!     states(FinishedCloudInit, Joining, Ready, Failed),
//!     initial = FinishedCloudInit,
//!     terminal(Ready, Failed),
//!     failure = Failed,
//!     error = JoinError,
//! )]
//! impl Node {
//!     /// Ask the node to join the cluster, and wait for the command to finish.
//!     #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
//!     async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), JoinError> {
//!         let instance = ctx.record().ident.clone();
//!         ctx.send_command(CommandRequest::new("ClusterJoin", [instance]))
//!             .await
//!             .map_err(|e| JoinError(e.to_string()))?;
//!         Ok(())
//!     }
//!
//!     #[transition(from = Joining, to = Ready, on(command))]
//!     async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), JoinError> {
//!         Ok(())
//!     }
//! }
//!
//! lifecycle_core::testing::block_on(async {
//! let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
//!
//! // The launch sends the command and waits: the lifecycle action stays open.
//! let report = harness.launch("i-1").await.unwrap();
//! assert_eq!(report.end, NodeState::Joining);
//! assert_eq!(harness.commands()[0].request.document_name, "ClusterJoin");
//! assert!(harness.completions().is_empty());
//!
//! // The command's result moves the record on, and ends the lifecycle action.
//! harness.finish_command("i-1", CommandStatus::Success).await.unwrap();
//! assert_eq!(harness.state("i-1"), Some(NodeState::Ready));
//! assert_eq!(harness.completions()[0].result, LifecycleResult::Continue);
//!
//! // A failed command fails the launch: ABANDON.
//! let mut harness = Harness::new(Node).with_instance("i-2", NodeState::FinishedCloudInit);
//! harness.launch("i-2").await.unwrap();
//! harness.finish_command("i-2", CommandStatus::Failed).await.unwrap();
//! assert_eq!(harness.state("i-2"), Some(NodeState::Failed));
//! assert_eq!(harness.completions()[0].result, LifecycleResult::Abandon);
//! });
//! ```

pub mod example;
pub mod minimal;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};

use crate::{
    CommandStatus, Event, EventKind, LifecycleAction, LifecycleModel, LifecycleResult,
    LifecycleTransition, LocalEffects, Location, MemoryStore, ModelDispatchError, ModelReport,
    Record, SentCommand, State, Store, dispatch, scheduled_restart,
};

/// The Auto Scaling group of the events built here.
///
/// ```
/// use lifecycle_core::testing::{GROUP, launching};
/// assert_eq!(launching("i-1").lifecycle.unwrap().auto_scaling_group_name, GROUP);
/// ```
pub const GROUP: &str = "test-group";

/// A lifecycle action of `instance` in group [`GROUP`], with a token, as Auto Scaling sends it.
///
/// ```
/// use lifecycle_core::LifecycleTransition;
/// use lifecycle_core::testing::action;
/// let action = action("i-0abc123def4567890", LifecycleTransition::Launching);
/// assert_eq!(action.lifecycle_hook_name, "test-group-launching");
/// assert!(action.lifecycle_action_token.is_some());
/// ```
pub fn action(instance: &str, transition: LifecycleTransition) -> LifecycleAction {
    let hook = match transition {
        LifecycleTransition::Launching => "launching",
        LifecycleTransition::Terminating => "terminating",
    };
    LifecycleAction {
        auto_scaling_group_name: GROUP.into(),
        lifecycle_hook_name: format!("{GROUP}-{hook}"),
        lifecycle_action_token: Some(format!("token-{hook}-{instance}")),
        ec2_instance_id: instance.into(),
        lifecycle_transition: transition,
        notification_metadata: None,
        region: None,
        origin: None,
        destination: None,
    }
}

/// A launching lifecycle action for `instance`.
///
/// ```
/// use lifecycle_core::EventKind;
/// let event = lifecycle_core::testing::launching("i-1");
/// assert_eq!(event.kind, EventKind::Launching);
/// assert_eq!(event.instance_id.as_deref(), Some("i-1"));
/// ```
pub fn launching(instance: &str) -> Event {
    Event::lifecycle(
        format!("launch-{instance}"),
        action(instance, LifecycleTransition::Launching),
    )
}

/// A terminating lifecycle action for `instance`.
///
/// ```
/// use lifecycle_core::EventKind;
/// let event = lifecycle_core::testing::terminating("i-1");
/// assert_eq!(event.kind, EventKind::Terminating);
/// ```
pub fn terminating(instance: &str) -> Event {
    Event::lifecycle(
        format!("terminate-{instance}"),
        action(instance, LifecycleTransition::Terminating),
    )
}

/// The result of command `command_id`, sent for `instance` during its `transition` lifecycle
/// action.
///
/// ```
/// use lifecycle_core::{CommandStatus, LifecycleTransition};
/// use lifecycle_core::testing::command_result;
/// let event = command_result("i-1", "cmd-1", CommandStatus::Failed, LifecycleTransition::Launching);
/// assert!(!event.succeeded());
/// assert!(event.lifecycle.is_some());
/// ```
pub fn command_result(
    instance: &str,
    command_id: &str,
    status: CommandStatus,
    transition: LifecycleTransition,
) -> Event {
    Event::command_result(
        format!("result-{command_id}-{status}"),
        command_id,
        status,
        instance,
        Some(action(instance, transition)),
    )
}

/// The scheduled rule `rule` fired.
///
/// ```
/// use lifecycle_core::EventKind;
/// let event = lifecycle_core::testing::scheduled("backup");
/// assert_eq!(event.kind, EventKind::Scheduled { rule: "backup".into() });
/// ```
pub fn scheduled(rule: &str) -> Event {
    Event::scheduled(format!("schedule-{rule}"), rule)
}

/// A lifecycle action of `instance` in group `group` (not [`GROUP`]): for a model whose tasks
/// read the group (a node's role from its group, say).
///
/// ```
/// use lifecycle_core::LifecycleTransition;
/// let event = lifecycle_core::testing::lifecycle_in("i-1", "managers", LifecycleTransition::Launching);
/// assert_eq!(event.lifecycle.unwrap().auto_scaling_group_name, "managers");
/// ```
pub fn lifecycle_in(instance: &str, group: &str, transition: LifecycleTransition) -> Event {
    let mut event = match transition {
        LifecycleTransition::Launching => launching(instance),
        LifecycleTransition::Terminating => terminating(instance),
    };
    if let Some(action) = event.lifecycle.as_mut() {
        action.auto_scaling_group_name = group.to_owned();
        action.lifecycle_hook_name = action.lifecycle_hook_name.replacen(GROUP, group, 1);
    }
    event
}

/// A lifecycle action of `instance` going from `origin` to `destination`: with a warm pool, a
/// launch into the pool (`Ec2` → `WarmPool`), from it into the group (`WarmPool` →
/// `AutoScalingGroup`), or a termination in the pool (`WarmPool` → `Ec2`). Each route its own
/// event id and token, as AWS gives them.
///
/// ```
/// use lifecycle_core::{LifecycleTransition, Location};
/// let event = lifecycle_core::testing::routed("i-1", LifecycleTransition::Launching, Location::Ec2, Location::WarmPool);
/// assert_eq!(event.lifecycle.unwrap().destination(), Location::WarmPool);
/// ```
pub fn routed(
    instance: &str,
    transition: LifecycleTransition,
    origin: Location,
    destination: Location,
) -> Event {
    let route = format!("{}-{}", origin.as_aws_str(), destination.as_aws_str());
    let mut action = action(instance, transition);
    action.origin = Some(origin);
    action.destination = Some(destination);
    if let Some(token) = action.lifecycle_action_token.as_mut() {
        token.push('-');
        token.push_str(&route);
    }
    let id = match transition {
        LifecycleTransition::Launching => format!("launch-{instance}-{route}"),
        LifecycleTransition::Terminating => format!("terminate-{instance}-{route}"),
    };
    Event::lifecycle(id, action)
}

/// EC2's Spot interruption warning for `instance` (two minutes before it is taken back).
///
/// ```
/// use lifecycle_core::EventKind;
/// let event = lifecycle_core::testing::spot_interruption("i-1");
/// assert!(matches!(event.kind, EventKind::SpotInterruption { .. }) && event.lifecycle.is_none());
/// ```
pub fn spot_interruption(instance: &str) -> Event {
    Event::instance(
        format!("spot-{instance}"),
        instance,
        EventKind::SpotInterruption {
            action: "terminate".into(),
        },
    )
}

/// EC2's rebalance recommendation for `instance`.
///
/// ```
/// use lifecycle_core::EventKind;
/// assert_eq!(lifecycle_core::testing::rebalance("i-1").kind, EventKind::RebalanceRecommendation);
/// ```
pub fn rebalance(instance: &str) -> Event {
    Event::instance(
        format!("rebalance-{instance}"),
        instance,
        EventKind::RebalanceRecommendation,
    )
}

/// EC2's state change of `instance` to `state` (`terminated`, `stopped`, ...).
///
/// ```
/// use lifecycle_core::EventKind;
/// let event = lifecycle_core::testing::instance_state("i-1", "terminated");
/// assert_eq!(event.kind, EventKind::InstanceState { state: "terminated".into() });
/// ```
pub fn instance_state(instance: &str, state: &str) -> Event {
    Event::instance(
        format!("state-{state}-{instance}"),
        instance,
        EventKind::InstanceState {
            state: state.to_owned(),
        },
    )
}

/// AWS Health's scheduled change of type `event_type` (e.g.
/// `AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED`) for `instance`.
///
/// ```
/// use lifecycle_core::EventKind;
/// let event = lifecycle_core::testing::maintenance("i-1", "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED");
/// assert!(matches!(event.kind, EventKind::Maintenance { ref event_type, .. } if event_type == "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"));
/// ```
pub fn maintenance(instance: &str, event_type: &str) -> Event {
    Event::instance(
        format!("maintenance-{instance}"),
        instance,
        EventKind::Maintenance {
            event_type: event_type.to_owned(),
            starts: None,
        },
    )
}

/// Runs `future` to completion on the current thread, with no async runtime: enough for
/// models whose tasks only await the [`Context`](crate::Context). A task that needs a runtime
/// (a timer, a socket) is tested under `#[tokio::test]` instead.
///
/// ```
/// let answer = lifecycle_core::testing::block_on(async { 6 * 7 });
/// assert_eq!(answer, 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// A lifecycle action an event ended, and the result the Lambda would complete it with.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::testing::Harness;
/// use lifecycle_core::{CommandStatus, LifecycleResult};
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     harness.launch("i-1").await.unwrap();
///     harness.finish_command("i-1", CommandStatus::Success).await.unwrap();
///     let completion = &harness.completions()[0];
///     assert_eq!(completion.action.ec2_instance_id, "i-1");
///     assert_eq!(completion.result, LifecycleResult::Continue);
///     assert!(completion.event_id.starts_with("result-"));
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The event that ended it.
    pub event_id: String,
    /// The action.
    pub action: LifecycleAction,
    /// CONTINUE or ABANDON.
    pub result: LifecycleResult,
}

/// A model, its records in a [`MemoryStore`] and the commands its tasks sent: events go in,
/// [`Report`](crate::Report)s come out. See the [module documentation](self) for the pattern.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::testing::Harness;
/// use lifecycle_core::CommandStatus;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     harness.launch("i-1").await.unwrap();
///     harness.finish_command("i-1", CommandStatus::Success).await.unwrap();
///     assert_eq!(harness.state("i-1"), Some(NodeState::Ready));
///     assert_eq!(harness.delivered(), 2);
/// });
/// ```
pub struct Harness<M: LifecycleModel> {
    model: M,
    store: MemoryStore,
    effects: LocalEffects,
    completions: Vec<Completion>,
    delivered: usize,
    deferred: Option<ModelReport<M>>,
}

impl<M: LifecycleModel> Harness<M> {
    /// A harness around `model`, with no records.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    ///
    /// let harness = Harness::new(Node);
    /// assert!(harness.store().snapshot().is_empty());
    /// ```
    pub fn new(model: M) -> Self {
        Harness {
            model,
            store: MemoryStore::new(),
            effects: LocalEffects::new(),
            completions: Vec::new(),
            delivered: 0,
            deferred: None,
        }
    }

    /// Adds a record for `instance` in `state` (what cloud-init, or an earlier lifecycle, left).
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    ///
    /// let harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    /// assert_eq!(harness.record("i-1").unwrap().state, "finished_cloud_init");
    /// ```
    pub fn with_instance(self, instance: &str, state: M::State) -> Self {
        self.insert(Record::new(instance, state.name()));
        self
    }

    /// Adds (or replaces) a record, with whatever attributes it carries.
    ///
    /// ```
    /// # use lifecycle_core::{Context, lifecycle_model, Record};
    /// # use lifecycle_core::testing::Harness;
    /// # #[derive(Debug, thiserror::Error)] #[error("e")] pub struct E;
    /// # pub struct M;
    /// # #[lifecycle_model(states(A, B), initial = A, terminal(B), error = E)]
    /// # impl M {
    /// #     #[transition(from = A, to = B, ignore_errors)]
    /// #     async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), E> { Ok(()) }
    /// # }
    /// let harness = Harness::new(M);
    /// harness.insert(Record::new("i-1", "a").with("PrivateIp", "10.0.0.7"));
    /// assert_eq!(harness.record("i-1").unwrap().get_str("PrivateIp"), Some("10.0.0.7"));
    /// ```
    pub fn insert(&self, record: Record) {
        self.store.insert(record);
    }

    /// Delivers a launching lifecycle action for `instance` ([`launching`]).
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    /// use lifecycle_core::StopReason;
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    ///     let report = harness.launch("i-1").await.unwrap();
    ///     assert_eq!((report.end, report.stop), (NodeState::Joining, StopReason::Waiting));
    /// });
    /// ```
    pub async fn launch(
        &mut self,
        instance: &str,
    ) -> Result<ModelReport<M>, ModelDispatchError<M, MemoryStore>> {
        self.deliver(&launching(instance)).await
    }

    /// Delivers a terminating lifecycle action for `instance` ([`terminating`]).
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::LifecycleResult;
    /// use lifecycle_core::testing::Harness;
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Drain::default()).with_instance("i-1", DrainState::Ready);
    ///     harness.terminate("i-1").await.unwrap();
    ///     assert_eq!(harness.state("i-1"), Some(DrainState::Drained));
    ///     assert_eq!(harness.completions()[0].result, LifecycleResult::Continue);
    /// });
    /// ```
    pub async fn terminate(
        &mut self,
        instance: &str,
    ) -> Result<ModelReport<M>, ModelDispatchError<M, MemoryStore>> {
        self.deliver(&terminating(instance)).await
    }

    /// Delivers the result of the command `instance`'s record waits for (the first, if it
    /// waits for several), with the lifecycle action the command was sent for.
    ///
    /// # Panics
    ///
    /// If the record does not exist or waits for no command: a test that expects a wait
    /// should fail there.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    /// use lifecycle_core::CommandStatus;
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    ///     harness.launch("i-1").await.unwrap();
    ///     let report = harness.finish_command("i-1", CommandStatus::TimedOut).await.unwrap();
    ///     assert!(report.event_failed);
    ///     assert_eq!(report.end, NodeState::Failed);
    /// });
    /// ```
    pub async fn finish_command(
        &mut self,
        instance: &str,
        status: CommandStatus,
    ) -> Result<ModelReport<M>, ModelDispatchError<M, MemoryStore>> {
        let record = self
            .record(instance)
            .unwrap_or_else(|| panic!("no record for {instance}"));
        let command_id = record
            .awaited_commands()
            .next()
            .unwrap_or_else(|| panic!("{instance} waits for no command (state `{}`)", record.state))
            .to_owned();
        let lifecycle = self
            .effects
            .commands()
            .into_iter()
            .find(|c| c.command_id == command_id)
            .and_then(|c| c.lifecycle);
        let event = Event::command_result(
            format!("result-{command_id}"),
            command_id,
            status,
            instance,
            lifecycle,
        );
        self.deliver(&event).await
    }

    /// Delivers the scheduled rule `rule` ([`scheduled`]). Its record (`Ident` = the rule) is
    /// created in the state of the same name the first time, and a run that ended starts
    /// over, as the Lambda does.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, Context};
    /// # use lifecycle_core::testing::{Harness, block_on};
    /// # pub struct Nightly;
    /// # #[lifecycle_model(states(Backup, Done), initial = Backup, schedules(Backup), terminal(Done), error = std::fmt::Error)]
    /// # impl Nightly {
    /// #     #[transition(from = Backup, to = Done, on(scheduled = "backup"), ignore_errors)]
    /// #     async fn back_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> { Ok(()) }
    /// # }
    /// let mut harness = Harness::new(Nightly);
    /// block_on(async {
    ///     harness.schedule("backup").await.unwrap(); // the record is made, the run ends
    ///     assert_eq!(harness.state("backup"), Some(NightlyState::Done));
    ///     let second = harness.schedule("backup").await.unwrap(); // the next night starts over
    ///     assert_eq!((second.start, second.end), (NightlyState::Backup, NightlyState::Done));
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If `rule` names no state of the model.
    pub async fn schedule(
        &mut self,
        rule: &str,
    ) -> Result<ModelReport<M>, ModelDispatchError<M, MemoryStore>> {
        let start: M::State = rule
            .parse()
            .unwrap_or_else(|_| panic!("scheduled rule `{rule}` names no state of the model"));
        match self.store.get(rule) {
            None => self.store.insert(Record::new(rule, start.name())),
            Some(record) => {
                if let Some(change) =
                    scheduled_restart(&M::DEFINITION, &record, start, "harness-restart")
                {
                    self.store
                        .compare_and_set(change)
                        .await
                        .expect("the in-memory store cannot fail");
                }
            }
        }
        self.deliver(&scheduled(rule)).await
    }

    /// Delivers any event to the record it is about (a scheduled event's record is its
    /// rule's, which must exist: see [`Harness::schedule`]). Each delivery is a new one, as a
    /// redelivery by SQS would be.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    /// use lifecycle_core::{CommandStatus, LifecycleTransition, StopReason};
    /// use lifecycle_core::testing::command_result;
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    ///     harness.launch("i-1").await.unwrap();
    ///     // A late result of a command the record does not wait for moves nothing.
    ///     let stray = command_result("i-1", "c-other", CommandStatus::Success, LifecycleTransition::Launching);
    ///     let report = harness.deliver(&stray).await.unwrap();
    ///     assert_eq!((report.end, report.stop), (NodeState::Joining, StopReason::NotAwaited));
    /// });
    /// ```
    pub async fn deliver(
        &mut self,
        event: &Event,
    ) -> Result<ModelReport<M>, ModelDispatchError<M, MemoryStore>> {
        self.delivered += 1;
        let ident = match &event.kind {
            crate::EventKind::Scheduled { rule } => rule.clone(),
            _ => event.instance_id.clone().unwrap_or_default(),
        };
        let mut record = self
            .store
            .load(&ident)
            .await
            .map_err(crate::DispatchError::Store)?
            .ok_or_else(|| crate::DispatchError::UnknownRecord(ident.clone()))?;
        let report = dispatch(
            &mut self.model,
            &self.store,
            &mut record,
            event,
            &self.effects,
        )
        .await?;
        if let (Some(result), Some(action)) = (report.lifecycle_result, &event.lifecycle) {
            self.completions.push(Completion {
                event_id: event.id.clone(),
                action: action.clone(),
                result,
            });
        }
        // As the Lambda does: a termination that came while this lifecycle (a launch, or a
        // drain another event started) waited runs now that it is over, and is completed.
        self.deferred = None;
        if let Some(termination) = crate::deferred_termination(&record)
            && !crate::is_waiting(&record)
            && report.stop != crate::StopReason::LostRace
        {
            let then = dispatch(
                &mut self.model,
                &self.store,
                &mut record,
                &termination,
                &self.effects,
            );
            let then = Box::pin(then).await?;
            if let (Some(result), Some(action)) = (then.lifecycle_result, &termination.lifecycle) {
                self.completions.push(Completion {
                    event_id: termination.id.clone(),
                    action: action.clone(),
                    result,
                });
            }
            self.deferred = Some(then);
        }
        Ok(report)
    }

    /// What the termination that waited for the last event's lifecycle did, when that event
    /// ended it and the termination ran after it ([`Harness::deliver`] runs it, as the Lambda
    /// does); `None` otherwise.
    ///
    /// ```
    /// use lifecycle_core::{lifecycle_model, CommandRequest, Context, EffectError};
    /// #[derive(Debug, thiserror::Error)] #[error(transparent)] pub struct E(#[from] EffectError);
    /// // A node that drains when a Spot warning comes, and leaves when its termination finds
    /// // the drain done.
    /// pub struct Node;
    /// #[lifecycle_model(states(Start, Ready, Draining, Drained, Gone, Failed), initial = Start,
    ///     terminal(Gone, Failed), failure = Failed, error = E)]
    /// impl Node {
    ///     #[transition(from = Start, to = Ready, on(launching))]
    ///     async fn launched(&mut self, _ctx: &mut Context<'_>) -> Result<(), E> { Ok(()) }
    ///     #[transition(from = Ready, to = Draining, on(spot_interruption), wait)]
    ///     async fn drain(&mut self, ctx: &mut Context<'_>) -> Result<(), E> {
    ///         let id = ctx.record().ident.clone();
    ///         ctx.send_command(CommandRequest::new("ClusterLeave", [id])).await?;
    ///         Ok(())
    ///     }
    ///     #[transition(from = Draining, to = Drained, on(command), ignore_errors)]
    ///     async fn drained(&mut self, _ctx: &mut Context<'_>) -> Result<(), E> { Ok(()) }
    ///     #[transition(from = Drained, to = Gone, on(terminating))]
    ///     async fn leave(&mut self, _ctx: &mut Context<'_>) -> Result<(), E> { Ok(()) }
    /// }
    /// use lifecycle_core::testing::{spot_interruption, terminating, Harness};
    /// use lifecycle_core::{CommandStatus, LifecycleResult, StopReason};
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::Ready);
    ///     harness.deliver(&spot_interruption("i-1")).await.unwrap(); // the drain starts
    ///     let report = harness.deliver(&terminating("i-1")).await.unwrap();
    ///     assert_eq!(report.stop, StopReason::Deferred, "it waits for the drain");
    ///     // The drain's result: drained, then the termination runs from there, completed once.
    ///     harness.finish_command("i-1", CommandStatus::Success).await.unwrap();
    ///     assert_eq!(harness.deferred().unwrap().end, NodeState::Gone);
    ///     assert_eq!(harness.completions().len(), 1);
    ///     assert_eq!(harness.completions()[0].result, LifecycleResult::Continue);
    /// });
    /// ```
    pub fn deferred(&self) -> Option<&ModelReport<M>> {
        self.deferred.as_ref()
    }

    /// The state `ident`'s record is in, if it exists and names a state of the model.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    ///
    /// let harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    /// assert_eq!(harness.state("i-1"), Some(NodeState::FinishedCloudInit));
    /// assert_eq!(harness.state("i-2"), None);
    /// ```
    pub fn state(&self, ident: &str) -> Option<M::State> {
        self.store.get(ident).and_then(|r| r.state.parse().ok())
    }

    /// `ident`'s record as stored.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    ///
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    ///     harness.launch("i-1").await.unwrap();
    ///     let record = harness.record("i-1").unwrap();
    ///     assert_eq!(record.awaited_commands().count(), 1);
    /// });
    /// ```
    pub fn record(&self, ident: &str) -> Option<Record> {
        self.store.get(ident)
    }

    /// Every command sent so far, in order.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    ///
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    ///     harness.launch("i-1").await.unwrap();
    ///     assert_eq!(harness.commands()[0].request.instance_ids, ["i-1"]);
    /// });
    /// ```
    pub fn commands(&self) -> Vec<SentCommand> {
        self.effects.commands()
    }

    /// Every heartbeat recorded so far.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    ///
    /// let harness = Harness::new(Node);
    /// // This model's tasks never call `ctx.heartbeat()`.
    /// assert!(harness.heartbeats().is_empty());
    /// ```
    pub fn heartbeats(&self) -> Vec<LifecycleAction> {
        self.effects.heartbeats()
    }

    /// The lifecycle actions ended so far, in order.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    ///
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    ///     harness.launch("i-1").await.unwrap();
    ///     assert!(harness.completions().is_empty(), "the launch waits for its command");
    /// });
    /// ```
    pub fn completions(&self) -> &[Completion] {
        &self.completions
    }

    /// How many events were delivered.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    ///
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    ///     harness.launch("i-1").await.unwrap();
    ///     harness.launch("i-1").await.unwrap();
    ///     assert_eq!(harness.delivered(), 2);
    /// });
    /// ```
    pub fn delivered(&self) -> usize {
        self.delivered
    }

    /// The model.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    /// let harness = Harness::new(Drain { unreachable: true });
    /// assert!(harness.model().unreachable);
    /// ```
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, to change what its tasks will do next (make one fail, say).
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Drain::default()).with_instance("i-1", DrainState::Ready);
    ///     harness.model_mut().unreachable = true;
    ///     harness.terminate("i-1").await.unwrap();
    ///     assert_eq!(harness.state("i-1"), Some(DrainState::Failed));
    /// });
    /// ```
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// The store, to inspect or seed it directly.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    ///
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
    ///     harness.launch("i-1").await.unwrap();
    ///     assert_eq!(harness.store().writes(), 1, "one state change stored");
    /// });
    /// ```
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }
}
