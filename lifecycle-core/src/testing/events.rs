//! Events as AWS delivers them, for one instance of group [`GROUP`] unless said otherwise.

use crate::{CommandStatus, Event, EventKind, LifecycleAction, LifecycleTransition, Location};

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
