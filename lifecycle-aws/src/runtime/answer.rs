//! The answer to an invocation, as the Lambda returns it, and how a dispatch's report becomes one.

use super::*;

/// What handling one notification did; the Lambda returns these as JSON.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
/// use lifecycle_aws::runtime::Outcome;
/// lifecycle_aws::testing::block_on(async {
///     let answer = runtime.handle_bytes(launch.to_string().as_bytes()).await.unwrap();
///     let Outcome::Dispatched { start, end, stop, .. } = &answer.outcomes[0] else { panic!("dispatched") };
///     assert_eq!((start.as_str(), end.as_str(), stop.as_str()), ("finished_cloud_init", "joining_cluster", "waiting"));
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The event ran through the model.
    Dispatched {
        /// The event.
        event_id: String,
        /// The record.
        ident: String,
        /// Its state before.
        start: String,
        /// Its state after.
        end: String,
        /// The triggers that fired.
        triggers: Vec<String>,
        /// Every step in order: each trigger that fired, and the move into the failure state.
        steps: Vec<Step>,
        /// Triggers of the state the event came to rest in whose guards said no.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        declined: Vec<String>,
        /// Why processing stopped.
        stop: String,
        /// The failure handled, if any.
        failure: Option<String>,
        /// The lifecycle action's completion, if this event ended it.
        completed: Option<String>,
        /// A termination that waited for this event's lifecycle to end, run after it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deferred: Option<Box<Outcome>>,
    },
    /// A launch for an instance still in cloud-init: parked on its record until the record
    /// reaches the initial state.
    Parked {
        /// The instance.
        ident: String,
    },
    /// An instance reported its cloud-init progress: its record was written from EC2's facts.
    Registered {
        /// The instance.
        ident: String,
        /// The state its record is in now.
        state: String,
    },
    /// A running command's progress: the lifecycle action got a heartbeat.
    Heartbeat {
        /// The command.
        command_id: String,
    },
    /// The sweep handled the waits that were due.
    Swept {
        /// Waits (command ids, instances with a parked launch) still within their deadline:
        /// their lifecycle action got a heartbeat, or their next look is their deadline.
        kept_alive: Vec<String>,
        /// Waits past their deadline (or whose lifecycle action Auto Scaling no longer has):
        /// a command handled as `TimedOut`, a parked launch completed ABANDON.
        expired: Vec<String>,
        /// Waits the sweep could not handle this time (the next sweep tries again).
        failed: Vec<String>,
        /// Malformed items in the index of waits, by `Ident`: logged and skipped.
        #[serde(default)]
        skipped: Vec<String>,
        /// The time budget ran out: the rest, still due, is left to the next sweep.
        #[serde(default)]
        unfinished: bool,
        /// Instances waiting in a lifecycle hook of the reconciled groups that no lifecycle
        /// handled (their event lost): their lifecycle was started, as if the event had come.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reconciled: Vec<String>,
        /// Instances whose lifecycle had ended but whose action Auto Scaling still held (the
        /// completion lost): completed again with the result noted on the record.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        recompleted: Vec<String>,
        /// Actions Auto Scaling holds that nothing here can handle, with the reason (no record:
        /// cloud-init never registered the instance): for the operator.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unhandled: Vec<String>,
        /// Records at rest whose instance Auto Scaling no longer knows (terminated outside its
        /// group, its events lost): the model was given `instance_state = "terminated"`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        vanished: Vec<String>,
    },
    /// Nothing to do.
    Ignored {
        /// Why.
        reason: String,
    },
    /// A lifecycle event whose action Auto Scaling does not hold (forged, replayed, or late
    /// after its action ended): nothing written, nothing sent, nothing completed.
    Refused {
        /// The event.
        event_id: String,
        /// The instance it names.
        ident: String,
        /// What Auto Scaling holds instead.
        reason: String,
    },
    /// An event about several instances (an AWS Health scheduled change): what it led to for
    /// each, in the event's order.
    PerInstance {
        /// One outcome per instance.
        outcomes: Vec<Outcome>,
    },
}

/// The answer to an invocation: what each event led to, and for a batch (SQS, a stream) the
/// items to deliver again (a partial batch response, `batchItemFailures`).
///
/// ```
/// use lifecycle_aws::runtime::{Answer, Outcome};
/// let answer = Answer { batch_item_failures: None, outcomes: vec![Outcome::Ignored { reason: "test notification".into() }] };
/// assert_eq!(answer.into_value()["outcomes"][0]["reason"], "test notification");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The batch items that failed, for the event source to deliver again; `None` for an
    /// invocation that is not a batch.
    #[serde(rename = "batchItemFailures", skip_serializing_if = "Option::is_none")]
    pub batch_item_failures: Option<Vec<BatchItemFailure>>,
    /// One outcome per event handled.
    pub outcomes: Vec<Outcome>,
}

impl Answer {
    /// The answer as JSON.
    ///
    /// ```
    /// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
    /// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
    /// lifecycle_aws::testing::block_on(async {
    ///     let answer = runtime.handle_bytes(launch.to_string().as_bytes()).await.unwrap();
    ///     let value = answer.into_value();
    ///     assert_eq!(value["outcomes"][0]["outcome"], "dispatched");
    /// });
    /// ```
    pub fn into_value(self) -> Value {
        serde_json::to_value(self).expect("an answer is plain data")
    }
}

/// A batch item to deliver again.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// use lifecycle_aws::runtime::BatchItemFailure;
/// lifecycle_aws::testing::block_on(async {
///     // An SQS batch with one message that is not an event: only it is delivered again.
///     let batch = serde_json::json!({"Records": [{"messageId": "m-1", "eventSource": "aws:sqs", "body": "{not json"}]});
///     let answer = runtime.handle_bytes(batch.to_string().as_bytes()).await.unwrap();
///     assert_eq!(answer.batch_item_failures.unwrap(), [BatchItemFailure { item_identifier: "m-1".into() }]);
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchItemFailure {
    /// The SQS message id, or the stream record's sequence number.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// One step of a dispatch.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
/// use lifecycle_aws::runtime::Outcome;
/// lifecycle_aws::testing::block_on(async {
///     let answer = runtime.handle_bytes(launch.to_string().as_bytes()).await.unwrap();
///     let Outcome::Dispatched { steps, .. } = &answer.outcomes[0] else { panic!("dispatched") };
///     assert_eq!(steps[0].trigger.as_deref(), Some("join_cluster"));
///     assert_eq!((steps[0].from.as_str(), steps[0].to.as_str()), ("finished_cloud_init", "joining_cluster"));
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Step {
    /// The state it left.
    pub from: String,
    /// The state it entered (`from` for an internal transition).
    pub to: String,
    /// The trigger that fired; `None` for the move into the failure state.
    pub trigger: Option<String>,
    /// What failed, for the move into the failure state.
    pub failure: Option<String>,
    /// Triggers of the same state tried before this one, whose guards said no.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declined: Vec<String>,
}

pub(super) fn ignored(reason: impl Into<String>) -> Outcome {
    let reason = reason.into();
    tracing::info!(%reason, "ignored");
    Outcome::Ignored { reason }
}

pub(super) fn summary<M: LifecycleModel>(
    event: &Event,
    report: &ModelReport<M>,
    completed: Option<String>,
) -> Outcome {
    Outcome::Dispatched {
        event_id: event.id.clone(),
        ident: report.ident.clone(),
        start: report.start.name().to_owned(),
        end: report.end.name().to_owned(),
        triggers: report.triggers().map(str::to_owned).collect(),
        steps: steps::<M>(report),
        declined: declined_before::<M>(report, report.fired.len()),
        stop: report.stop.as_str().to_owned(),
        failure: report.failure.as_ref().map(|f| f.cause.to_string()),
        completed,
        deferred: None,
    }
}

fn steps<M: LifecycleModel>(report: &ModelReport<M>) -> Vec<Step> {
    let failure_step = |f: &lifecycle_core::Failure<M::State, M::Error>| Step {
        from: f.state.name().to_owned(),
        to: M::DEFINITION
            .failure
            .map_or(f.state, |s| s)
            .name()
            .to_owned(),
        trigger: None,
        failure: Some(f.cause.to_string()),
        declined: Vec::new(),
    };
    let mut steps = Vec::with_capacity(report.fired.len() + 1);
    for (i, fired) in report.fired.iter().enumerate() {
        if let Some(f) = report.failure.as_ref().filter(|f| f.fired_before == i) {
            steps.push(failure_step(f));
        }
        steps.push(Step {
            from: fired.from.name().to_owned(),
            to: fired.to.name().to_owned(),
            trigger: Some(fired.trigger.to_owned()),
            failure: None,
            declined: declined_before::<M>(report, i),
        });
    }
    if let Some(f) = report
        .failure
        .as_ref()
        .filter(|f| f.fired_before == report.fired.len())
    {
        steps.push(failure_step(f));
    }
    steps
}

/// The declined triggers tried just before the `fired`-th trigger fired.
fn declined_before<M: LifecycleModel>(report: &ModelReport<M>, fired: usize) -> Vec<String> {
    report
        .declined
        .iter()
        .filter(|d| d.fired_before == fired)
        .map(|d| d.trigger.to_owned())
        .collect()
}
