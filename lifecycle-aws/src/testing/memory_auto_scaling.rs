//! Auto Scaling as a group of instances with lifecycle hooks, in memory: what it holds, what
//! completes an action, and the faults its API has.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use lifecycle_core::{LifecycleAction, LifecycleResult, LifecycleTransition, Location};
use serde_json::{Value, json};

use super::{Completion, lock, routed_lifecycle_action_event};
use crate::actions::{ActionError, Completed, LifecycleActions};
use crate::fleet::{Fleet, FleetInstance, Hook, WaitState};

/// A fault [`MemoryAutoScaling`] gives one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFault {
    /// The call is refused (`Throttling`): nothing happens.
    Throttle,
    /// The call is applied, and its answer lost: the caller sees an error.
    LoseAnswer,
}

/// An open lifecycle action: the instance waits in a hook until it is completed or times out.
#[derive(Debug, Clone)]
struct OpenAction {
    token: String,
    hook: String,
    wait: WaitState,
}

#[derive(Debug, Default)]
struct State {
    hooks: BTreeMap<String, Vec<Hook>>,
    instances: BTreeMap<String, FleetInstance>,
    open: HashMap<String, OpenAction>,
    completions: Vec<Completion>,
    timed_out: Vec<(String, WaitState, LifecycleResult)>,
    refused: usize,
    heartbeats: Vec<String>,
    calls: Vec<&'static str>,
    faults: Vec<(&'static str, ApiFault)>,
    page_size: usize,
    actions_opened: u64,
}

/// Auto Scaling in memory, for tests and simulations: groups with lifecycle hooks, instances in
/// their lifecycle states, and the actions it holds. It is both the
/// [`LifecycleActions`] (completion and heartbeat, by token or by instance id, answering "no
/// active lifecycle action" as AWS does) and the [`Fleet`] (what waits, paged). Each call is
/// counted by its API name, and a call can be given a fault ([`ApiFault`]).
///
/// ```
/// use lifecycle_aws::actions::{Completed, LifecycleActions};
/// use lifecycle_aws::fleet::Fleet;
/// use lifecycle_aws::testing::MemoryAutoScaling;
/// use lifecycle_core::LifecycleResult;
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let aws = MemoryAutoScaling::new().with_group("workers");
///     let event = aws.launch("i-1", "workers"); // the event Auto Scaling would send
///     assert_eq!(event["detail"]["EC2InstanceId"], "i-1");
///     let action = aws.held_action("i-1").unwrap();
///     assert_eq!(aws.complete(&action, None, LifecycleResult::Continue).await.unwrap(), Completed::Done);
///     assert_eq!(aws.lifecycle_state("i-1").as_deref(), Some("InService"));
///     assert_eq!(aws.complete(&action, None, LifecycleResult::Continue).await.unwrap(), Completed::NoActiveAction);
///     assert_eq!(aws.calls("CompleteLifecycleAction"), 2);
/// });
/// ```
#[derive(Debug)]
pub struct MemoryAutoScaling {
    state: Mutex<State>,
}

impl Default for MemoryAutoScaling {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryAutoScaling {
    /// No groups yet; pages of 100, as AWS's largest.
    pub fn new() -> Self {
        MemoryAutoScaling {
            state: Mutex::new(State {
                page_size: 100,
                ..State::default()
            }),
        }
    }

    /// Adds `group` with the template's hooks: `GROUP-on-launching` (heartbeat timeout 10
    /// minutes, ABANDON) and `GROUP-on-terminating` (10 minutes, CONTINUE).
    pub fn with_group(self, group: &str) -> Self {
        let hooks = vec![
            Hook::new(
                group,
                format!("{group}-on-launching"),
                LifecycleTransition::Launching,
                Duration::from_secs(600),
                LifecycleResult::Abandon,
            ),
            Hook::new(
                group,
                format!("{group}-on-terminating"),
                LifecycleTransition::Terminating,
                Duration::from_secs(600),
                LifecycleResult::Continue,
            ),
        ];
        lock(&self.state).hooks.insert(group.to_owned(), hooks);
        self
    }

    /// Replaces the hook of `hook.group` for `hook.transition` with `hook`.
    pub fn with_hook(self, hook: Hook) -> Self {
        {
            let mut state = lock(&self.state);
            let hooks = state.hooks.entry(hook.group.clone()).or_default();
            hooks.retain(|h| h.transition != hook.transition);
            hooks.push(hook);
        }
        self
    }

    /// How many groups one page of `DescribeAutoScalingGroups` holds (AWS: at most 100), and
    /// instances one page of `DescribeWarmPool` (AWS: at most 50, whatever this says).
    pub fn with_page_size(self, size: usize) -> Self {
        lock(&self.state).page_size = size.max(1);
        self
    }

    /// The next call of `operation` (an API name, e.g. `DescribeAutoScalingInstances`) gets
    /// `fault`. Faults given to one operation apply in order, one per call.
    pub fn fail_next(&self, operation: &'static str, fault: ApiFault) {
        lock(&self.state).faults.push((operation, fault));
    }

    /// `instance` launches into `group` and waits in its launch hook (`Pending:Wait`): the
    /// event Auto Scaling sends for it, with a fresh token, its `time` now (the system clock;
    /// a test on a clock of its own sets it if it matters).
    pub fn launch(&self, instance: &str, group: &str) -> Value {
        self.open(instance, group, WaitState::Launching, Location::Ec2)
    }

    /// `instance` launches into `group`'s warm pool (`Warmed:Pending:Wait`).
    pub fn launch_into_warm_pool(&self, instance: &str, group: &str) -> Value {
        self.open(
            instance,
            group,
            WaitState::LaunchingIntoWarmPool,
            Location::Ec2,
        )
    }

    /// `instance`, in the warm pool, launches into its group (`Pending:Wait`).
    pub fn launch_from_warm_pool(&self, instance: &str) -> Value {
        let group = self.group_of(instance);
        self.open(instance, &group, WaitState::Launching, Location::WarmPool)
    }

    /// `instance` is terminated and waits in its group's terminate hook (`Terminating:Wait`,
    /// or `Warmed:Terminating:Wait` in the warm pool).
    pub fn terminate(&self, instance: &str) -> Value {
        let group = self.group_of(instance);
        let in_pool = self
            .lifecycle_state(instance)
            .is_some_and(|s| s.starts_with("Warmed:"));
        if in_pool {
            self.open(
                instance,
                &group,
                WaitState::TerminatingInWarmPool,
                Location::WarmPool,
            )
        } else {
            self.open(
                instance,
                &group,
                WaitState::Terminating,
                Location::AutoScalingGroup,
            )
        }
    }

    /// Puts `instance` in `group` in `lifecycle_state` directly, holding no action (e.g.
    /// `InService`).
    pub fn set_instance(&self, instance: &str, group: &str, lifecycle_state: &str) {
        let mut state = lock(&self.state);
        state.open.remove(instance);
        state.instances.insert(
            instance.to_owned(),
            FleetInstance {
                instance_id: instance.to_owned(),
                group: group.to_owned(),
                lifecycle_state: lifecycle_state.to_owned(),
            },
        );
    }

    /// Auto Scaling forgets `instance`, holding no action for it: terminated outside its group
    /// (from the EC2 console, by a Spot reclaim), or detached, with no event seen.
    pub fn forget(&self, instance: &str) {
        let mut state = lock(&self.state);
        state.open.remove(instance);
        state.instances.remove(instance);
    }

    /// The action Auto Scaling holds for `instance`, with its token, as its event names it.
    pub fn held_action(&self, instance: &str) -> Option<LifecycleAction> {
        let state = lock(&self.state);
        let open = state.open.get(instance)?;
        let fleet = state.instances.get(instance)?;
        Some(action_of(fleet, open))
    }

    /// `instance`'s lifecycle state, if Auto Scaling knows it.
    pub fn lifecycle_state(&self, instance: &str) -> Option<String> {
        lock(&self.state)
            .instances
            .get(instance)
            .map(|i| i.lifecycle_state.clone())
    }

    /// Every open action's hook times out: Auto Scaling applies the hook's default result.
    /// Returns the instances it did so for.
    pub fn time_out_all(&self) -> Vec<String> {
        let mut state = lock(&self.state);
        let open: Vec<(String, OpenAction)> = state.open.drain().collect();
        let mut timed_out = Vec::new();
        for (instance, action) in open {
            let group = state.instances[&instance].group.clone();
            let result = state.hooks[&group]
                .iter()
                .find(|h| h.name == action.hook)
                .map_or(LifecycleResult::Abandon, |h| h.default_result);
            state
                .timed_out
                .push((instance.clone(), action.wait, result));
            let next = after(action.wait, result);
            if let Some(i) = state.instances.get_mut(&instance) {
                i.lifecycle_state = next.to_owned();
            }
            timed_out.push(instance);
        }
        timed_out.sort();
        timed_out
    }

    /// The completions Auto Scaling accepted, in order.
    pub fn completions(&self) -> Vec<Completion> {
        lock(&self.state).completions.clone()
    }

    /// The actions that ended by their hook's timeout: instance, wait, default result.
    pub fn timed_out(&self) -> Vec<(String, WaitState, LifecycleResult)> {
        lock(&self.state).timed_out.clone()
    }

    /// Completions and heartbeats answered "no active lifecycle action".
    pub fn refused(&self) -> usize {
        lock(&self.state).refused
    }

    /// The heartbeats accepted, by instance.
    pub fn heartbeats(&self) -> Vec<String> {
        lock(&self.state).heartbeats.clone()
    }

    /// How many calls of `operation` were made (faulty ones included).
    pub fn calls(&self, operation: &str) -> usize {
        lock(&self.state)
            .calls
            .iter()
            .filter(|c| **c == operation)
            .count()
    }

    /// Every call made, in order.
    pub fn all_calls(&self) -> Vec<&'static str> {
        lock(&self.state).calls.clone()
    }

    fn group_of(&self, instance: &str) -> String {
        lock(&self.state)
            .instances
            .get(instance)
            .map(|i| i.group.clone())
            .unwrap_or_default()
    }

    fn open(&self, instance: &str, group: &str, wait: WaitState, origin: Location) -> Value {
        let mut state = lock(&self.state);
        state.actions_opened += 1;
        let hook = state
            .hooks
            .get(group)
            .and_then(|hooks| hooks.iter().find(|h| h.transition == wait.transition()))
            .map_or_else(|| format!("{group}-hook"), |h| h.name.clone());
        let token = format!("token-{}-{instance}", state.actions_opened);
        state.instances.insert(
            instance.to_owned(),
            FleetInstance {
                instance_id: instance.to_owned(),
                group: group.to_owned(),
                lifecycle_state: wait.as_aws_str().to_owned(),
            },
        );
        let destination = match wait {
            WaitState::Launching => Location::AutoScalingGroup,
            WaitState::LaunchingIntoWarmPool => Location::WarmPool,
            WaitState::Terminating | WaitState::TerminatingInWarmPool => Location::Ec2,
        };
        let mut event =
            routed_lifecycle_action_event(instance, group, wait.transition(), origin, destination);
        event["id"] = json!(format!("event-{}-{instance}", state.actions_opened));
        event["detail"]["LifecycleActionToken"] = json!(token);
        event["detail"]["LifecycleHookName"] = json!(hook);
        state
            .open
            .insert(instance.to_owned(), OpenAction { token, hook, wait });
        event
    }

    /// Counts the call and applies its fault, if any: `Err` for a throttle (nothing done),
    /// `Ok(true)` when the answer is to be lost after the call is applied.
    fn call(&self, operation: &'static str, about: &str) -> Result<bool, ActionError> {
        let mut state = lock(&self.state);
        state.calls.push(operation);
        let fault = state
            .faults
            .iter()
            .position(|(op, _)| *op == operation)
            .map(|i| state.faults.remove(i).1);
        match fault {
            Some(ApiFault::Throttle) => Err(ActionError {
                operation,
                instance: about.to_owned(),
                message: "Throttling: Rate exceeded".to_owned(),
                transient: true,
            }),
            Some(ApiFault::LoseAnswer) => Ok(true),
            None => Ok(false),
        }
    }
}

fn lost(operation: &'static str, about: &str) -> ActionError {
    ActionError {
        operation,
        instance: about.to_owned(),
        message: "dispatch failure: the connection was closed before the answer".to_owned(),
        transient: true,
    }
}

fn action_of(instance: &FleetInstance, open: &OpenAction) -> LifecycleAction {
    let (origin, destination) = match open.wait {
        WaitState::Launching => (None, Some(Location::AutoScalingGroup)),
        WaitState::LaunchingIntoWarmPool => (Some(Location::Ec2), Some(Location::WarmPool)),
        WaitState::Terminating => (Some(Location::AutoScalingGroup), Some(Location::Ec2)),
        WaitState::TerminatingInWarmPool => (Some(Location::WarmPool), Some(Location::Ec2)),
    };
    LifecycleAction {
        auto_scaling_group_name: instance.group.clone(),
        lifecycle_hook_name: open.hook.clone(),
        lifecycle_action_token: Some(open.token.clone()),
        ec2_instance_id: instance.instance_id.clone(),
        lifecycle_transition: open.wait.transition(),
        notification_metadata: None,
        region: None,
        origin,
        destination,
    }
}

/// Where an instance goes when the action of `wait` ends with `result`.
fn after(wait: WaitState, result: LifecycleResult) -> &'static str {
    match (wait, result) {
        (WaitState::Launching, LifecycleResult::Continue) => "InService",
        (WaitState::LaunchingIntoWarmPool, LifecycleResult::Continue) => "Warmed:Stopped",
        (WaitState::LaunchingIntoWarmPool, LifecycleResult::Abandon) => "Warmed:Terminated",
        (WaitState::TerminatingInWarmPool, _) => "Warmed:Terminated",
        (WaitState::Launching | WaitState::Terminating, _) => "Terminated",
    }
}

impl MemoryAutoScaling {
    /// A completion or heartbeat (`operation`): counted, its fault applied, and `act` run on
    /// the open action `action` names — by token, or by instance id and hook when it has
    /// none, as Auto Scaling accepts either — if there is one; "no active lifecycle action"
    /// otherwise.
    fn on_open_action(
        &self,
        operation: &'static str,
        action: &LifecycleAction,
        act: impl FnOnce(&mut State, &str),
    ) -> Result<Completed, ActionError> {
        let lose = self.call(operation, &action.ec2_instance_id)?;
        let mut state = lock(&self.state);
        let instance = &action.ec2_instance_id;
        let named = state.open.get(instance).is_some_and(|open| {
            state
                .instances
                .get(instance)
                .is_some_and(|i| i.group == action.auto_scaling_group_name)
                && open.hook == action.lifecycle_hook_name
                && open.wait.transition() == action.lifecycle_transition
                && action
                    .lifecycle_action_token
                    .as_ref()
                    .is_none_or(|t| *t == open.token)
        });
        let answer = if named {
            act(&mut state, instance);
            Completed::Done
        } else {
            state.refused += 1;
            Completed::NoActiveAction
        };
        if lose {
            return Err(lost(operation, instance));
        }
        Ok(answer)
    }
}

#[async_trait::async_trait]
impl LifecycleActions for MemoryAutoScaling {
    async fn complete(
        &self,
        action: &LifecycleAction,
        _region: Option<&str>,
        result: LifecycleResult,
    ) -> Result<Completed, ActionError> {
        self.on_open_action("CompleteLifecycleAction", action, |state, instance| {
            if let Some(open) = state.open.remove(instance)
                && let Some(i) = state.instances.get_mut(instance)
            {
                i.lifecycle_state = after(open.wait, result).to_owned();
            }
            state.completions.push(Completion {
                action: action.clone(),
                result,
            });
        })
    }

    async fn heartbeat(
        &self,
        action: &LifecycleAction,
        _region: Option<&str>,
    ) -> Result<Completed, ActionError> {
        self.on_open_action(
            "RecordLifecycleActionHeartbeat",
            action,
            |state, instance| {
                state.heartbeats.push(instance.to_owned());
            },
        )
    }
}

#[async_trait::async_trait]
impl Fleet for MemoryAutoScaling {
    async fn instances(
        &self,
        instance_ids: &[String],
        _region: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError> {
        const OP: &str = "DescribeAutoScalingInstances";
        let about = instance_ids.join(",");
        for _ in 0..instance_ids.len().div_ceil(50) {
            if self.call(OP, &about)? {
                return Err(lost(OP, &about));
            }
        }
        let state = lock(&self.state);
        Ok(instance_ids
            .iter()
            .filter_map(|id| state.instances.get(id).cloned())
            .collect())
    }

    async fn warm_pool(
        &self,
        group: &str,
        _region: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError> {
        const OP: &str = "DescribeWarmPool";
        let (pages, pool) = {
            let state = lock(&self.state);
            let pool: Vec<FleetInstance> = state
                .instances
                .values()
                .filter(|i| i.group == group && i.lifecycle_state.starts_with("Warmed:"))
                .cloned()
                .collect();
            // At most 50 instances a page, as the API.
            (pool.len().div_ceil(state.page_size.min(50)).max(1), pool)
        };
        for _ in 0..pages {
            if self.call(OP, group)? {
                return Err(lost(OP, group));
            }
        }
        Ok(pool)
    }

    async fn waiting(
        &self,
        groups: &[String],
        region: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError> {
        // As the API pages them: `DescribeAutoScalingGroups` by groups (each with all its
        // instances in the group), then the warm pool of each group that has one.
        let (pages, waiting, with_pool) = {
            let state = lock(&self.state);
            let pages = groups.len().div_ceil(state.page_size).max(1);
            let in_groups = |i: &&FleetInstance| groups.contains(&i.group);
            let waiting: Vec<FleetInstance> = state
                .instances
                .values()
                .filter(in_groups)
                .filter(|i| !i.lifecycle_state.starts_with("Warmed:") && i.wait().is_some())
                .cloned()
                .collect();
            let mut with_pool: Vec<String> = state
                .instances
                .values()
                .filter(in_groups)
                .filter(|i| i.lifecycle_state.starts_with("Warmed:"))
                .map(|i| i.group.clone())
                .collect();
            with_pool.sort();
            with_pool.dedup();
            (pages, waiting, with_pool)
        };
        let about = groups.join(",");
        for _ in 0..pages {
            if self.call("DescribeAutoScalingGroups", &about)? {
                return Err(lost("DescribeAutoScalingGroups", &about));
            }
        }
        let mut waiting = waiting;
        for group in with_pool {
            let pool = self.warm_pool(&group, region).await?;
            waiting.extend(pool.into_iter().filter(|i| i.wait().is_some()));
        }
        Ok(waiting)
    }

    async fn hooks(&self, group: &str, _region: Option<&str>) -> Result<Vec<Hook>, ActionError> {
        const OP: &str = "DescribeLifecycleHooks";
        if self.call(OP, group)? {
            return Err(lost(OP, group));
        }
        Ok(lock(&self.state)
            .hooks
            .get(group)
            .cloned()
            .unwrap_or_default())
    }
}
