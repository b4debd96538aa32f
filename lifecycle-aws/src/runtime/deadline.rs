//! When a wait ends: the configured deadline, or earlier when the lifecycle hook's own global
//! timeout would end it first. Auto Scaling ends every wait at the hook's global timeout (the
//! smaller of 48 hours and 100 heartbeat timeouts), heartbeats or not, and applies the hook's
//! default result; the model decides before that, with a margin for the sweep to run.

use std::collections::HashMap;
use std::sync::Mutex;

use lifecycle_core::{LifecycleAction, LifecycleModel};

use super::{Runtime, epoch_seconds};
use crate::fleet::Hook;
use crate::store::NodeTable;

/// How long the hooks of a group are taken as described before they are asked again.
const HOOKS_KEPT_SECONDS: u64 = 300;

/// A group, in its region (`None`: the runtime's own).
type GroupKey = (Option<String>, String);

/// The hooks of each group, with when they were described (epoch seconds).
#[derive(Debug, Default)]
pub(super) struct HookCache(Mutex<HashMap<GroupKey, (u64, Vec<Hook>)>>);

/// Which limit ends a wait ([`Runtime::wait_deadline`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `LIFECYCLE_WAIT_DEADLINE_SECONDS` ([`Runtime::with_wait_deadline`]).
    Configured,
    /// The lifecycle hook's global timeout, less two heartbeat intervals.
    HookGlobalTimeout,
}

impl Limit {
    /// The limit in words.
    ///
    /// ```
    /// use lifecycle_aws::runtime::Limit;
    /// assert_eq!(Limit::HookGlobalTimeout.as_str(), "the lifecycle hook's global timeout");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Configured => "the configured wait deadline",
            Limit::HookGlobalTimeout => "the lifecycle hook's global timeout",
        }
    }
}

impl<M, F, T> Runtime<M, F, T>
where
    M: LifecycleModel,
    F: Fn() -> M + Send + Sync,
    T: NodeTable,
{
    /// The margin kept before a hook's global timeout: two heartbeat intervals, so that a
    /// sweep (every 5 minutes in the template, within one interval) runs in between.
    fn timeout_margin(&self) -> u64 {
        self.settings.heartbeat_interval.as_secs().saturating_mul(2)
    }

    /// The hook that holds `action`, if the runtime can ask Auto Scaling (and it answers).
    pub(super) async fn hook_of(&self, action: &LifecycleAction) -> Option<Hook> {
        let fleet = self.fleet.as_deref()?;
        let now = epoch_seconds(self.clock.now());
        let key = (
            action.region.clone(),
            action.auto_scaling_group_name.clone(),
        );
        let cached = {
            let cache = self.hooks.0.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .get(&key)
                .filter(|(at, _)| now.saturating_sub(*at) < HOOKS_KEPT_SECONDS)
                .map(|(_, hooks)| hooks.clone())
        };
        let hooks = match cached {
            Some(hooks) => hooks,
            None => match fleet
                .hooks(&action.auto_scaling_group_name, action.region.as_deref())
                .await
            {
                Ok(hooks) => {
                    let mut cache = self.hooks.0.lock().unwrap_or_else(|e| e.into_inner());
                    cache.insert(key, (now, hooks.clone()));
                    hooks
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the lifecycle hook's timeouts: the configured deadline applies");
                    return None;
                }
            },
        };
        hooks
            .into_iter()
            .find(|h| h.name == action.lifecycle_hook_name)
    }

    /// When a wait for `action` that started at `since` (epoch seconds) ends, and which limit
    /// decides: the configured deadline, or the hook's global timeout less two heartbeat
    /// intervals when that comes first (the hook's timeouts asked of Auto Scaling, kept five
    /// minutes; without [`Runtime::with_fleet`], or for a wait with no lifecycle action, the
    /// configured one). What the sweep applies; `lifecycle-local status --groups` shows it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use lifecycle_aws::fleet::Hook;
    /// use lifecycle_aws::store::MemoryTable;
    /// use lifecycle_aws::runtime::{Limit, Runtime};
    /// use lifecycle_aws::testing::{MemoryAutoScaling, MemoryCommands};
    /// use lifecycle_core::testing::example::Node;
    /// use lifecycle_core::{LifecycleResult, LifecycleTransition};
    /// // A hook with a heartbeat timeout of a minute: its global timeout is 100 minutes.
    /// let hook = Hook::new("workers", "on-launch", LifecycleTransition::Launching, Duration::from_secs(60), LifecycleResult::Abandon);
    /// let aws = Arc::new(MemoryAutoScaling::new().with_group("workers").with_hook(hook));
    /// let runtime = Runtime::with_parts(MemoryTable::new(), Arc::new(MemoryCommands::new()), aws.clone(), || Node)
    ///     .with_fleet(aws.clone());
    /// let _event = aws.launch("i-1", "workers");
    /// let action = aws.held_action("i-1").unwrap();
    /// let wait = |runtime: &Runtime<_, _, _>| tokio::runtime::Builder::new_current_thread().build().unwrap()
    ///     .block_on(runtime.wait_deadline(Some(&action), 1_000));
    /// // 6,000 s less two heartbeat intervals (240 s each) comes after the configured 3,600 s:
    /// assert_eq!(wait(&runtime), (1_000 + 3_600, Limit::Configured));
    /// let runtime = runtime.with_wait_deadline(Duration::from_secs(24 * 3600));
    /// assert_eq!(wait(&runtime), (1_000 + 6_000 - 480, Limit::HookGlobalTimeout));
    /// ```
    pub async fn wait_deadline(
        &self,
        action: Option<&LifecycleAction>,
        since: u64,
    ) -> (u64, Limit) {
        self.deadline(action, since).await
    }

    /// When the wait that started at `since` for `action` ends, and which limit decides.
    pub(super) async fn deadline(
        &self,
        action: Option<&LifecycleAction>,
        since: u64,
    ) -> (u64, Limit) {
        let configured = since.saturating_add(self.settings.wait_deadline.as_secs());
        let hook = match action {
            Some(action) => self.hook_of(action).await,
            None => None,
        };
        let Some(hook) = hook else {
            return (configured, Limit::Configured);
        };
        let by_hook = since.saturating_add(
            hook.global_timeout
                .as_secs()
                .saturating_sub(self.timeout_margin()),
        );
        if hook.heartbeat_timeout <= self.settings.heartbeat_interval {
            tracing::warn!(
                hook = %hook.name,
                heartbeat_timeout_seconds = hook.heartbeat_timeout.as_secs(),
                heartbeat_interval_seconds = self.settings.heartbeat_interval.as_secs(),
                "the hook's heartbeat timeout is not longer than LIFECYCLE_HEARTBEAT_SECONDS: its waits may time out between heartbeats"
            );
        }
        if by_hook < configured {
            (by_hook, Limit::HookGlobalTimeout)
        } else {
            (configured, Limit::Configured)
        }
    }
}
