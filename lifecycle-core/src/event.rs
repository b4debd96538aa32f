//! The events a model reacts to, independent of how AWS delivers them.
//!
//! `lifecycle-aws` decodes EventBridge, SNS and SQS payloads into [`Event`]; tests and local runs
//! build them directly.

use std::fmt;

/// Which side of an instance's life an Auto Scaling lifecycle action belongs to.
///
/// ```
/// use lifecycle_core::LifecycleTransition;
/// let transition: LifecycleTransition = serde_json::from_str(r#""autoscaling:EC2_INSTANCE_LAUNCHING""#).unwrap();
/// assert_eq!(transition, LifecycleTransition::Launching);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LifecycleTransition {
    /// `autoscaling:EC2_INSTANCE_LAUNCHING`
    #[serde(rename = "autoscaling:EC2_INSTANCE_LAUNCHING")]
    Launching,
    /// `autoscaling:EC2_INSTANCE_TERMINATING`
    #[serde(rename = "autoscaling:EC2_INSTANCE_TERMINATING")]
    Terminating,
}

impl LifecycleTransition {
    /// The name AWS uses, e.g. `autoscaling:EC2_INSTANCE_LAUNCHING`.
    ///
    /// ```
    /// use lifecycle_core::LifecycleTransition;
    /// assert_eq!(LifecycleTransition::Terminating.as_aws_str(), "autoscaling:EC2_INSTANCE_TERMINATING");
    /// ```
    pub fn as_aws_str(self) -> &'static str {
        match self {
            LifecycleTransition::Launching => "autoscaling:EC2_INSTANCE_LAUNCHING",
            LifecycleTransition::Terminating => "autoscaling:EC2_INSTANCE_TERMINATING",
        }
    }
}

/// Where an instance comes from or goes to in a lifecycle action (`Origin`, `Destination`):
/// with a warm pool, an instance launches *into the pool* (prepared, then stopped) and later
/// launches again *from the pool into the group*, each time with a launching action.
///
/// ```
/// use lifecycle_core::Location;
/// let to: Location = serde_json::from_str(r#""WarmPool""#).unwrap();
/// assert_eq!(to, Location::WarmPool);
/// assert_eq!(Location::AutoScalingGroup.as_aws_str(), "AutoScalingGroup");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Location {
    /// `EC2`: outside the group (a new instance, or one going away).
    #[serde(rename = "EC2")]
    Ec2,
    /// `AutoScalingGroup`: in service in the group.
    AutoScalingGroup,
    /// `WarmPool`: the group's warm pool (prepared, usually stopped).
    WarmPool,
}

impl Location {
    /// The name AWS uses.
    ///
    /// ```
    /// assert_eq!(lifecycle_core::Location::Ec2.as_aws_str(), "EC2");
    /// ```
    pub fn as_aws_str(self) -> &'static str {
        match self {
            Location::Ec2 => "EC2",
            Location::AutoScalingGroup => "AutoScalingGroup",
            Location::WarmPool => "WarmPool",
        }
    }

    /// The location named `name` as AWS writes it (`EC2`, `AutoScalingGroup`, `WarmPool`).
    ///
    /// ```
    /// use lifecycle_core::Location;
    /// assert_eq!(Location::from_aws_str("WarmPool"), Some(Location::WarmPool));
    /// assert_eq!(Location::from_aws_str("Moon"), None);
    /// ```
    pub fn from_aws_str(name: &str) -> Option<Self> {
        match name {
            "EC2" => Some(Location::Ec2),
            "AutoScalingGroup" => Some(Location::AutoScalingGroup),
            "WarmPool" => Some(Location::WarmPool),
            _ => None,
        }
    }
}

/// The data of one pending Auto Scaling lifecycle action: what is needed to complete it or to
/// keep it alive with heartbeats.
///
/// It travels with every event of that lifecycle: the launching/terminating event carries it, and
/// a command result gets it back from where the command was registered.
///
/// ```
/// use lifecycle_core::{LifecycleAction, LifecycleTransition};
/// // The `detail` of an EventBridge lifecycle action, as Auto Scaling sends it.
/// let detail = r#"{"LifecycleActionToken": "87654321-4321-4321-4321-210987654321",
///     "AutoScalingGroupName": "workers", "LifecycleHookName": "workers-launch",
///     "EC2InstanceId": "i-0123456789abcdef0",
///     "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
///     "NotificationMetadata": "{\"type\": \"worker\"}"}"#;
/// let action: LifecycleAction = serde_json::from_str(detail).unwrap();
/// assert_eq!(action.lifecycle_transition, LifecycleTransition::Launching);
/// assert_eq!(action.metadata_json().unwrap()["type"], "worker");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleAction {
    /// `AutoScalingGroupName`
    pub auto_scaling_group_name: String,
    /// `LifecycleHookName`
    pub lifecycle_hook_name: String,
    /// `LifecycleActionToken`; absent in some hand-written events, then the instance id is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_action_token: Option<String>,
    /// `EC2InstanceId`
    #[serde(rename = "EC2InstanceId")]
    pub ec2_instance_id: String,
    /// `LifecycleTransition`
    pub lifecycle_transition: LifecycleTransition,
    /// `NotificationMetadata`, exactly as configured on the hook (often JSON, not always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_metadata: Option<String>,
    /// The region of the Auto Scaling group (the event's `region`), kept with the lifecycle so
    /// that every call about it — completion, heartbeats, from whichever event — goes there.
    /// `None`: the runtime's own region.
    #[serde(default, rename = "Region", skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `Origin`: where the instance comes from; absent in events from before warm pools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Location>,
    /// `Destination`: where the instance goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Location>,
}

impl LifecycleAction {
    /// The notification metadata parsed as JSON, when it is JSON.
    ///
    /// ```
    /// # use lifecycle_core::{LifecycleAction, LifecycleTransition};
    /// let mut action = LifecycleAction {
    ///     auto_scaling_group_name: "workers".into(),
    ///     lifecycle_hook_name: "on-launch".into(),
    ///     lifecycle_action_token: None,
    ///     ec2_instance_id: "i-1".into(),
    ///     lifecycle_transition: LifecycleTransition::Launching,
    ///     notification_metadata: Some(r#"{"type": "worker"}"#.into()),
    ///     region: None,
    ///     origin: None,
    ///     destination: None,
    /// };
    /// assert_eq!(action.metadata_json().unwrap()["type"], "worker");
    /// action.notification_metadata = Some("plain text".into());
    /// assert!(action.metadata_json().is_none());
    /// ```
    pub fn metadata_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.notification_metadata.as_deref()?).ok()
    }

    /// Where the instance comes from: `Origin`, or, for an event without one (sent before
    /// warm pools existed), EC2 when launching and the group when terminating.
    ///
    /// ```
    /// use lifecycle_core::{Location, LifecycleTransition};
    /// let mut action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
    /// assert_eq!(action.origin(), Location::Ec2);
    /// action.origin = Some(Location::WarmPool);
    /// assert_eq!(action.origin(), Location::WarmPool);
    /// ```
    pub fn origin(&self) -> Location {
        self.origin.unwrap_or(match self.lifecycle_transition {
            LifecycleTransition::Launching => Location::Ec2,
            LifecycleTransition::Terminating => Location::AutoScalingGroup,
        })
    }

    /// Where the instance goes: `Destination`, or, for an event without one, the group when
    /// launching and EC2 when terminating.
    ///
    /// ```
    /// use lifecycle_core::{Location, LifecycleTransition};
    /// let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Terminating);
    /// assert_eq!(action.destination(), Location::Ec2);
    /// ```
    pub fn destination(&self) -> Location {
        self.destination.unwrap_or(match self.lifecycle_transition {
            LifecycleTransition::Launching => Location::AutoScalingGroup,
            LifecycleTransition::Terminating => Location::Ec2,
        })
    }
}

/// The final status of an SSM command, as reported by its status-change event.
///
/// ```
/// use lifecycle_core::CommandStatus;
/// let status = CommandStatus::Other("Undeliverable".into());
/// assert!(!status.is_success());
/// assert_eq!(status.to_string(), "Undeliverable");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CommandStatus {
    /// `Success`
    Success,
    /// `Failed`
    Failed,
    /// `TimedOut`
    TimedOut,
    /// `Cancelled`
    Cancelled,
    /// Any other final status AWS may add; treated as unsuccessful.
    Other(String),
}

impl CommandStatus {
    /// Whether the command succeeded.
    ///
    /// ```
    /// use lifecycle_core::CommandStatus;
    /// assert!(CommandStatus::Success.is_success());
    /// assert!(!CommandStatus::TimedOut.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, CommandStatus::Success)
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandStatus::Success => "Success",
            CommandStatus::Failed => "Failed",
            CommandStatus::TimedOut => "TimedOut",
            CommandStatus::Cancelled => "Cancelled",
            CommandStatus::Other(s) => s,
        })
    }
}

/// What happened, as far as a model's triggers care.
///
/// ```
/// use lifecycle_core::{CommandStatus, Event, EventKind};
/// let event = Event::command_result("e-2", "c-1", CommandStatus::Success, "i-1", None);
/// match &event.kind {
///     EventKind::CommandResult { command_id, status } => assert_eq!((command_id.as_str(), status), ("c-1", &CommandStatus::Success)),
///     other => panic!("not a command result: {other:?}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// An instance is launching and its launch hook waits for us.
    Launching,
    /// An instance is terminating and its termination hook waits for us.
    Terminating,
    /// An SSM command the model sent has finished.
    CommandResult {
        /// The SSM command id.
        command_id: String,
        /// How it ended.
        status: CommandStatus,
    },
    /// A scheduled rule fired; its name is the state the model starts in.
    Scheduled {
        /// The rule name (last part of the rule ARN).
        rule: String,
    },
    /// "EC2 Spot Instance Interruption Warning": EC2 takes the instance back in two minutes.
    SpotInterruption {
        /// `instance-action`: `terminate`, `stop` or `hibernate`.
        action: String,
    },
    /// "EC2 Instance Rebalance Recommendation": the Spot instance is at elevated risk of
    /// interruption; a replacement may be launched first (capacity rebalancing).
    RebalanceRecommendation,
    /// "EC2 Instance State-change Notification": the instance entered `state` (`pending`,
    /// `running`, `stopping`, `stopped`, `shutting-down`, `terminated`), whoever caused it —
    /// also an instance terminated outside its group, with no lifecycle action at all.
    InstanceState {
        /// The new state, as EC2 names it.
        state: String,
    },
    /// An AWS Health scheduled change for the instance ("AWS Health Event" of category
    /// `scheduledChange`): a retirement or maintenance ahead.
    Maintenance {
        /// `eventTypeCode`, e.g. `AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED`.
        event_type: String,
        /// `startTime`, when the change is due (as AWS wrote it), if given.
        starts: Option<String>,
    },
}

/// The instance states EC2 reports in its state-change notifications: what
/// `on(instance_state = "...")` may name.
///
/// ```
/// assert!(lifecycle_core::EC2_STATES.contains(&"shutting-down"));
/// ```
pub const EC2_STATES: &[&str] = &[
    "pending",
    "running",
    "stopping",
    "stopped",
    "shutting-down",
    "terminated",
];

/// One event to dispatch.
///
/// ```
/// use lifecycle_core::{Event, EventKind};
/// let event = Event::scheduled("evt-1", "backup");
/// assert_eq!(event.kind, EventKind::Scheduled { rule: "backup".into() });
/// assert!(event.succeeded());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The event id (EventBridge `id`), used in logs and for de-duplication.
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// The instance the event is about, if any.
    pub instance_id: Option<String>,
    /// The lifecycle action this event belongs to, if any (a command result carries the one
    /// its command was sent for).
    pub lifecycle: Option<LifecycleAction>,
}

impl Event {
    /// A lifecycle action event (launching or terminating, from `action.lifecycle_transition`).
    ///
    /// ```
    /// use lifecycle_core::{Event, EventKind, LifecycleAction, LifecycleTransition};
    /// let action = LifecycleAction {
    ///     auto_scaling_group_name: "workers".into(),
    ///     lifecycle_hook_name: "workers-on-launch".into(),
    ///     lifecycle_action_token: Some("0f8f3b1e-token".into()),
    ///     ec2_instance_id: "i-1".into(),
    ///     lifecycle_transition: LifecycleTransition::Launching,
    ///     notification_metadata: None,
    ///     region: None,
    ///     origin: None,
    ///     destination: None,
    /// };
    /// let event = Event::lifecycle("evt-1", action);
    /// assert_eq!(event.kind, EventKind::Launching);
    /// assert_eq!(event.instance_id.as_deref(), Some("i-1"));
    /// ```
    pub fn lifecycle(id: impl Into<String>, action: LifecycleAction) -> Self {
        let kind = match action.lifecycle_transition {
            LifecycleTransition::Launching => EventKind::Launching,
            LifecycleTransition::Terminating => EventKind::Terminating,
        };
        Event {
            id: id.into(),
            kind,
            instance_id: Some(action.ec2_instance_id.clone()),
            lifecycle: Some(action),
        }
    }

    /// A command result for `instance_id`, carrying the lifecycle action the command was sent for.
    ///
    /// ```
    /// # use lifecycle_core::{CommandStatus, Event};
    /// let event = Event::command_result("evt-2", "cmd-1", CommandStatus::Failed, "i-1", None);
    /// assert!(!event.succeeded());
    /// ```
    pub fn command_result(
        id: impl Into<String>,
        command_id: impl Into<String>,
        status: CommandStatus,
        instance_id: impl Into<String>,
        lifecycle: Option<LifecycleAction>,
    ) -> Self {
        Event {
            id: id.into(),
            kind: EventKind::CommandResult {
                command_id: command_id.into(),
                status,
            },
            instance_id: Some(instance_id.into()),
            lifecycle,
        }
    }

    /// An event about `instance` that belongs to no lifecycle action: a Spot interruption, a
    /// rebalance recommendation, a state change, a scheduled maintenance.
    ///
    /// ```
    /// use lifecycle_core::{Event, EventKind};
    /// let warning = Event::instance("e-1", "i-1", EventKind::SpotInterruption { action: "terminate".into() });
    /// assert_eq!(warning.instance_id.as_deref(), Some("i-1"));
    /// assert!(warning.lifecycle.is_none());
    /// ```
    pub fn instance(
        id: impl Into<String>,
        instance_id: impl Into<String>,
        kind: EventKind,
    ) -> Self {
        Event {
            id: id.into(),
            kind,
            instance_id: Some(instance_id.into()),
            lifecycle: None,
        }
    }

    /// A scheduled rule named `rule` fired.
    ///
    /// ```
    /// use lifecycle_core::{Event, EventKind};
    /// let event = Event::scheduled("e-1", "nightly-backup");
    /// assert_eq!(event.kind, EventKind::Scheduled { rule: "nightly-backup".into() });
    /// assert!(event.instance_id.is_none() && event.lifecycle.is_none());
    /// ```
    pub fn scheduled(id: impl Into<String>, rule: impl Into<String>) -> Self {
        Event {
            id: id.into(),
            kind: EventKind::Scheduled { rule: rule.into() },
            instance_id: None,
            lifecycle: None,
        }
    }

    /// Whether the event itself reports success. Only a command result can fail; it is the
    /// implicit condition of every trigger that does not `ignore_errors`.
    ///
    /// ```
    /// use lifecycle_core::{CommandStatus, Event};
    /// assert!(Event::command_result("e", "c-1", CommandStatus::Success, "i-1", None).succeeded());
    /// assert!(!Event::command_result("e", "c-1", CommandStatus::TimedOut, "i-1", None).succeeded());
    /// assert!(lifecycle_core::testing::launching("i-1").succeeded());
    /// ```
    pub fn succeeded(&self) -> bool {
        match &self.kind {
            EventKind::CommandResult { status, .. } => status.is_success(),
            _ => true,
        }
    }

    /// The lifecycle transition this event belongs to, if any.
    ///
    /// ```
    /// use lifecycle_core::{CommandStatus, Event, LifecycleTransition};
    /// use lifecycle_core::testing::{action, terminating};
    /// assert_eq!(terminating("i-1").lifecycle_transition(), Some(LifecycleTransition::Terminating));
    /// // A command result belongs to the lifecycle its command was sent for.
    /// let launch = action("i-1", LifecycleTransition::Launching);
    /// let result = Event::command_result("e", "c-1", CommandStatus::Success, "i-1", Some(launch));
    /// assert_eq!(result.lifecycle_transition(), Some(LifecycleTransition::Launching));
    /// assert_eq!(Event::scheduled("e", "backup").lifecycle_transition(), None);
    /// ```
    pub fn lifecycle_transition(&self) -> Option<LifecycleTransition> {
        match self.kind {
            EventKind::Launching => Some(LifecycleTransition::Launching),
            EventKind::Terminating => Some(LifecycleTransition::Terminating),
            _ => self.lifecycle.as_ref().map(|l| l.lifecycle_transition),
        }
    }
}
