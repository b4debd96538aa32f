//! One step of a dispatch: a transition's guards and tasks, then its write (with the step in
//! the record's history).

use super::*;

pub(super) enum Step<S, E> {
    Moved(S),
    Stop(StopReason),
    Failed {
        state: S,
        trigger: Option<&'static str>,
        cause: FailureCause<E>,
    },
}

/// Tries the triggers of `state` and fires the first that passes.
pub(super) async fn step<M: LifecycleModel, St: Store>(
    model: &mut M,
    def: &ModelDefinition<M::State>,
    store: &St,
    ctx: &mut Context<'_>,
    state: M::State,
    in_failure: bool,
    report: &mut ModelReport<M>,
) -> Result<Step<M::State, M::Error>, ModelDispatchError<M, St>> {
    let mut blocked_by_event = false;
    for (index, transition) in def.triggers_from(state) {
        if !transition.accepts(ctx.event) {
            continue;
        }
        // The implicit condition "the event succeeded", which failure handling does not apply,
        // nor the triggers after one that handled the failed event with `ignore_errors`.
        let event_failed = !ctx.event.succeeded() && !ctx.event_failure_handled;
        if event_failed && !transition.ignore_errors && !in_failure {
            blocked_by_event = true;
            continue;
        }
        let trigger = transition.trigger;
        let failed = |cause| Step::Failed {
            state,
            trigger: Some(trigger),
            cause: FailureCause::Task(cause),
        };

        may_act(ctx, state, trigger)?;
        // Only an error a failing task itself saw counts.
        ctx.take_transient();
        if let Err(e) = model.run_tasks(index, Phase::Prepare, ctx).await {
            if let Some(stop) = interrupted(ctx, state, trigger)? {
                return Ok(stop);
            }
            if !transition.ignore_errors {
                return Ok(failed(e));
            }
            ignore(ctx, report, state, trigger, e);
        }
        match model.check_guards(index, ctx).await {
            Ok(true) => {}
            Ok(false) => {
                report.declined.push(Declined {
                    trigger,
                    from: state,
                    fired_before: report.fired.len(),
                });
                continue;
            }
            Err(e) => {
                if let Some(stop) = interrupted(ctx, state, trigger)? {
                    return Ok(stop);
                }
                if !transition.ignore_errors {
                    return Ok(failed(e));
                }
                // As the original library did: a guard that failed under `ignore_errors`
                // lets the transition go ahead.
                ignore(ctx, report, state, trigger, e);
            }
        }
        ctx.take_transient();
        if let Err(e) = model.run_tasks(index, Phase::Before, ctx).await {
            if let Some(stop) = interrupted(ctx, state, trigger)? {
                return Ok(stop);
            }
            if !transition.ignore_errors {
                return Ok(failed(e));
            }
            ignore(ctx, report, state, trigger, e);
        }

        let dest = transition.dest.unwrap_or(state);
        let waits = transition.wait_after_state_change || transition.stop_after_trigger;
        // A claim taken, or an awaited result applied, is settled by a write even when the
        // state stays.
        let settles = (ctx.step_used() && ctx.step().version.is_some())
            || matches!(&ctx.event.kind, EventKind::CommandResult { command_id, .. } if ctx.record.awaits(command_id));
        if dest != state || !ctx.staged.is_empty() || settles {
            stage_progress(ctx, waits);
            let noted = Noted {
                trigger,
                failed: false,
            };
            if !write(store, ctx, dest, Some(waits), Some(noted)).await? {
                return Ok(Step::Stop(StopReason::LostRace));
            }
        }
        tracing::info!(event_id = %ctx.event.id, ident = %ctx.record.ident, from = %state, to = %dest, trigger, "fired");
        if event_failed {
            ctx.event_failure_handled = true;
        }
        report.fired.push(Fired {
            index,
            trigger,
            from: state,
            to: dest,
        });
        if dest != state {
            report.states.push(dest);
        }

        // The write was a call: a delivery paused in it past its lease runs no more tasks.
        may_act(ctx, dest, trigger)?;
        if let Err(e) = model.run_tasks(index, Phase::After, ctx).await {
            if !transition.ignore_errors {
                return Ok(Step::Failed {
                    state: dest,
                    trigger: Some(trigger),
                    cause: FailureCause::Task(e),
                });
            }
            ignore(ctx, report, dest, trigger, e);
        }
        // Side effects of `after` tasks came after the state change: one more write takes
        // their commands up (awaited if the transition waits) and releases their claim, or they
        // would count as a lost run's and be withdrawn.
        if ctx.step_used() {
            let settle = {
                let step = ctx.step();
                step.version.is_some() || !step.commands.is_empty()
            };
            if settle && !write(store, ctx, dest, Some(waits), None).await? {
                return Ok(Step::Stop(StopReason::LostRace));
            }
        }

        return Ok(if transition.stop_after_trigger {
            Step::Stop(StopReason::StopAfterTrigger { trigger })
        } else if dest == state {
            Step::Stop(StopReason::Settled)
        } else if transition.wait_after_state_change {
            Step::Stop(StopReason::Waiting)
        } else if def.is_terminal(dest) && def.outgoing[dest.index()].is_empty() {
            Step::Stop(StopReason::Finished)
        } else {
            Step::Moved(dest)
        });
    }

    if blocked_by_event
        && report.failure.is_none()
        && let EventKind::CommandResult { status, .. } = &ctx.event.kind
    {
        return Ok(Step::Failed {
            state,
            trigger: None,
            cause: FailureCause::Event(status.clone()),
        });
    }
    Ok(Step::Stop(if def.is_terminal(state) {
        StopReason::Finished
    } else {
        StopReason::Settled
    }))
}

/// Stops a delivery that may no longer act ([`Effects::may_act`](crate::Effects::may_act)):
/// its lease ran out, and another may have taken the record over.
fn may_act<S: State, E, StE>(
    ctx: &Context<'_>,
    state: S,
    trigger: &'static str,
) -> Result<(), DispatchError<S, E, StE>> {
    ctx.effects.may_act().map_err(|error| {
        tracing::warn!(event_id = %ctx.event.id, ident = %ctx.record.ident, %state, trigger, %error, "this delivery may no longer act: the event will be retried");
        DispatchError::Transient {
            state,
            trigger,
            error,
        }
    })
}

/// A task failed before its state change was stored: if its claim was refused, the event
/// stops (another delivery won, or holds the claim); if an effect it asked for failed
/// transiently, the event is to be delivered again rather than failed.
pub(super) fn interrupted<S: State, E, StE>(
    ctx: &Context<'_>,
    state: S,
    trigger: &'static str,
) -> Result<Option<Step<S, E>>, DispatchError<S, E, StE>> {
    let refused = if ctx.step_used() {
        ctx.step().refused.take()
    } else {
        None
    };
    match refused {
        Some(ClaimOutcome::Busy { until }) => {
            tracing::info!(event_id = %ctx.event.id, ident = %ctx.record.ident, %state, trigger, until, "another delivery holds the claim: the event will be retried");
            return Err(DispatchError::Busy {
                ident: ctx.record.ident.clone(),
                until,
            });
        }
        Some(_) => {
            tracing::warn!(event_id = %ctx.event.id, ident = %ctx.record.ident, %state, trigger, "lost a race: the record changed before the claim; stopping");
            return Ok(Some(Step::Stop(StopReason::LostRace)));
        }
        None => {}
    }
    match ctx.take_transient() {
        Some(error) => {
            tracing::warn!(event_id = %ctx.event.id, ident = %ctx.record.ident, %state, trigger, %error, "transient error: the event will be retried");
            Err(DispatchError::Transient {
                state,
                trigger,
                error,
            })
        }
        None => Ok(None),
    }
}

pub(super) fn ignore<S: State, E: fmt::Display>(
    ctx: &Context<'_>,
    report: &mut Report<S, E>,
    state: S,
    trigger: &'static str,
    failure: TaskFailure<E>,
) {
    tracing::warn!(event_id = %ctx.event.id, ident = %ctx.record.ident, %state, trigger, error = %failure, "error ignored (ignore_errors)");
    report.ignored.push(failure);
}

/// The step a write adds to the record's history: the trigger that fired, or whose failure
/// moves the record to the failure state.
#[derive(Clone, Copy)]
pub(super) struct Noted<'t> {
    pub(super) trigger: &'t str,
    pub(super) failed: bool,
}

/// Stores `to` (and the attributes tasks set) if the record is still where it was loaded (or
/// claimed). `false` if someone else moved it first. A waiting write (`waits` = `Some(true)`)
/// notes the commands the transition sent as the ones the record waits for; any other
/// transition's clears them; a bookkeeping write (`None`) leaves them. A write that fires a
/// step (`noted`) adds it to the record's history in the same write.
pub(super) async fn write<S: State, E, St: Store>(
    store: &St,
    ctx: &mut Context<'_>,
    to: S,
    waits: Option<bool>,
    noted: Option<Noted<'_>>,
) -> Result<bool, DispatchError<S, E, St::Error>> {
    // The transition's step ends with this write, stored or not.
    let StepEffects {
        version: claimed,
        commands,
        ..
    } = ctx.take_step();
    if let Some(version) = claimed {
        ctx.record.version = version;
    }
    if let Some(noted) = noted {
        note_step(ctx, to.name(), noted, &commands);
    }
    match waits {
        Some(true) if !commands.is_empty() => {
            ctx.set(attr::AWAITED_COMMAND, commands.join(" "));
        }
        Some(_) if ctx.record.awaited_commands().next().is_some() => {
            ctx.set(attr::AWAITED_COMMAND, Value::Null);
        }
        _ => {}
    }
    push_write_token(&mut ctx.token, &ctx.delivery, ctx.record.version + 1);
    let removes = claimed.is_some() || ctx.staged.iter().any(|(_, value)| value.is_null());
    let change = StateChange {
        ident: &ctx.record.ident,
        from: &ctx.record.state,
        version: ctx.record.version,
        to: to.name(),
        set: &ctx.staged,
        token: &ctx.token,
    };
    match store
        .compare_and_set(change)
        .await
        .map_err(DispatchError::Store)?
    {
        CasOutcome::Applied { version } => {
            ctx.record.state.clear();
            ctx.record.state.push_str(to.name());
            ctx.record.version = version;
            ctx.staged.clear();
            if removes || ctx.record.claimed_by().is_some() {
                ctx.record.attributes.retain(|key, value| {
                    !value.is_null() && key != attr::CLAIMED_BY && key != attr::CLAIMED_UNTIL
                });
            }
            ctx.effects.stored(&commands);
            Ok(true)
        }
        CasOutcome::Conflict => {
            tracing::warn!(event_id = %ctx.event.id, ident = %ctx.record.ident, from = %ctx.record.state, to = %to, "lost a race: the record changed under us; stopping");
            Ok(false)
        }
    }
}

/// Adds the step to `ctx`'s record's history: the commands it sent, or the awaited command
/// whose result it applies, with that result.
pub(super) fn note_step(ctx: &mut Context<'_>, to: &str, noted: Noted<'_>, sent: &[String]) {
    let applied = match &ctx.event.kind {
        EventKind::CommandResult { command_id, status } if ctx.record.awaits(command_id) => {
            Some((command_id.as_str(), status))
        }
        _ => None,
    };
    let sent = match sent {
        [] => None,
        [one] => Some(std::borrow::Cow::Borrowed(one.as_str())),
        many => Some(std::borrow::Cow::Owned(many.join(","))),
    };
    let status = applied.map(|(_, status)| status.to_string());
    let step = StepNote {
        at: ctx.effects.now(),
        from: &ctx.record.state,
        to,
        trigger: noted.trigger,
        event_id: &ctx.event.id,
        command: sent.as_deref().or(applied.map(|(id, _)| id)),
        result: match (&status, noted.failed) {
            (Some(status), _) => Some(status.as_str()),
            (None, true) => Some("failed"),
            (None, false) => None,
        },
    };
    let history = crate::history::append(&mut ctx.record.attributes, step, ctx.noted_step);
    ctx.noted_step = true;
    // The record holds the new history already: only the write needs it.
    ctx.stage(attr::HISTORY, history);
}
