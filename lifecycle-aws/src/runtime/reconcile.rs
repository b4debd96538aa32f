//! Reconciliation: the sweep asks Auto Scaling which instances of the model's groups wait in
//! a lifecycle hook, and starts the lifecycle of every action no lifecycle handles — its event
//! was lost (Auto Scaling sends them best-effort), or went to the dead-letter queue.
//!
//! A reconciled lifecycle is the one its event would have started: the same model, the same
//! exactly-once protocol, with an action that has no token (completion and heartbeats name
//! the instance and the hook, which Auto Scaling accepts in place of a token). Its event, if
//! it comes after all, finds the action taken: refused by Auto Scaling's view once the action
//! is over, or by the dispatcher while the lifecycle waits (one action per transition and
//! instance, whatever its key).

use std::collections::HashMap;
use std::str::FromStr;

use lifecycle_core::{
    Event, LifecycleAction, LifecycleModel, LifecycleProgress, LifecycleResult,
    LifecycleTransition, Location, Record, State,
};
use tracing::Instrument;

use super::{HandleError, Runtime, epoch_seconds};
use crate::actions::Completed;
use crate::fleet::{Fleet, FleetInstance, Hook, WaitState};
use crate::store::{NodeTable, pending_from_image};

/// An action Auto Scaling holds that no lifecycle handles
/// ([`Runtime::unhandled_actions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnhandledAction {
    /// The instance, its group and its wait state.
    pub instance: FleetInstance,
    /// What the next sweep does about it, as a sentence.
    pub next_sweep: String,
}

/// What the sweep's check of records at rest found.
#[derive(Debug, Default)]
pub(super) struct AliveChecked {
    pub(super) alive: Vec<String>,
    pub(super) vanished: Vec<String>,
    pub(super) failed: Vec<String>,
}

/// What reconciliation did for one waiting instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reconciled {
    /// A lifecycle handles the action already (it waits, is parked, or holds the claim).
    Handled,
    /// No lifecycle handled it: started.
    Started,
    /// The lifecycle ended, its completion did not reach Auto Scaling: completed again.
    Completed,
    /// Nothing here can handle it (the reason, for the operator).
    Unhandled(String),
}

/// What the sweep's reconciliation did, for its outcome.
#[derive(Debug, Default)]
pub(super) struct Reconciliation {
    pub(super) started: Vec<String>,
    pub(super) completed: Vec<String>,
    pub(super) unhandled: Vec<String>,
    pub(super) failed: Vec<String>,
    pub(super) unfinished: bool,
}

impl<M, F, T> Runtime<M, F, T>
where
    M: LifecycleModel,
    F: Fn() -> M + Send + Sync,
    T: NodeTable,
{
    /// Reconciles the groups of [`Runtime::with_groups`] with Auto Scaling's view, within
    /// the sweep's time budget (what is left waits for the next sweep).
    pub(super) async fn reconcile(&self, started: std::time::Instant) -> Reconciliation {
        let mut done = Reconciliation::default();
        let Some(fleet) = self.fleet.as_deref() else {
            return done;
        };
        if self.settings.groups.is_empty() {
            return done;
        }
        let waiting = match fleet.waiting(&self.settings.groups, None).await {
            Ok(waiting) => waiting,
            Err(e) => {
                tracing::error!(error = %e, "could not ask Auto Scaling what waits: the next sweep tries again");
                done.failed.push(format!("reconcile: {e}"));
                return done;
            }
        };
        let mut hooks = HashMap::new();
        for instance in waiting {
            if started.elapsed() >= self.settings.sweep_budget {
                done.unfinished = true;
                break;
            }
            let id = instance.instance_id.clone();
            let span = tracing::info_span!("reconcile", instance_id = %id, group = %instance.group, lifecycle_state = %instance.lifecycle_state);
            match self
                .reconcile_instance(fleet, &instance, &mut hooks)
                .instrument(span)
                .await
            {
                Ok(Reconciled::Handled) => {}
                Ok(Reconciled::Started) => done.started.push(id),
                Ok(Reconciled::Completed) => done.completed.push(id),
                Ok(Reconciled::Unhandled(reason)) => {
                    tracing::warn!(instance_id = %id, %reason, "Auto Scaling holds an action nothing here handles");
                    done.unhandled.push(format!("{id}: {reason}"));
                }
                // Another delivery works on it (its event came after all): it is handled.
                Err(HandleError::Busy { .. }) => {}
                Err(e) => {
                    tracing::error!(instance_id = %id, error = %e, "could not reconcile: the next sweep tries again");
                    done.failed.push(id);
                }
            }
        }
        done
    }

    /// Records at rest due for the check that their instance still exists: one
    /// `DescribeAutoScalingInstances` per 50. An instance Auto Scaling still knows (in service,
    /// in standby, in the warm pool, ...), or that EC2 still knows, is checked again after the
    /// interval; one Auto Scaling knows as terminated, or neither knows, has gone without its
    /// events: the model gets
    /// `instance_state = "terminated"` (as EC2's own event would have said), and a model that
    /// ends the record there lets it expire. Either way the record is not checked again until
    /// it rests anew.
    pub(super) async fn check_alive(&self, idents: Vec<String>, now: u64) -> AliveChecked {
        let mut checked = AliveChecked::default();
        let Some(fleet) = self.fleet.as_deref() else {
            return checked;
        };
        let known = match fleet.instances(&idents, None).await {
            Ok(known) => known,
            Err(e) => {
                tracing::error!(error = %e, "could not ask Auto Scaling about records at rest: the next sweep tries again");
                checked.failed.extend(idents);
                return checked;
            }
        };
        for ident in idents {
            let state = known
                .iter()
                .find(|i| i.instance_id == ident)
                .map(|i| i.lifecycle_state.as_str());
            let gone = match state {
                Some(state) => state == "Terminated" || state == "Warmed:Terminated",
                // Unknown to Auto Scaling (terminated outside its group, detached, or not
                // listed where it is): gone only if EC2 does not know it either. A terminated
                // instance stays visible in EC2 for about an hour: the next check ends it.
                None => match self.instances.describe(&ident).await {
                    Ok(facts) => facts.is_none(),
                    Err(e) => {
                        tracing::error!(instance_id = %ident, error = %e, "could not ask EC2 about a record at rest: the next sweep tries again");
                        checked.failed.push(ident);
                        continue;
                    }
                },
            };
            if !gone {
                let next = now.saturating_add(self.settings.alive_check.as_secs());
                match self.store.reschedule(&ident, next).await {
                    Ok(()) => checked.alive.push(ident),
                    Err(e) => {
                        tracing::error!(instance_id = %ident, error = %e, "could not reschedule the check");
                        checked.failed.push(ident);
                    }
                }
                continue;
            }
            tracing::warn!(instance_id = %ident, auto_scaling_state = state.unwrap_or("unknown"), "the instance is gone, its events lost: the model is told it terminated");
            let event = Event::instance(
                format!("vanished-{ident}"),
                ident.clone(),
                lifecycle_core::EventKind::InstanceState {
                    state: "terminated".to_owned(),
                },
            );
            // Out of the way first (a record the model leaves where it is is not told twice);
            // a record the model moves on is taken out of the index, or checked anew if it
            // comes to rest again.
            let told = match self.store.reschedule(&ident, u64::MAX).await {
                Ok(()) => Box::pin(self.instance_event(event, None)).await,
                Err(e) => Err(e.into()),
            };
            match told {
                Ok(_) => checked.vanished.push(ident),
                Err(e) => {
                    tracing::error!(instance_id = %ident, error = %e, "could not end the record of a vanished instance: the next sweep tries again");
                    if let Err(e) = self.store.reschedule(&ident, now).await {
                        tracing::error!(instance_id = %ident, error = %e, "could not reschedule the check");
                    }
                    checked.failed.push(ident);
                }
            }
        }
        checked
    }

    /// The actions Auto Scaling holds in the groups of [`Runtime::with_groups`] that no
    /// lifecycle handles, each with what the next sweep will do about it: what reconciliation
    /// would act on, asked without acting (one `DescribeAutoScalingGroups` per 100 groups, one
    /// read per waiting instance). For an operator's view: `lifecycle-local status --groups`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::runtime::Runtime;
    /// use lifecycle_aws::testing::{MemoryAutoScaling, MemoryCommands};
    /// use lifecycle_core::testing::example::Node;
    /// use lifecycle_core::Record;
    /// let aws = Arc::new(MemoryAutoScaling::new().with_group("workers"));
    /// let table = MemoryTable::new();
    /// table.records().insert(Record::new("i-1", "finished_cloud_init"));
    /// let runtime = Runtime::with_parts(table, Arc::new(MemoryCommands::new()), aws.clone(), || Node)
    ///     .with_fleet(aws.clone())
    ///     .with_groups(["workers"]);
    /// let _lost = aws.launch("i-1", "workers");
    /// let _unregistered = aws.launch("i-2", "workers");
    /// let unhandled = tokio::runtime::Builder::new_current_thread().build().unwrap()
    ///     .block_on(runtime.unhandled_actions()).unwrap();
    /// assert_eq!(unhandled.len(), 2);
    /// assert_eq!((unhandled[0].instance.instance_id.as_str(), unhandled[0].next_sweep.as_str()),
    ///     ("i-1", "starts its lifecycle (its event was lost)"));
    /// assert!(unhandled[1].next_sweep.contains("cloud-init has not registered"));
    /// assert_eq!(runtime.store().records().get("i-1").unwrap().state, "finished_cloud_init", "nothing done");
    /// ```
    pub async fn unhandled_actions(&self) -> Result<Vec<UnhandledAction>, HandleError> {
        let Some(fleet) = self.fleet.as_deref() else {
            return Ok(Vec::new());
        };
        if self.settings.groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut unhandled = Vec::new();
        for instance in fleet.waiting(&self.settings.groups, None).await? {
            let next_sweep = match self.classify(&instance).await?.0 {
                Decision::Handled | Decision::Claimed => continue,
                Decision::Start => "starts its lifecycle (its event was lost)".to_owned(),
                Decision::Resume => {
                    "resumes its lifecycle, cut off before its end (its event lost since)"
                        .to_owned()
                }
                Decision::RunDeferred => {
                    "runs the termination that waited for the drain or launch before it".to_owned()
                }
                Decision::Complete(result) => format!(
                    "completes it {result} again (its lifecycle ended; the completion was lost)"
                ),
                Decision::Unhandled(reason) => format!("nothing: {reason}"),
            };
            unhandled.push(UnhandledAction {
                instance,
                next_sweep,
            });
        }
        unhandled.sort_by(|a, b| a.instance.instance_id.cmp(&b.instance.instance_id));
        Ok(unhandled)
    }

    /// What the record says of the action Auto Scaling holds for `instance`, and the record
    /// with the event a reconciled lifecycle would run on it (without the hook's name yet).
    async fn classify(
        &self,
        instance: &FleetInstance,
    ) -> Result<(Decision, Option<(Record, Event)>), HandleError> {
        let Some(wait) = instance.wait() else {
            return Ok((Decision::Handled, None));
        };
        let Some(record) = self.store.load(&instance.instance_id).await? else {
            return Ok((
                Decision::Unhandled(
                    "no record: cloud-init has not registered the instance".to_owned(),
                ),
                None,
            ));
        };
        let action = reconciled_action(instance, wait, &record, &M::DEFINITION);
        let event = Event::lifecycle(event_id(wait, &instance.instance_id), action);
        let now = epoch_seconds(self.clock.now());
        if record.claimed_until().is_some_and(|until| until >= now) {
            return Ok((Decision::Claimed, Some((record, event))));
        }
        let decision = decide::<M>(&record, wait, &event);
        if in_hand::<M>(&record, &decision, now, self.settings.claim_lease.as_secs()) {
            return Ok((Decision::Claimed, Some((record, event))));
        }
        Ok((decision, Some((record, event))))
    }

    /// One instance Auto Scaling holds in a lifecycle hook.
    async fn reconcile_instance(
        &self,
        fleet: &dyn Fleet,
        instance: &FleetInstance,
        hooks: &mut HashMap<String, Vec<Hook>>,
    ) -> Result<Reconciled, HandleError> {
        let (decision, found) = self.classify(instance).await?;
        let (Some(wait), Some((record, event))) = (instance.wait(), found) else {
            return Ok(match decision {
                Decision::Unhandled(reason) => Reconciled::Unhandled(reason),
                _ => Reconciled::Handled,
            });
        };
        let Event { id, lifecycle, .. } = event;
        let Some(mut action) = lifecycle else {
            return Ok(Reconciled::Handled);
        };
        // Which hook holds it matters only to act: asked once per sweep and group, and only
        // for actions no lifecycle handles.
        if matches!(
            decision,
            Decision::Start | Decision::Resume | Decision::Complete(_) | Decision::Claimed
        ) {
            if !hooks.contains_key(&instance.group) {
                let described = fleet.hooks(&instance.group, None).await?;
                hooks.insert(instance.group.clone(), described);
            }
            let Some(hook) = hooks[&instance.group]
                .iter()
                .filter(|h| h.transition == wait.transition())
                .min_by(|a, b| a.name.cmp(&b.name))
            else {
                return Ok(Reconciled::Unhandled(format!(
                    "group `{}` has no {} hook",
                    instance.group,
                    wait.transition().as_aws_str()
                )));
            };
            action.lifecycle_hook_name = hook.name.clone();
            action.notification_metadata = hook.notification_metadata.clone();
        }
        match decision {
            Decision::Handled => Ok(Reconciled::Handled),
            Decision::Claimed => {
                // A delivery holds the record's claim, or has just moved it: it handles the
                // action — unless it is stuck (paused past its lease, about to be cut off, to
                // be gone on with by the next sweep), and nothing it did yet
                // keeps the action alive. A heartbeat costs nothing if it is not.
                self.actions.heartbeat(&action, None).await?;
                Ok(Reconciled::Handled)
            }
            Decision::RunDeferred => {
                let Some(termination) = lifecycle_core::deferred_termination(&record) else {
                    return Ok(Reconciled::Handled);
                };
                tracing::warn!(event_id = %termination.id, "the wait before the deferred termination is over, and the termination has not run: running it");
                if let Some(action) = &termination.lifecycle
                    && self.actions.heartbeat(action, None).await? == Completed::NoActiveAction
                {
                    return Ok(Reconciled::Handled);
                }
                let region = termination
                    .lifecycle
                    .as_ref()
                    .and_then(|a| a.region.clone());
                Box::pin(self.dispatch_record(record, termination, region.as_deref())).await?;
                Ok(Reconciled::Started)
            }
            Decision::Unhandled(reason) => Ok(Reconciled::Unhandled(reason)),
            Decision::Complete(result) => {
                // The action that lifecycle was of, exactly: by its token, which Auto Scaling
                // refuses once that action is over. A lifecycle the sweep started has none; by
                // its instance and hook alone, a completion would end whatever action the
                // hook holds now (the warm pool's exit, say, opened since this sweep looked):
                // so it must be this wait's, and the wait is asked again first.
                let progress = LifecycleProgress::of(&record);
                let token = progress
                    .as_ref()
                    .and_then(|p| p.action_token(&instance.instance_id))
                    .map(str::to_owned);
                let tried = token.is_some();
                let ended_is_this = match token {
                    Some(token) => {
                        let mut ended = action.clone();
                        ended.lifecycle_action_token = Some(token);
                        tracing::warn!(%result, "the lifecycle ended but Auto Scaling still holds its action: completing it again");
                        if self.complete_action(&ended, None, result).await? == Completed::Done {
                            return Ok(Reconciled::Completed);
                        }
                        false
                    }
                    None => progress.is_some_and(|p| p.is_of(&action)),
                };
                if fleet.held(&action, None).await? != crate::fleet::Held::Yes {
                    // Completed, or tried: that action is over, and this one too.
                    return Ok(if tried {
                        Reconciled::Completed
                    } else {
                        Reconciled::Handled
                    });
                }
                if ended_is_this {
                    tracing::warn!(%result, "the lifecycle ended but Auto Scaling still holds its action: completing it again");
                    self.complete(&action, None, result).await?;
                    return Ok(Reconciled::Completed);
                }
                // The ended lifecycle was another action's of the same transition — a warm
                // pool's entry, ended where the record rests, and this its exit, whose event
                // was lost: its own lifecycle starts from there, as its event would have.
                tracing::warn!(event_id = %id, "the action Auto Scaling holds is not the ended lifecycle's: starting its own");
                self.start_lifecycle(record, id, action).await
            }
            Decision::Start | Decision::Resume => {
                if decision == Decision::Resume
                    && let Some(token) = LifecycleProgress::of(&record)
                        .as_ref()
                        .and_then(|p| p.action_token(&instance.instance_id))
                {
                    // Under the key of the lifecycle it goes on with: the dispatcher resumes it.
                    action.lifecycle_action_token = Some(token.to_owned());
                }
                tracing::warn!(event_id = %id, resume = decision == Decision::Resume, "no lifecycle handles this action (its event was lost): starting it");
                self.start_lifecycle(record, id, action).await
            }
        }
    }

    /// Runs the lifecycle of `action`, whose event was lost, on `record` (just read: no second
    /// read), as event `id`.
    async fn start_lifecycle(
        &self,
        record: Record,
        id: String,
        action: LifecycleAction,
    ) -> Result<Reconciled, HandleError> {
        // Silent since Auto Scaling opened it (up to a sweep period ago, or more): its hook's
        // timer starts again before the lifecycle's first wait, which the next sweeps keep
        // alive.
        if self.actions.heartbeat(&action, None).await? == Completed::NoActiveAction {
            return Ok(Reconciled::Handled);
        }
        let event = Event::lifecycle(id, action);
        Box::pin(self.run_lifecycle_on(record, event, None, None)).await?;
        Ok(Reconciled::Started)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Decision {
    Handled,
    /// A delivery holds the record's claim, or took its last step less than a lease ago: it
    /// handles the action, which is kept alive.
    Claimed,
    Start,
    /// The record's last lifecycle, of this action, cut off before its end: it goes on, under
    /// its own key.
    Resume,
    /// The termination noted while a wait went on, whose run the wait's end did not finish.
    RunDeferred,
    Complete(LifecycleResult),
    Unhandled(String),
}

/// Whether the delivery that took the record's last step, less than a lease ago, may still be
/// at it: the record is on its way, not at rest in a wait — a state it leaves by itself (a
/// transition that takes any event), or a termination noted to run once the wait before it
/// is over. Such a record is gone on with only once still for a lease: that delivery may act
/// until its lease runs out (`Effects::may_act`), and what its tasks do outside the table is
/// not fenced by the record's writes.
fn in_hand<M: LifecycleModel>(record: &Record, decision: &Decision, now: u64, lease: u64) -> bool {
    let recent = record
        .last_step_at()
        .is_some_and(|at| now < at.saturating_add(lease));
    if !recent || lifecycle_core::is_waiting(record) {
        return false;
    }
    match decision {
        Decision::RunDeferred => true,
        Decision::Start | Decision::Resume => M::State::from_str(&record.state)
            .is_ok_and(|state| passes_through(&M::DEFINITION, state)),
        _ => false,
    }
}

/// Whether `event` moves a record on from `state`: a transition there takes it and goes
/// somewhere. An internal transition alone (a state at rest that only reacts) leaves the
/// lifecycle where it ended.
fn moves_on<S: State>(def: &lifecycle_core::ModelDefinition<S>, state: S, event: &Event) -> bool {
    def.triggers_from(state)
        .any(|(_, t)| !t.is_internal() && t.accepts(event))
}

/// Whether a record leaves `state` by itself: a transition there takes any event (no `on`)
/// and moves it. A lifecycle found in such a state was cut off on its way, not at rest.
fn passes_through<S: State>(def: &lifecycle_core::ModelDefinition<S>, state: S) -> bool {
    def.triggers_from(state)
        .any(|(_, t)| t.on.is_empty() && !t.is_internal())
}

/// Whether the record shows a lifecycle handling Auto Scaling's open action of `wait`.
fn decide<M: LifecycleModel>(record: &Record, wait: WaitState, event: &Event) -> Decision {
    let progress = LifecycleProgress::of(record);
    let suffix = match wait.transition() {
        LifecycleTransition::Launching => "/launch",
        LifecycleTransition::Terminating => "/terminate",
    };
    let this_transition = progress
        .as_ref()
        .filter(|p| p.token.ends_with(suffix))
        .cloned();
    if this_transition.as_ref().is_some_and(|p| p.waiting) {
        return Decision::Handled;
    }
    let Ok(state) = M::State::from_str(&record.state) else {
        return Decision::Unhandled(format!(
            "the record's state `{}` is not a state of model {}",
            record.state,
            M::DEFINITION.name
        ));
    };
    let def = &M::DEFINITION;
    match wait.transition() {
        LifecycleTransition::Launching => {
            if pending_from_image(&record.ident, &record.attributes).is_some() {
                // Parked until cloud-init finishes: the sweep keeps it alive.
                return Decision::Handled;
            }
            let is_new = def.initial == Some(state) || def.is_before_initial(state);
            if is_new || moves_on(def, state, event) {
                // A launch that failed, cut off in its failure handling (or before its
                // completion): an ABANDONed launch ends its instance, so the launch Auto
                // Scaling holds is that one. It goes on as that lifecycle, failure and all —
                // a new one would run the failure path's steps as a success, CONTINUE. So
                // does one cut off on its way (in a state it leaves by itself): it has not
                // ended, so the action held is its own — a new lifecycle would be refused
                // there, past the launch. One at rest (a warm pool's entry, prepared) has
                // ended: the launch held now (the pool's exit) starts its own.
                if this_transition.as_ref().is_some_and(|p| {
                    p.result == LifecycleResult::Abandon || (!is_new && passes_through(def, state))
                }) {
                    return Decision::Resume;
                }
                return Decision::Start;
            }
            match this_transition {
                Some(p) => Decision::Complete(p.result),
                None => Decision::Unhandled(format!(
                    "the record is in `{}`, past its launch, with nothing the launch can do there",
                    record.state
                )),
            }
        }
        LifecycleTransition::Terminating => {
            if lifecycle_core::deferred_termination(record).is_some() {
                // Noted: it runs once the wait before it is over — or, if the wait is over
                // and its run was cut off (the wait's end ran it, and failed), now.
                return if lifecycle_core::is_waiting(record) {
                    Decision::Handled
                } else {
                    Decision::RunDeferred
                };
            }
            match this_transition {
                // Its delivery was cut off half way and another event (a Spot warning, a
                // rebalance) went on and waits for a command: not ended. Started, it is noted
                // behind that wait (and kept alive), and runs when the wait is over.
                Some(p) if !p.waiting && lifecycle_core::is_waiting(record) => Decision::Start,
                // Cut off half way (its drain not yet sent, say): it goes on as that lifecycle.
                Some(_) if moves_on(def, state, event) => Decision::Resume,
                Some(p) => Decision::Complete(p.result),
                None => Decision::Start,
            }
        }
    }
}

/// The event id of a reconciled action: the same for every sweep that tries it, so a sweep
/// cut off half way is resumed by the next, as a redelivered event is.
fn event_id(wait: WaitState, instance: &str) -> String {
    let what = match wait {
        WaitState::Launching => "launch",
        WaitState::LaunchingIntoWarmPool => "launch-into-warm-pool",
        WaitState::Terminating => "terminate",
        WaitState::TerminatingInWarmPool => "terminate-in-warm-pool",
    };
    format!("reconcile-{what}-{instance}")
}

/// The lifecycle action Auto Scaling holds, as its event would have named it, without the
/// token Auto Scaling does not tell (and, until it is known, the hook). Where a launch into the group comes from is not in
/// `Pending:Wait`: from the warm pool if the record is past its launch (prepared there).
fn reconciled_action<S: State>(
    instance: &FleetInstance,
    wait: WaitState,
    record: &Record,
    def: &lifecycle_core::ModelDefinition<S>,
) -> LifecycleAction {
    let is_new = S::from_str(&record.state)
        .is_ok_and(|s| def.initial == Some(s) || def.is_before_initial(s));
    let (origin, destination) = match wait {
        WaitState::Launching if is_new => (Location::Ec2, Location::AutoScalingGroup),
        WaitState::Launching => (Location::WarmPool, Location::AutoScalingGroup),
        WaitState::LaunchingIntoWarmPool => (Location::Ec2, Location::WarmPool),
        WaitState::Terminating => (Location::AutoScalingGroup, Location::Ec2),
        WaitState::TerminatingInWarmPool => (Location::WarmPool, Location::Ec2),
    };
    LifecycleAction {
        auto_scaling_group_name: instance.group.clone(),
        lifecycle_hook_name: String::new(),
        lifecycle_action_token: None,
        ec2_instance_id: instance.instance_id.clone(),
        lifecycle_transition: wait.transition(),
        notification_metadata: None,
        region: None,
        origin: Some(origin),
        destination: Some(destination),
    }
}
