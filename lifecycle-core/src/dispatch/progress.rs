//! The bookkeeping a record carries between events — which lifecycle action moved it, a
//! termination deferred behind a launch — that a store implementation reads back
//! (`lifecycle-aws` does: redeliveries, the sweep, scheduled machines).

use super::*;

/// The record attribute in which each state change notes the lifecycle action that made it.
///
/// ```
/// # use lifecycle_core::{lifecycle_model, CommandRequest, Context}; use lifecycle_core::testing::minimal::*;
/// use lifecycle_core::{LifecycleProgress, PROGRESS_ATTRIBUTE};
/// use lifecycle_core::testing::Harness;
/// lifecycle_core::testing::block_on(async {
///     let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
///     harness.launch("i-1").await.unwrap();
///     let record = harness.record("i-1").unwrap();
///     assert!(record.get_str(PROGRESS_ATTRIBUTE).is_some());
///     assert!(LifecycleProgress::of(&record).unwrap().waiting);
/// });
/// ```
pub const PROGRESS_ATTRIBUTE: &str = "LifecycleProgress";

/// What a record remembers of the lifecycle action that last moved it (attribute
/// [`PROGRESS_ATTRIBUTE`], written with each state change, in the same write).
///
/// It makes redelivery safe: an event of the same lifecycle action that finds the record
/// moved on resumes from there instead of being refused, and the event that brought the
/// lifecycle to rest, delivered again, completes the action again with the result it ended
/// with (Auto Scaling answers a repeat with "no active lifecycle action"), so a crash between
/// the last state change and the completion does not leave the hook to time out.
///
/// Stored as one string, `RESULT rest|wait TOKEN EVENT-ID` (one attribute, one allocation per
/// event: it is written on the hot path).
///
/// ```
/// use lifecycle_core::{LifecycleProgress, LifecycleResult, Record};
/// let record = Record::new("i-1", "ready").with("LifecycleProgress", "CONTINUE rest t-1 e-1");
/// let progress = LifecycleProgress::of(&record).unwrap();
/// assert_eq!(progress.token, "t-1");
/// assert_eq!(progress.result, LifecycleResult::Continue);
/// assert!(!progress.waiting);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleProgress {
    /// The lifecycle action's key: its token (the instance id when the event had none) and
    /// its transition, `TOKEN/launch` or `TOKEN/terminate`.
    pub token: String,
    /// The event whose processing made the change.
    pub event_id: String,
    /// What the action completes with if the lifecycle ends where the record is.
    pub result: LifecycleResult,
    /// Whether the record stopped to wait for another event (`wait` or `stop`).
    pub waiting: bool,
}

impl LifecycleProgress {
    /// The progress noted on `record`, if any.
    ///
    /// ```
    /// use lifecycle_core::{LifecycleProgress, LifecycleResult, Record};
    /// let record = Record::new("i-1", "failed").with("LifecycleProgress", "ABANDON rest t-1/launch e-7");
    /// let progress = LifecycleProgress::of(&record).unwrap();
    /// assert_eq!((progress.result, progress.event_id.as_str()), (LifecycleResult::Abandon, "e-7"));
    /// assert!(LifecycleProgress::of(&Record::new("i-2", "ready")).is_none());
    /// ```
    pub fn of(record: &Record) -> Option<Self> {
        let mut parts = record.get_str(PROGRESS_ATTRIBUTE)?.splitn(4, ' ');
        let result = match parts.next()? {
            "ABANDON" => LifecycleResult::Abandon,
            "CONTINUE" => LifecycleResult::Continue,
            _ => return None,
        };
        let waiting = match parts.next()? {
            "wait" => true,
            "rest" => false,
            _ => return None,
        };
        Some(LifecycleProgress {
            result,
            waiting,
            token: parts.next()?.to_owned(),
            event_id: parts.next()?.to_owned(),
        })
    }

    /// Whether this is the progress of `action`'s lifecycle: keyed by the action's token, or,
    /// for an action named without one (a lifecycle the sweep started), by its instance and
    /// its wait.
    ///
    /// ```
    /// use lifecycle_core::{LifecycleProgress, LifecycleTransition, Record};
    /// let mut action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
    /// let record = Record::new("i-1", "ready").with("LifecycleProgress", "CONTINUE rest i-1/launch e-1");
    /// let progress = LifecycleProgress::of(&record).unwrap();
    /// assert!(!progress.is_of(&action), "the action has a token");
    /// action.lifecycle_action_token = None;
    /// assert!(progress.is_of(&action));
    /// ```
    pub fn is_of(&self, action: &LifecycleAction) -> bool {
        self.token == action_key(action)
    }

    /// The token of the lifecycle action this is the progress of, if its key holds one (a
    /// lifecycle the sweep started, with no token, is keyed by its instance).
    ///
    /// ```
    /// use lifecycle_core::{LifecycleProgress, Record};
    /// let progress = |note| LifecycleProgress::of(&Record::new("i-1", "ready").with("LifecycleProgress", note)).unwrap();
    /// assert_eq!(progress("CONTINUE rest t-1/launch e-1").action_token("i-1"), Some("t-1"));
    /// assert_eq!(progress("CONTINUE rest i-1@warm-pool/launch e-1").action_token("i-1"), None);
    /// ```
    pub fn action_token(&self, instance: &str) -> Option<&str> {
        let key = self
            .token
            .strip_suffix("/launch")
            .or_else(|| self.token.strip_suffix("/terminate"))?;
        let untokened = key == instance || key.strip_suffix("@warm-pool") == Some(instance);
        (!untokened).then_some(key)
    }
}

/// The [`PROGRESS_ATTRIBUTE`] value an event of `action` leaves when it brings the lifecycle to
/// rest with `result`: for writes made outside the dispatcher (a parked launch ended by its
/// deadline), so a later event of the action finds it over.
///
/// ```
/// use lifecycle_core::{progress_note, LifecycleProgress, LifecycleResult, LifecycleTransition, Record};
/// let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
/// let note = progress_note(&action, "e-1", LifecycleResult::Abandon);
/// let record = Record::new("i-1", "pending").with("LifecycleProgress", note);
/// let progress = LifecycleProgress::of(&record).unwrap();
/// assert_eq!((progress.result, progress.waiting), (LifecycleResult::Abandon, false));
/// ```
pub fn progress_note(action: &LifecycleAction, event_id: &str, result: LifecycleResult) -> Value {
    progress_value(result, false, &action_key(action), event_id)
}

pub(super) fn progress_value(
    result: LifecycleResult,
    waiting: bool,
    token: &str,
    event_id: &str,
) -> Value {
    let waiting = if waiting { "wait" } else { "rest" };
    Value::String(format!(
        "{} {waiting} {token} {event_id}",
        result.as_aws_str()
    ))
}

/// What a scheduled rule's event is to the rule's record (`Ident` = the rule), which names the
/// event whose run it is in ([`attr::RUN_EVENT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScheduledRun {
    /// The same event again (EventBridge delivers at least once, Lambda retries), its run
    /// ended: it starts no other.
    Duplicate,
    /// Another event's run starts: the record is written back to the start state (a state
    /// change, from where it is to there) with the event in [`attr::RUN_EVENT`] — which also
    /// lets go a claim another run's delivery left (it died after sending
    /// its command), so this run sends its own command rather than adopting one hours old.
    Start,
    /// The event is dispatched where the record is: its own run, not ended (a redelivery goes
    /// on where an earlier one stopped), or another run still waiting or holding its claim.
    GoOn,
}

/// What `event_id`, an event of the rule whose state is `start`, is to `record` at `now`
/// (epoch seconds): see [`ScheduledRun`].
///
/// ```
/// use lifecycle_core::{scheduled_run, Record, ScheduledRun, State, attr};
/// # use lifecycle_core::{lifecycle_model, Context, LifecycleModel};
/// # pub struct Job;
/// # #[lifecycle_model(states(Backup, Done), initial = Backup, schedules(Backup), terminal(Done), error = std::fmt::Error)]
/// # impl Job {
/// #     #[transition(from = Backup, to = Done, on(scheduled), ignore_errors)]
/// #     async fn go(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> { Ok(()) }
/// # }
/// let done = Record::new("backup", "done").with(attr::RUN_EVENT, "night-1");
/// let run = |event, record: &Record| scheduled_run(&Job::DEFINITION, record, JobState::Backup, event, 0);
/// assert_eq!(run("night-1", &done), ScheduledRun::Duplicate);
/// assert_eq!(run("night-2", &done), ScheduledRun::Start);
/// let started = Record::new("backup", "backup").with(attr::RUN_EVENT, "night-2");
/// assert_eq!(run("night-2", &started), ScheduledRun::GoOn);
/// ```
pub fn scheduled_run<S: State>(
    definition: &ModelDefinition<S>,
    record: &Record,
    start: S,
    event_id: &str,
    now: u64,
) -> ScheduledRun {
    let ran_before = record.get_str(attr::RUN_EVENT) == Some(event_id);
    let ended = record
        .state
        .parse::<S>()
        .is_ok_and(|state| definition.is_terminal(state));
    let claim_live = record.claimed_until().is_some_and(|until| until >= now);
    match (ran_before, ended) {
        (true, true) => ScheduledRun::Duplicate,
        (false, true) => ScheduledRun::Start,
        (false, false) if record.state == start.name() && !claim_live => ScheduledRun::Start,
        _ => ScheduledRun::GoOn,
    }
}

/// The terminating event noted on `record` while its launch waited
/// ([`StopReason::Deferred`]), if any: run it once the launch's lifecycle is over.
///
/// ```
/// use lifecycle_core::{deferred_termination, EventKind, Record};
/// let noted = r#"{"EventId":"e-9","Action":{"AutoScalingGroupName":"g","LifecycleHookName":"h",
///     "EC2InstanceId":"i-1","LifecycleTransition":"autoscaling:EC2_INSTANCE_TERMINATING"}}"#;
/// let record = Record::new("i-1", "joining").with("DeferredTermination", noted);
/// let event = deferred_termination(&record).unwrap();
/// assert_eq!((event.id.as_str(), event.kind), ("e-9", EventKind::Terminating));
/// ```
pub fn deferred_termination(record: &Record) -> Option<Event> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Noted {
        event_id: String,
        action: LifecycleAction,
    }
    let noted: Noted = serde_json::from_str(record.get_str(attr::DEFERRED_TERMINATION)?).ok()?;
    Some(Event::lifecycle(noted.event_id, noted.action))
}

pub(super) fn noted_termination(event: &Event, action: &LifecycleAction) -> Value {
    let noted = serde_json::json!({ "EventId": event.id, "Action": action });
    Value::String(noted.to_string())
}

/// The key that identifies a lifecycle action across its events: its token, and its
/// transition (a launch and a termination never share a key, whatever their tokens).
pub(super) fn action_key(action: &LifecycleAction) -> String {
    let transition = transition_suffix(action.lifecycle_transition);
    // No spaces: the key is one word of the stored progress.
    match &action.lifecycle_action_token {
        Some(token) => format!("{}{transition}", token.replace(' ', "_")),
        None => untokened_key(action),
    }
}

/// The key of `action` as the sweep names it when it starts a lifecycle whose event was lost
/// (Auto Scaling tells it no token): the instance, and whether the wait is the warm pool's —
/// an instance waits once to enter the warm pool and once to leave it, both launches.
pub(super) fn untokened_key(action: &LifecycleAction) -> String {
    let transition = transition_suffix(action.lifecycle_transition);
    let warm_pool = match action.lifecycle_transition {
        LifecycleTransition::Launching => action.destination() == crate::Location::WarmPool,
        LifecycleTransition::Terminating => action.origin() == crate::Location::WarmPool,
    };
    let place = if warm_pool { "@warm-pool" } else { "" };
    format!(
        "{}{place}{transition}",
        action.ec2_instance_id.replace(' ', "_")
    )
}

/// How a lifecycle action's key ends: `/launch` or `/terminate`.
pub(super) fn transition_suffix(transition: LifecycleTransition) -> &'static str {
    match transition {
        LifecycleTransition::Launching => "/launch",
        LifecycleTransition::Terminating => "/terminate",
    }
}

/// Notes this event's lifecycle action on the record, to be stored with the next write —
/// unless this event already noted the same there (the attribute stays until overwritten).
pub(super) fn stage_progress(ctx: &mut Context<'_>, waiting: bool) {
    let (Some(action), Some(result)) = (&ctx.event.lifecycle, ctx.lifecycle_result()) else {
        return;
    };
    if ctx.progress_noted == Some((waiting, result)) {
        return;
    }
    ctx.progress_noted = Some((waiting, result));
    let value = progress_value(result, waiting, &action_key(action), &ctx.event.id);
    ctx.set(PROGRESS_ATTRIBUTE, value);
}

/// Whether `record` waits: its lifecycle stopped to wait (`wait`, `stop`), or it waits for a
/// command's result (a drain a Spot interruption started, say, with no lifecycle action).
/// A termination noted while it waits runs once it no longer does.
///
/// ```
/// use lifecycle_core::{Record, is_waiting};
/// assert!(is_waiting(&Record::new("i-1", "draining").with("AwaitedCommand", "c-1")));
/// assert!(is_waiting(&Record::new("i-1", "joining").with("LifecycleProgress", "CONTINUE wait t/launch e-1")));
/// assert!(!is_waiting(&Record::new("i-1", "ready")));
/// ```
pub fn is_waiting(record: &Record) -> bool {
    record.awaited_commands().next().is_some()
        || LifecycleProgress::of(record).is_some_and(|p| p.waiting)
}

/// Whether the result of command `command_id`, as event `event_id`, moved `record` before and
/// its delivery was cut off after that: its lifecycle's progress names the event, or — where
/// no lifecycle action's progress says so (a drain, a job), and for the same result under
/// another event (SSM's and the sweep's recovered one) — the record's last step applied that
/// command's result. Delivered again, such a result goes on from where the record is.
///
/// ```
/// use lifecycle_core::{Record, moved_by_result};
/// let cut_off = Record::new("backup", "failure")
///     .with("History", "1764158400 backing_up failure - result-9 c-1 TimedOut");
/// assert!(moved_by_result(&cut_off, "c-1", "recovered-c-1-TimedOut"));
/// assert!(!moved_by_result(&cut_off, "c-2", "result-9"), "another command's result");
/// ```
pub fn moved_by_result(record: &Record, command_id: &str, event_id: &str) -> bool {
    LifecycleProgress::of(record).is_some_and(|p| p.event_id == event_id)
        || applied_last(record, command_id)
}

/// Whether the record's last step applied the result of `command_id` (the step's command,
/// with its result), and left it where it is. A step that applies a result and sends a
/// command names the command sent: its result is taken only where the record waits for it
/// anyway — a state that takes a command's result is entered with `wait` (the compiler sees
/// to it). Only the history's last line is read.
pub(super) fn applied_last(record: &Record, command_id: &str) -> bool {
    record
        .get_str(attr::HISTORY)
        .and_then(|story| story.lines().next_back())
        .and_then(|line| crate::HistoryEntry::parse(line, None))
        .is_some_and(|step| {
            step.command.as_deref() == Some(command_id)
                && step.result.is_some()
                && step.to == record.state
        })
}

/// Whether `record` waits for the result of command `command_id`: it names it, or it waits
/// without naming a command (one not sent through the context), or the original library wrote
/// it (it named none).
///
/// ```
/// use lifecycle_core::{Record, waits_for};
/// let mut record = Record::new("i-1", "draining").with("AwaitedCommand", "c-1");
/// record.version = 3;
/// assert!(waits_for(&record, "c-1"));
/// assert!(!waits_for(&record, "c-2"));
/// ```
pub fn waits_for(record: &Record, command_id: &str) -> bool {
    record.version == 0
        || record.awaits(command_id)
        || (LifecycleProgress::of(record).is_some_and(|p| p.waiting)
            && record.awaited_commands().next().is_none())
}

/// Whether a termination has run (or been let go) for the record.
pub(super) fn terminated(record: &Record) -> bool {
    LifecycleProgress::of(record).is_some_and(|p| p.token.ends_with("/terminate"))
}
