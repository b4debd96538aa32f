//! The [`Harness`]: a model fed events the way the Lambda feeds them, in memory.

use crate::{
    CommandStatus, Event, LifecycleAction, LifecycleModel, LifecycleResult, MemoryEffects,
    MemoryStore, ModelDispatchError, ModelReport, Record, ScheduledRun, SentCommand, State,
    StateChange, Store, attr, dispatch, scheduled_run,
};
use serde_json::Value;

use super::{instance_state, launching, maintenance, rebalance, spot_interruption, terminating};

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
/// [`Report`](crate::Report)s come out. See the [module documentation](crate::testing) for the pattern.
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
    effects: MemoryEffects,
    completions: Vec<Completion>,
    delivered: usize,
    /// Firings of scheduled rules so far ([`Harness::schedule`]), each its own event.
    firings: usize,
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
            effects: MemoryEffects::new(),
            completions: Vec::new(),
            delivered: 0,
            firings: 0,
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

    /// [`Harness::insert`] as a builder: a record with its attributes, as cloud-init left it.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::Record;
    /// use lifecycle_core::testing::Harness;
    /// let harness = Harness::new(Drain::default())
    ///     .with_record(Record::new("i-1", "ready").with("ItemType", "manager"));
    /// assert_eq!(harness.record("i-1").unwrap().item_type(), Some("manager"));
    /// ```
    pub fn with_record(self, record: Record) -> Self {
        self.insert(record);
        self
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

    /// Delivers EC2's Spot interruption warning for `instance` ([`spot_interruption`]): no
    /// lifecycle action comes with it, so nothing is completed; a termination that follows
    /// while the drain it started waits runs when the drain ends, as in the Lambda.
    ///
    /// ```
    /// # use lifecycle_core::{lifecycle_model, Context}; use lifecycle_core::testing::minimal::*;
    /// use lifecycle_core::testing::Harness;
    /// lifecycle_core::testing::block_on(async {
    ///     let mut harness = Harness::new(Drain::default()).with_instance("i-1", DrainState::Ready);
    ///     harness.spot_interruption("i-1").await.unwrap();
    ///     assert_eq!(harness.state("i-1"), Some(DrainState::Drained));
    ///     assert!(harness.completions().is_empty(), "a Spot warning holds no lifecycle action");
    /// });
    /// ```
    pub async fn spot_interruption(
        &mut self,
        instance: &str,
    ) -> Result<ModelReport<M>, ModelDispatchError<M, MemoryStore>> {
        self.deliver(&spot_interruption(instance)).await
    }

    /// Delivers EC2's rebalance recommendation for `instance` ([`rebalance`]); see
    /// [`Harness::spot_interruption`].
    pub async fn rebalance(
        &mut self,
        instance: &str,
    ) -> Result<ModelReport<M>, ModelDispatchError<M, MemoryStore>> {
        self.deliver(&rebalance(instance)).await
    }

    /// Delivers EC2's state-change notification for `instance` entering `state` (`"stopped"`,
    /// `"terminated"`, ...; [`instance_state`]); see [`Harness::spot_interruption`].
    pub async fn instance_state(
        &mut self,
        instance: &str,
        state: &str,
    ) -> Result<ModelReport<M>, ModelDispatchError<M, MemoryStore>> {
        self.deliver(&instance_state(instance, state)).await
    }

    /// Delivers an AWS Health scheduled change of type `event_type` for `instance`
    /// ([`maintenance`]); see [`Harness::spot_interruption`].
    pub async fn maintenance(
        &mut self,
        instance: &str,
        event_type: &str,
    ) -> Result<ModelReport<M>, ModelDispatchError<M, MemoryStore>> {
        self.deliver(&maintenance(instance, event_type)).await
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

    /// Delivers a firing of the scheduled rule `rule`, an event of its own each time. Its
    /// record (`Ident` = the rule) is created in the state of the same name the first time,
    /// and a run that ended starts over, naming its event, as the Lambda does
    /// ([`scheduled_run`](crate::scheduled_run)).
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
        // Each call is a firing of its own (its own event), as EventBridge's are.
        self.firings += 1;
        let event = Event::scheduled(format!("schedule-{rule}-{}", self.firings), rule);
        let record = match self.store.get(rule) {
            Some(record) => record,
            None => {
                self.store.insert(Record::new(rule, start.name()));
                self.store.get(rule).expect("just inserted")
            }
        };
        // As the Lambda does: a run that ended starts over, naming its event.
        if scheduled_run(&M::DEFINITION, &record, start, &event.id, 0) == ScheduledRun::Start {
            let set = [(attr::RUN_EVENT.to_owned(), Value::from(event.id.as_str()))];
            let change = StateChange {
                ident: &record.ident,
                from: &record.state,
                version: record.version,
                to: start.name(),
                set: &set,
                token: "harness-restart",
            };
            self.store
                .compare_and_set(change)
                .await
                .expect("the in-memory store cannot fail");
        }
        self.deliver(&event).await
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
