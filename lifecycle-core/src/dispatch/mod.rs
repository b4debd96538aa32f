//! Processing one event: the original library's semantics, with every state change a
//! compare-and-set.

use std::fmt;

use serde_json::Value;

use crate::context::{Context, StepEffects};
use crate::effects::{ClaimOutcome, EffectError, Effects};
use crate::history::StepNote;
use crate::token::push_write_token;
use crate::{CasOutcome, Record, StateChange, Store, attr};
use crate::{CommandStatus, Event, EventKind, LifecycleAction, LifecycleTransition};
use crate::{LifecycleModel, ModelDefinition, Phase, State, TaskFailure, UnknownState};

mod error;
mod progress;
mod report;
mod step;

pub use error::{DispatchError, ModelDispatchError};
pub use progress::{
    LifecycleProgress, PROGRESS_ATTRIBUTE, ScheduledRun, deferred_termination, is_waiting,
    moved_by_result, progress_note, scheduled_run, waits_for,
};
use progress::{
    action_key, applied_last, noted_termination, stage_progress, terminated, transition_suffix,
    untokened_key,
};
pub use report::{
    Declined, Failure, FailureCause, Fired, LifecycleResult, ModelReport, Report, StopReason,
};
use step::{Noted, Step, step, write};

/// Enough room in a report for a typical event without regrowing.
const EXPECTED_STEPS: usize = 16;

/// More state changes than this for one event means a cycle.
const MAX_STEPS: usize = 1024;

/// Loads the record for the event's instance and dispatches the event to it.
///
/// A scheduled event has no instance: its record is the rule's (see [`dispatch`]).
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{MemoryEffects, MemoryStore, Record, load_and_dispatch};
/// lifecycle_core::testing::block_on(async {
///     let store = MemoryStore::new();
///     store.insert(Record::new("i-1", "finished_cloud_init"));
///     let effects = MemoryEffects::new();
///     let launch = lifecycle_core::testing::launching("i-1");
///     let (record, report) = load_and_dispatch(&mut Node, &store, "i-1", &launch, &effects).await.unwrap();
///     assert_eq!((record.state.as_str(), report.end), ("joining", NodeState::Joining));
///     assert_eq!(store.get("i-1").unwrap().state, "joining");
/// });
/// ```
pub async fn load_and_dispatch<M: LifecycleModel, St: Store>(
    model: &mut M,
    store: &St,
    ident: &str,
    event: &Event,
    effects: &dyn Effects,
) -> Result<(Record, ModelReport<M>), ModelDispatchError<M, St>> {
    let mut record = store
        .load(ident)
        .await
        .map_err(DispatchError::Store)?
        .ok_or_else(|| DispatchError::UnknownRecord(ident.to_owned()))?;
    let report = dispatch(model, store, &mut record, event, effects).await?;
    Ok((record, report))
}

/// Processes `event` for `record`, which was loaded from `store`:
///
/// 1. The triggers of the current state are tried in declaration order; the first that reacts
///    to the event, whose `prepare` tasks succeed and whose guards pass, fires.
/// 2. Firing runs its `before` tasks and the task method, stores the new state (a
///    compare-and-set), then runs its `after` tasks.
/// 3. If the state changed, the new state's triggers are tried, until no trigger changes the
///    state, a terminal state is reached, or a `stop`/`wait` flag says so.
/// 4. A task error marks the event failed and enters the failure state, whose triggers run the
///    same way (an error there is returned). With `ignore_errors` the error is logged and the
///    destination entered anyway. A failed command result only fires `ignore_errors` triggers;
///    when it blocks every other one, failure handling starts as for a task error. Once an
///    `ignore_errors` trigger has fired for it, the failure is handled and the triggers after
///    it run as for a successful event.
///
/// `record` is updated to what was stored.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{CommandStatus, Event, MemoryEffects, MemoryStore, Record, StopReason, dispatch};
/// lifecycle_core::testing::block_on(async {
///     let store = MemoryStore::new();
///     let mut record = Record::new("i-1", "finished_cloud_init");
///     store.insert(record.clone());
///     let effects = MemoryEffects::new();
///     let launch = lifecycle_core::testing::launching("i-1");
///     let report = dispatch(&mut Node, &store, &mut record, &launch, &effects).await.unwrap();
///     assert_eq!(report.stop, StopReason::Waiting);
///     // The join command's result, for the lifecycle it was sent for.
///     let sent = &effects.commands()[0];
///     let result = Event::command_result("e-2", &sent.command_id, CommandStatus::Success, "i-1", sent.lifecycle.clone());
///     let report = dispatch(&mut Node, &store, &mut record, &result, &effects).await.unwrap();
///     assert_eq!((report.end, report.stop), (NodeState::Ready, StopReason::Finished));
/// });
/// ```
pub async fn dispatch<M: LifecycleModel, St: Store>(
    model: &mut M,
    store: &St,
    record: &mut Record,
    event: &Event,
    effects: &dyn Effects,
) -> Result<ModelReport<M>, ModelDispatchError<M, St>> {
    // A copy (a few pointers): the model is borrowed mutably by its tasks below.
    let def = model.definition();
    let start: M::State = record.state.parse()?;
    if record.state != start.name()
        && let Some(former) = def.former.iter().find(|f| f.name == record.state)
    {
        // Stored by an earlier version of the model: read as what it became, written with its
        // new name at the next state change.
        if former.retired {
            tracing::info!(event_id = %event.id, ident = %record.ident, stored = %record.state, now = %start, "a retired state's record goes where the model says");
        } else {
            tracing::info!(event_id = %event.id, ident = %record.ident, stored = %record.state, now = %start, "a record stored under a former name");
        }
    }
    if record.version > crate::MAX_VERSION {
        // Each write below adds one: never past what a u64 holds.
        return Err(DispatchError::VersionOutOfRange {
            ident: record.ident.clone(),
            version: record.version,
        });
    }
    let mut report = Report {
        event_id: event.id.clone(),
        ident: record.ident.clone(),
        start,
        end: start,
        states: Vec::with_capacity(EXPECTED_STEPS),
        fired: Vec::with_capacity(EXPECTED_STEPS),
        declined: Vec::new(),
        stop: StopReason::Settled,
        failure: None,
        ignored: Vec::new(),
        event_failed: false,
        lifecycle_result: None,
    };
    report.states.push(start);
    if let EventKind::CommandResult { command_id, .. } = &event.kind
        && !takes_result(record, command_id, &event.id)
    {
        tracing::info!(event_id = %event.id, ident = %record.ident, state = %start, command_id, "the record does not wait for this command: result not applied");
        report.stop = StopReason::NotAwaited;
        return Ok(report);
    }
    // The same lifecycle action under two keys: a lifecycle of this transition waits on the
    // record, started by an event of another key — reconciliation started it from Auto
    // Scaling's view (no token: keyed by the instance), and this is its late event, or the
    // other way round. One instance has one open action per transition: this one is already
    // being handled, and its lifecycle completes it.
    if let Some(action) = &event.lifecycle
        && matches!(event.kind, EventKind::Launching | EventKind::Terminating)
        && let Some(progress) = LifecycleProgress::of(record)
        && progress.waiting
        && progress.token != action_key(action)
        && progress
            .token
            .ends_with(transition_suffix(action.lifecycle_transition))
    {
        tracing::info!(event_id = %event.id, ident = %record.ident, state = %start, handled_by = %progress.event_id, "this lifecycle action is already handled under another key: nothing to do");
        report.stop = StopReason::Refused;
        return Ok(report);
    }
    // The same, its lifecycle over: the sweep started it without its event, which comes now
    // (late, or failing until then), and it ended where nothing this event triggers can move
    // it — its completion perhaps still on its way. That lifecycle's result is this action's:
    // it is completed so, not run again nor let go. (Cut off before its end, it goes on
    // below, as this action's lifecycle.)
    if let Some(action) = &event.lifecycle
        && matches!(event.kind, EventKind::Launching | EventKind::Terminating)
        && action.lifecycle_action_token.is_some()
        && let Some(progress) = LifecycleProgress::of(record)
        && !progress.waiting
        && progress.token == untokened_key(action)
        && !def.triggers_from(start).any(|(_, t)| t.accepts(event))
    {
        tracing::info!(event_id = %event.id, ident = %record.ident, state = %start, result = %progress.result, "this lifecycle action's lifecycle ran when the sweep started it: completed with its result");
        report.stop = StopReason::Refused;
        report.lifecycle_result = Some(progress.result);
        return Ok(report);
    }
    // A termination while the launch waits for its command: the launch's next event (its
    // result, or the deadline's) goes to the model as a failure — the instance is going — and
    // the termination runs after it, once.
    let deferred = deferred_termination(record);
    // Only a launch is cut short: a drain (a wait some other event started, with no lifecycle
    // action of its own) sees the status SSM reported, and the termination runs after it.
    let launch_waits =
        LifecycleProgress::of(record).is_some_and(|p| p.waiting && p.token.ends_with("/launch"));
    let terminated_result;
    let event = match (&deferred, &event.kind) {
        (Some(_), EventKind::CommandResult { command_id, .. }) if launch_waits => {
            terminated_result = Event {
                kind: EventKind::CommandResult {
                    command_id: command_id.clone(),
                    status: CommandStatus::Other("Terminated".into()),
                },
                ..event.clone()
            };
            &terminated_result
        }
        _ => event,
    };
    if let (EventKind::Terminating, Some(action)) = (&event.kind, &event.lifecycle) {
        // The launch's lifecycle waits, or a drain some other event started (a Spot
        // interruption, a rebalance recommendation) waits for its command.
        // A wait this termination's own lifecycle did not note (its delivery sent the drain
        // and was cut off; a Spot warning's delivery adopted the command and wrote the wait)
        // is another event's too: the termination waits behind it, not completed beside it.
        let progress = LifecycleProgress::of(record);
        let launch_waits = progress
            .as_ref()
            .is_some_and(|p| p.waiting && p.token != action_key(action))
            || (record.awaited_commands().next().is_some()
                && progress.is_none_or(|p| p.token != action_key(action) || !p.waiting));
        let handled = def.triggers_from(start).any(|(_, t)| t.accepts(event));
        if launch_waits && !handled {
            if deferred.is_none() {
                let mut ctx = Context::new(event, record, effects);
                ctx.set(attr::DEFERRED_TERMINATION, noted_termination(event, action));
                if !write(store, &mut ctx, start, None, None).await? {
                    report.stop = StopReason::LostRace;
                    return Ok(report);
                }
            }
            tracing::info!(event_id = %event.id, ident = %record.ident, state = %start, "termination while the launch waits: it runs once the launch is over");
            report.stop = StopReason::Deferred;
            return Ok(report);
        }
        if deferred.as_ref().is_some_and(|d| d.id == event.id) {
            // Its turn: taken off the record before it runs.
            let mut ctx = Context::new(event, record, effects);
            ctx.set(attr::DEFERRED_TERMINATION, Value::Null);
            if !write(store, &mut ctx, start, None, None).await? {
                report.stop = StopReason::LostRace;
                return Ok(report);
            }
        }
    }
    // An event of the lifecycle action that last moved the record is a redelivery (or the
    // action's next event): it resumes from where the record is, it is not refused.
    // This action's lifecycle is also one the sweep started without its token (this event
    // came after it): the same action, under its instance's key.
    let progress = LifecycleProgress::of(record).filter(|p| {
        event.lifecycle.as_ref().is_some_and(|action| {
            action_key(action) == p.token
                || (action.lifecycle_action_token.is_some() && untokened_key(action) == p.token)
        })
    });
    if progress.is_none()
        && let Some(reason) = admission(&def, start, record, event)
    {
        tracing::info!(event_id = %event.id, ident = %record.ident, state = %start, ?reason, "event not processed");
        report.stop = reason;
        report.lifecycle_result = match (reason, event.lifecycle_transition()) {
            // Nothing will ever run for this terminating instance: let it go.
            (StopReason::Refused, Some(LifecycleTransition::Terminating)) => {
                Some(LifecycleResult::Continue)
            }
            // The instance was terminated before its launch ran.
            (StopReason::Refused, Some(LifecycleTransition::Launching))
                if terminated(record) && is_new(&def, start) =>
            {
                Some(LifecycleResult::Abandon)
            }
            _ => None,
        };
        if reason == StopReason::Refused && event.kind == EventKind::Terminating {
            // Terminated before its launch ran (the launch is late, or its delivery died
            // early): noted, so the launch is refused when it comes. Its parked launch, if any,
            // goes with this write. Whoever wins a race here, the termination is let go.
            let mut ctx = Context::new(event, record, effects);
            stage_progress(&mut ctx, false);
            write(store, &mut ctx, start, None, None).await?;
        }
        return Ok(report);
    }

    // Whether this very event moved the record before (by its id: a result delivered again
    // carries its action or not, as its registration says).
    let moved_by_this_event = LifecycleProgress::of(record).is_some_and(|p| p.event_id == event.id);
    // A result that failed, whose delivery was cut off in the failure state it entered, with
    // no lifecycle action to note it (a job's): failure handling goes on.
    // (Read only where it can matter: a failed event, or a record in the failure state.)
    let result_applied_last = (def.failure == Some(start) || !event.succeeded())
        && matches!(&event.kind, EventKind::CommandResult { command_id, .. } if applied_last(record, command_id));
    let resumed_in_failure = def.failure == Some(start) && result_applied_last;
    let mut ctx = Context::new(event, record, effects).with_records(store);
    let mut state = start;
    // Resuming a lifecycle that already failed (an earlier delivery entered failure handling
    // and was cut off): failure handling goes on, and the action still ends ABANDON.
    let mut in_failure = progress
        .as_ref()
        .is_some_and(|p| p.result == LifecycleResult::Abandon)
        || resumed_in_failure;
    if in_failure {
        ctx.event_failed = true;
        report.event_failed = true;
    }
    // This very event moved the record before (a delivery cut off half way) without failing
    // the lifecycle — or the record's last step applied this result, under whichever event —
    // and not into failure handling: its failed status was handled by an `ignore_errors`
    // transition, and the triggers after that one are not blocked by it again.
    if !in_failure && !event.succeeded() && (moved_by_this_event || result_applied_last) {
        ctx.event_failure_handled = true;
    }
    let mut steps = 0;
    let stop = loop {
        steps += 1;
        if steps > MAX_STEPS {
            return Err(DispatchError::Cycle(MAX_STEPS));
        }
        match step(model, &def, store, &mut ctx, state, in_failure, &mut report).await? {
            Step::Moved(next) => state = next,
            Step::Stop(reason) => break reason,
            Step::Failed {
                state: at,
                trigger,
                cause,
            } => {
                if in_failure {
                    let FailureCause::Task(cause) = cause else {
                        unreachable!(
                            "the implicit event condition is not applied during failure handling"
                        )
                    };
                    // Failure handling resumed for an earlier delivery's failure has no cause
                    // of its own.
                    let original = report.failure.take().map_or(
                        FailureCause::Event(CommandStatus::Other(
                            "failed in an earlier delivery".into(),
                        )),
                        |f| f.cause,
                    );
                    tracing::error!(event_id = %event.id, ident = %ctx.record.ident, state = %at, %cause, "error during failure handling");
                    report.end = *report
                        .states
                        .last()
                        .expect("states starts with the start state");
                    return Err(DispatchError::FailureHandling {
                        cause,
                        original,
                        report: Box::new(report),
                    });
                }
                tracing::error!(event_id = %event.id, ident = %ctx.record.ident, state = %at, trigger = trigger.unwrap_or(""), %cause, "event failed");
                ctx.event_failed = true;
                report.event_failed = true;
                report.failure = Some(Failure {
                    state: at,
                    trigger,
                    cause,
                    fired_before: report.fired.len(),
                });
                let Some(failure_state) = def.failure else {
                    // Only a model whose every trigger ignores errors has no failure state.
                    break StopReason::Settled;
                };
                in_failure = true;
                // What the failed transition sent is not part of the lifecycle any more.
                if ctx.step_used() {
                    ctx.step().commands.clear();
                }
                if at != failure_state {
                    stage_progress(&mut ctx, false);
                    let noted = Noted {
                        trigger: trigger.unwrap_or("-"),
                        failed: true,
                    };
                    if !write(store, &mut ctx, failure_state, Some(false), Some(noted)).await? {
                        break StopReason::LostRace;
                    }
                    report.states.push(failure_state);
                }
                state = failure_state;
            }
        }
    };
    report.stop = stop;
    report.end = *report
        .states
        .last()
        .expect("states starts with the start state");
    // The lifecycle action is over when this event moved the record and it came to rest; an
    // event that only ran internal transitions (a heartbeat sweep) or stopped to wait is not
    // the end of it.
    let moved = report.states.len() > 1;
    report.lifecycle_result = match stop {
        StopReason::Finished | StopReason::Settled if moved => ctx.lifecycle_result(),
        // This action's lifecycle, found where an earlier event left it. At rest, and left so
        // by this very event: a redelivery after its last state change, whose completion may
        // never have been sent — complete again. Waiting, or left by another event of the
        // action (a duplicate arriving late): that event completes it, or did.
        StopReason::Finished | StopReason::Settled if progress.is_some() => progress
            .filter(|p| !p.waiting && p.event_id == event.id)
            .map(|p| p.result),
        // A terminating instance nothing in the model reacts to (already terminal, or caught
        // mid-launch), or one launching from the warm pool with nothing left to do: let it go
        // rather than leave its hook to time out.
        StopReason::Finished | StopReason::Settled
            if event.kind == EventKind::Terminating || from_warm_pool(event) =>
        {
            Some(LifecycleResult::Continue)
        }
        _ => None,
    };
    Ok(report)
}

/// Whether a command's result may move the record: the record waits for that command
/// ([`waits_for`]), or the result moved it before and its delivery was cut off
/// ([`moved_by_result`]): it goes on to the redelivery rules (it may have to complete the
/// action again).
fn takes_result(record: &Record, command_id: &str, event_id: &str) -> bool {
    waits_for(record, command_id) || moved_by_result(record, command_id, event_id)
}

/// Whether `state` is the initial state or one before it: the instance's launch has not run.
fn is_new<S: State>(def: &ModelDefinition<S>, state: S) -> bool {
    def.initial == Some(state) || def.is_before_initial(state)
}

/// Whether `event` launches an instance from the warm pool into its group.
fn from_warm_pool(event: &Event) -> bool {
    event.kind == EventKind::Launching
        && event
            .lifecycle
            .as_ref()
            .is_some_and(|a| a.origin() == crate::Location::WarmPool)
}

/// Whether the event may run at all, given where the record is (the original library's "new"
/// rules: a launch runs only for a new instance, a termination only for one that is not new).
fn admission<S: State>(
    def: &ModelDefinition<S>,
    start: S,
    record: &Record,
    event: &Event,
) -> Option<StopReason> {
    def.initial?;
    let is_new = is_new(def, start);
    match event.kind {
        EventKind::Launching if terminated(record) => Some(StopReason::Refused),
        EventKind::Launching if def.is_before_initial(start) => Some(StopReason::NotReady),
        // A launch from the warm pool finds the record where the launch into the pool left
        // it: its triggers there decide.
        EventKind::Launching if !is_new && !from_warm_pool(event) => Some(StopReason::Refused),
        EventKind::Terminating if is_new => Some(StopReason::Refused),
        _ if def.is_before_initial(start) => Some(StopReason::NotReady),
        _ => None,
    }
}

/// Runs all tasks of transition `index` by hand, with no guards and no store, and moves
/// `ctx`'s record to its destination: what the generated typestate API calls (through
/// `__private`, since it takes a raw transition index).
pub async fn run_transition<M: LifecycleModel>(
    model: &mut M,
    index: usize,
    ctx: &mut Context<'_>,
) -> Result<(), TaskFailure<M::Error>> {
    model.run_tasks(index, Phase::Prepare, ctx).await?;
    model.run_tasks(index, Phase::Before, ctx).await?;
    if let Some(dest) = model.definition().transitions[index].dest {
        ctx.record.state.clear();
        ctx.record.state.push_str(dest.name());
    }
    model.run_tasks(index, Phase::After, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::minimal::Drain;
    use crate::{MemoryEffects, Record};

    #[test]
    fn a_transition_run_by_hand_runs_its_tasks_and_moves_the_record() {
        crate::testing::block_on(async {
            let event = crate::testing::terminating("i-1");
            let mut record = Record::new("i-1", "ready");
            let effects = MemoryEffects::new();
            let mut ctx = Context::new(&event, &mut record, &effects);
            // The transition `drain`, with no guard checked and nothing stored.
            let index = Drain::DEFINITION
                .transitions
                .iter()
                .position(|t| t.trigger == "drain")
                .unwrap();
            run_transition(&mut Drain::default(), index, &mut ctx)
                .await
                .unwrap();
            assert_eq!(ctx.state(), "draining");
            // A failing task stops it where it was.
            let mut stuck = Record::new("i-2", "ready");
            let mut ctx = Context::new(&event, &mut stuck, &effects);
            let failed = run_transition(&mut Drain { unreachable: true }, index, &mut ctx).await;
            assert!(failed.is_err());
            assert_eq!(ctx.state(), "ready");
        });
    }
}
