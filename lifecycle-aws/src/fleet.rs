//! What Auto Scaling itself holds: which instances wait in a lifecycle hook, and the hooks'
//! timeouts.
//!
//! Auto Scaling sends its lifecycle events best-effort, and a queue or a function can lose
//! one. The runtime asks Auto Scaling, not the events, in two places: before a lifecycle
//! event's first side effect (does Auto Scaling hold that action? a forged or replayed event
//! for an instance in service is refused), and in the sweep (which actions of the model's
//! groups does no lifecycle handle? each is started as if its event had come).
//!
//! ```
//! use lifecycle_aws::fleet::{Fleet, WaitState};
//! use lifecycle_aws::testing::MemoryAutoScaling;
//! use lifecycle_core::LifecycleTransition;
//! tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//!     let aws = MemoryAutoScaling::new().with_group("workers");
//!     let _event = aws.launch("i-1", "workers");
//!     let instance = aws.instance("i-1", None).await.unwrap().unwrap();
//!     assert_eq!(instance.wait(), Some(WaitState::Launching));
//!     assert_eq!(aws.waiting(&["workers".to_owned()], None).await.unwrap().len(), 1);
//! });
//! ```

use std::time::Duration;

use lifecycle_core::{LifecycleAction, LifecycleResult, LifecycleTransition, Location};

use crate::actions::{ActionError, AutoScalingActions};

/// A lifecycle wait state of an instance, as Auto Scaling reports it (`LifecycleState`).
///
/// ```
/// use lifecycle_aws::fleet::WaitState;
/// assert_eq!(WaitState::from_aws("Warmed:Pending:Wait"), Some(WaitState::LaunchingIntoWarmPool));
/// assert_eq!(WaitState::from_aws("InService"), None);
/// assert_eq!(WaitState::Terminating.as_aws_str(), "Terminating:Wait");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitState {
    /// `Pending:Wait`: launching into the group (from EC2, or from the warm pool).
    Launching,
    /// `Warmed:Pending:Wait`: launching into the warm pool.
    LaunchingIntoWarmPool,
    /// `Terminating:Wait`: leaving the group.
    Terminating,
    /// `Warmed:Terminating:Wait`: terminated in the warm pool.
    TerminatingInWarmPool,
}

impl WaitState {
    /// The wait state named `state`, or `None` for any other lifecycle state.
    pub fn from_aws(state: &str) -> Option<Self> {
        Some(match state {
            "Pending:Wait" => WaitState::Launching,
            "Warmed:Pending:Wait" => WaitState::LaunchingIntoWarmPool,
            "Terminating:Wait" => WaitState::Terminating,
            "Warmed:Terminating:Wait" => WaitState::TerminatingInWarmPool,
            _ => return None,
        })
    }

    /// The name Auto Scaling uses.
    pub fn as_aws_str(self) -> &'static str {
        match self {
            WaitState::Launching => "Pending:Wait",
            WaitState::LaunchingIntoWarmPool => "Warmed:Pending:Wait",
            WaitState::Terminating => "Terminating:Wait",
            WaitState::TerminatingInWarmPool => "Warmed:Terminating:Wait",
        }
    }

    /// The wait an instance is in while `action` is open.
    ///
    /// ```
    /// use lifecycle_aws::fleet::WaitState;
    /// use lifecycle_core::LifecycleTransition;
    /// let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Terminating);
    /// assert_eq!(WaitState::of_action(&action), WaitState::Terminating);
    /// ```
    pub fn of_action(action: &LifecycleAction) -> Self {
        match action.lifecycle_transition {
            LifecycleTransition::Launching if action.destination() == Location::WarmPool => {
                WaitState::LaunchingIntoWarmPool
            }
            LifecycleTransition::Launching => WaitState::Launching,
            LifecycleTransition::Terminating if action.origin() == Location::WarmPool => {
                WaitState::TerminatingInWarmPool
            }
            LifecycleTransition::Terminating => WaitState::Terminating,
        }
    }

    /// The lifecycle transition whose hook holds the instance.
    pub fn transition(self) -> LifecycleTransition {
        match self {
            WaitState::Launching | WaitState::LaunchingIntoWarmPool => {
                LifecycleTransition::Launching
            }
            WaitState::Terminating | WaitState::TerminatingInWarmPool => {
                LifecycleTransition::Terminating
            }
        }
    }
}

/// An instance of a group, as Auto Scaling describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetInstance {
    /// The instance id.
    pub instance_id: String,
    /// Its Auto Scaling group.
    pub group: String,
    /// Its `LifecycleState` (`InService`, `Pending:Wait`, `Warmed:Pending:Wait`, ...).
    pub lifecycle_state: String,
}

impl FleetInstance {
    /// The lifecycle hook it waits in, if any.
    ///
    /// ```
    /// use lifecycle_aws::fleet::{FleetInstance, WaitState};
    /// let instance = FleetInstance { instance_id: "i-1".into(), group: "workers".into(), lifecycle_state: "Terminating:Wait".into() };
    /// assert_eq!(instance.wait(), Some(WaitState::Terminating));
    /// ```
    pub fn wait(&self) -> Option<WaitState> {
        WaitState::from_aws(&self.lifecycle_state)
    }

    /// Whether Auto Scaling holds `action` for this instance: same group, and the wait that
    /// action opens.
    ///
    /// ```
    /// use lifecycle_aws::fleet::FleetInstance;
    /// use lifecycle_core::LifecycleTransition;
    /// let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Terminating);
    /// let waiting = FleetInstance { instance_id: "i-1".into(), group: action.auto_scaling_group_name.clone(), lifecycle_state: "Terminating:Wait".into() };
    /// let in_service = FleetInstance { lifecycle_state: "InService".into(), ..waiting.clone() };
    /// assert!(waiting.holds(&action) && !in_service.holds(&action));
    /// ```
    pub fn holds(&self, action: &LifecycleAction) -> bool {
        self.instance_id == action.ec2_instance_id
            && self.group == action.auto_scaling_group_name
            && self.wait() == Some(WaitState::of_action(action))
    }
}

/// A lifecycle hook of a group (`DescribeLifecycleHooks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The group.
    pub group: String,
    /// The hook's name.
    pub name: String,
    /// The transition it holds instances in.
    pub transition: LifecycleTransition,
    /// How long an action waits without a heartbeat before the default result applies.
    pub heartbeat_timeout: Duration,
    /// How long an action may wait at all, heartbeats or not: the smaller of 48 hours and 100
    /// heartbeat timeouts.
    pub global_timeout: Duration,
    /// What Auto Scaling does when a timeout ends the wait.
    pub default_result: LifecycleResult,
    /// The hook's notification metadata, given to the model as an event's would be.
    pub notification_metadata: Option<String>,
}

impl Hook {
    /// A hook with Auto Scaling's own timeouts for `heartbeat_timeout` (the global timeout
    /// the smaller of 48 hours and 100 heartbeat timeouts).
    ///
    /// ```
    /// use std::time::Duration;
    /// use lifecycle_aws::fleet::Hook;
    /// use lifecycle_core::{LifecycleResult, LifecycleTransition};
    /// let hook = Hook::new("workers", "on-launch", LifecycleTransition::Launching, Duration::from_secs(3600), LifecycleResult::Abandon);
    /// assert_eq!(hook.global_timeout, Duration::from_secs(48 * 3600));
    /// ```
    pub fn new(
        group: impl Into<String>,
        name: impl Into<String>,
        transition: LifecycleTransition,
        heartbeat_timeout: Duration,
        default_result: LifecycleResult,
    ) -> Self {
        let global_timeout = heartbeat_timeout
            .checked_mul(100)
            .unwrap_or(Duration::MAX)
            .min(Duration::from_secs(48 * 3600));
        Hook {
            group: group.into(),
            name: name.into(),
            transition,
            heartbeat_timeout,
            global_timeout,
            default_result,
            notification_metadata: None,
        }
    }
}

/// Whether Auto Scaling holds a lifecycle action ([`Fleet::held`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// The instance waits in the hook of that action.
    Yes,
    /// It does not: what Auto Scaling holds instead, as a sentence for the log.
    No(String),
}

/// Auto Scaling's view of the model's groups, behind a trait so it can be replaced (tests,
/// [`MemoryAutoScaling`](crate::testing::MemoryAutoScaling)).
/// [`AutoScalingActions`] implements it on the API.
#[async_trait::async_trait]
pub trait Fleet: Send + Sync {
    /// The instances of `instance_ids` Auto Scaling knows, in any state
    /// (`DescribeAutoScalingInstances`, 50 ids a call); an id it does not know is left out.
    async fn instances(
        &self,
        instance_ids: &[String],
        region: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError>;

    /// The instances in `group`'s warm pool (`DescribeWarmPool`, every page): empty for a
    /// group with none.
    async fn warm_pool(
        &self,
        group: &str,
        region: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError>;

    /// The instances of `groups` (and of their warm pools) that wait in a lifecycle hook
    /// (`DescribeAutoScalingGroups`, [`Fleet::warm_pool`] for groups with a warm pool, every
    /// page).
    async fn waiting(
        &self,
        groups: &[String],
        region: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError>;

    /// The lifecycle hooks of `group` (`DescribeLifecycleHooks`).
    async fn hooks(&self, group: &str, region: Option<&str>) -> Result<Vec<Hook>, ActionError>;

    /// One instance: `None` if Auto Scaling does not know it.
    async fn instance(
        &self,
        instance_id: &str,
        region: Option<&str>,
    ) -> Result<Option<FleetInstance>, ActionError> {
        let mut known = self.instances(&[instance_id.to_owned()], region).await?;
        Ok(known.pop())
    }

    /// Whether Auto Scaling holds `action`: its instance waits, in the action's group, in the
    /// hook that action opened. Asked before a lifecycle event's first write: one
    /// [`Fleet::instance`] call, and for a warm-pool action whose instance that does not find,
    /// a look in the group's warm pool ([`Fleet::warm_pool`]).
    async fn held(
        &self,
        action: &LifecycleAction,
        region: Option<&str>,
    ) -> Result<Held, ActionError> {
        let mut instance = self.instance(&action.ec2_instance_id, region).await?;
        let in_pool = matches!(
            WaitState::of_action(action),
            WaitState::LaunchingIntoWarmPool | WaitState::TerminatingInWarmPool
        );
        if instance.is_none() && in_pool {
            instance = self
                .warm_pool(&action.auto_scaling_group_name, region)
                .await?
                .into_iter()
                .find(|i| i.instance_id == action.ec2_instance_id);
        }
        Ok(match instance {
            Some(instance) if instance.holds(action) => Held::Yes,
            Some(instance) => Held::No(format!(
                "Auto Scaling holds no {} action for it in group `{}`: the instance is `{}` in group `{}`",
                WaitState::of_action(action).as_aws_str(),
                action.auto_scaling_group_name,
                instance.lifecycle_state,
                instance.group
            )),
            None => Held::No("Auto Scaling does not know the instance".to_owned()),
        })
    }
}

#[async_trait::async_trait]
impl Fleet for AutoScalingActions {
    async fn instances(
        &self,
        instance_ids: &[String],
        region: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError> {
        let client = self.client(region);
        let mut known = Vec::new();
        // At most 50 ids per request (the API's limit).
        for ids in instance_ids.chunks(50) {
            let output = client
                .describe_auto_scaling_instances()
                .set_instance_ids(Some(ids.to_vec()))
                .max_records(50)
                .send()
                .await
                .map_err(|e| {
                    ActionError::of_sdk("DescribeAutoScalingInstances", &ids.join(","), &e)
                })?;
            known.extend(
                output
                    .auto_scaling_instances()
                    .iter()
                    .map(|i| FleetInstance {
                        instance_id: i.instance_id().unwrap_or_default().to_owned(),
                        group: i.auto_scaling_group_name().unwrap_or_default().to_owned(),
                        lifecycle_state: i.lifecycle_state().unwrap_or_default().to_owned(),
                    }),
            );
        }
        Ok(known)
    }

    async fn warm_pool(
        &self,
        group: &str,
        region: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError> {
        let client = self.client(region);
        let mut pool = Vec::new();
        let mut next = None;
        loop {
            let output = client
                .describe_warm_pool()
                .auto_scaling_group_name(group)
                // At most 50 instances per page (the API's limit).
                .max_records(50)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| ActionError::of_sdk("DescribeWarmPool", group, &e))?;
            pool.extend(output.instances().iter().map(|instance| {
                FleetInstance {
                    instance_id: instance.instance_id().unwrap_or_default().to_owned(),
                    group: group.to_owned(),
                    lifecycle_state: instance
                        .lifecycle_state()
                        .map_or("", |s| s.as_str())
                        .to_owned(),
                }
            }));
            match output.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(pool)
    }

    async fn waiting(
        &self,
        groups: &[String],
        region: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError> {
        let client = self.client(region);
        let mut waiting = Vec::new();
        let mut with_warm_pool = Vec::new();
        // At most 100 names per request (the API's limit).
        for names in groups.chunks(100) {
            let mut next = None;
            loop {
                let output = client
                    .describe_auto_scaling_groups()
                    .set_auto_scaling_group_names(Some(names.to_vec()))
                    .max_records(100)
                    .set_next_token(next.take())
                    .send()
                    .await
                    .map_err(|e| {
                        ActionError::of_sdk("DescribeAutoScalingGroups", &names.join(","), &e)
                    })?;
                for group in output.auto_scaling_groups() {
                    let name = group.auto_scaling_group_name().unwrap_or_default();
                    if group.warm_pool_configuration().is_some() {
                        with_warm_pool.push(name.to_owned());
                    }
                    for instance in group.instances() {
                        let state = instance.lifecycle_state().map(|s| s.as_str()).unwrap_or("");
                        if WaitState::from_aws(state).is_some() {
                            waiting.push(FleetInstance {
                                instance_id: instance.instance_id().unwrap_or_default().to_owned(),
                                group: name.to_owned(),
                                lifecycle_state: state.to_owned(),
                            });
                        }
                    }
                }
                match output.next_token() {
                    Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                    _ => break,
                }
            }
        }
        // Instances in a warm pool are not among the group's instances.
        for group in with_warm_pool {
            let pool = self.warm_pool(&group, region).await?;
            waiting.extend(pool.into_iter().filter(|i| i.wait().is_some()));
        }
        Ok(waiting)
    }

    async fn hooks(&self, group: &str, region: Option<&str>) -> Result<Vec<Hook>, ActionError> {
        let output = self
            .client(region)
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(group)
            .send()
            .await
            .map_err(|e| ActionError::of_sdk("DescribeLifecycleHooks", group, &e))?;
        let mut hooks = Vec::new();
        for hook in output.lifecycle_hooks() {
            let transition = match hook.lifecycle_transition() {
                Some("autoscaling:EC2_INSTANCE_LAUNCHING") => LifecycleTransition::Launching,
                Some("autoscaling:EC2_INSTANCE_TERMINATING") => LifecycleTransition::Terminating,
                _ => continue,
            };
            let seconds = |s: Option<i32>| Duration::from_secs(s.map_or(0, |s| s.max(0) as u64));
            let heartbeat = seconds(hook.heartbeat_timeout());
            let mut described = Hook::new(
                group,
                hook.lifecycle_hook_name().unwrap_or_default(),
                transition,
                heartbeat,
                match hook.default_result() {
                    Some("CONTINUE") => LifecycleResult::Continue,
                    _ => LifecycleResult::Abandon,
                },
            );
            if hook.global_timeout().is_some() {
                described.global_timeout = seconds(hook.global_timeout());
            }
            described.notification_metadata = hook.notification_metadata().map(str::to_owned);
            hooks.push(described);
        }
        Ok(hooks)
    }
}
