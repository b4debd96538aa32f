//! Auto Scaling's lifecycle action calls in memory: completions and heartbeats recorded.

use std::sync::Mutex;

use lifecycle_core::{LifecycleAction, LifecycleResult};

use super::lock;
use crate::actions::{ActionError, Completed, LifecycleActions};

/// A `CompleteLifecycleAction` Auto Scaling accepted.
///
/// ```
/// use lifecycle_aws::actions::LifecycleActions;
/// use lifecycle_aws::testing::MemoryActions;
/// use lifecycle_core::{LifecycleResult, LifecycleTransition};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let actions = MemoryActions::new();
///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
///     actions.complete(&action, None, LifecycleResult::Abandon).await.unwrap();
///     let completion = &actions.completions()[0];
///     assert_eq!((completion.action.ec2_instance_id.as_str(), completion.result), ("i-1", LifecycleResult::Abandon));
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The action completed.
    pub action: LifecycleAction,
    /// CONTINUE or ABANDON.
    pub result: LifecycleResult,
}

/// Auto Scaling, recorded. It answers as Auto Scaling does: an action completes once, and a
/// second completion (or a heartbeat after it) finds no active lifecycle action.
///
/// ```
/// use lifecycle_aws::actions::{Completed, LifecycleActions};
/// use lifecycle_aws::testing::MemoryActions;
/// use lifecycle_core::{LifecycleResult, LifecycleTransition};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let actions = MemoryActions::new();
///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
///     assert_eq!(actions.heartbeat(&action, None).await.unwrap(), Completed::Done);
///     actions.complete(&action, None, LifecycleResult::Continue).await.unwrap();
///     // After the completion, a heartbeat finds no active action, as on AWS.
///     assert_eq!(actions.heartbeat(&action, None).await.unwrap(), Completed::NoActiveAction);
/// });
/// ```
#[derive(Debug, Default)]
pub struct MemoryActions {
    completions: Mutex<Vec<Completion>>,
    repeated: Mutex<Vec<Completion>>,
    heartbeats: Mutex<Vec<LifecycleAction>>,
}

impl MemoryActions {
    /// Nothing completed yet.
    ///
    /// ```
    /// assert!(lifecycle_aws::testing::MemoryActions::new().heartbeats().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The completions accepted, in order: one per lifecycle action.
    ///
    /// ```
    /// let actions = lifecycle_aws::testing::MemoryActions::new();
    /// assert!(actions.completions().is_empty());
    /// ```
    pub fn completions(&self) -> Vec<Completion> {
        lock(&self.completions).clone()
    }

    /// Completions of an action already completed (answered "No active Lifecycle Action").
    ///
    /// ```
    /// use lifecycle_aws::actions::LifecycleActions;
    /// use lifecycle_aws::testing::MemoryActions;
    /// use lifecycle_core::{LifecycleResult, LifecycleTransition};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let actions = MemoryActions::new();
    ///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Terminating);
    ///     actions.complete(&action, None, LifecycleResult::Continue).await.unwrap();
    ///     actions.complete(&action, None, LifecycleResult::Continue).await.unwrap();
    ///     assert_eq!((actions.completions().len(), actions.repeated().len()), (1, 1));
    /// });
    /// ```
    pub fn repeated(&self) -> Vec<Completion> {
        lock(&self.repeated).clone()
    }

    /// The heartbeats recorded for active actions.
    ///
    /// ```
    /// use lifecycle_aws::actions::LifecycleActions;
    /// use lifecycle_aws::testing::MemoryActions;
    /// use lifecycle_core::LifecycleTransition;
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let actions = MemoryActions::new();
    ///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
    ///     actions.heartbeat(&action, None).await.unwrap();
    ///     assert_eq!(actions.heartbeats(), [action]);
    /// });
    /// ```
    pub fn heartbeats(&self) -> Vec<LifecycleAction> {
        lock(&self.heartbeats).clone()
    }

    fn is_completed(&self, action: &LifecycleAction) -> bool {
        lock(&self.completions).iter().any(|c| {
            c.action.ec2_instance_id == action.ec2_instance_id
                && c.action.lifecycle_transition == action.lifecycle_transition
                && c.action.lifecycle_action_token == action.lifecycle_action_token
        })
    }
}

#[async_trait::async_trait]
impl LifecycleActions for MemoryActions {
    async fn complete(
        &self,
        action: &LifecycleAction,
        _region: Option<&str>,
        result: LifecycleResult,
    ) -> Result<Completed, ActionError> {
        let completion = Completion {
            action: action.clone(),
            result,
        };
        if self.is_completed(action) {
            lock(&self.repeated).push(completion);
            return Ok(Completed::NoActiveAction);
        }
        lock(&self.completions).push(completion);
        Ok(Completed::Done)
    }

    async fn heartbeat(
        &self,
        action: &LifecycleAction,
        _region: Option<&str>,
    ) -> Result<Completed, ActionError> {
        if self.is_completed(action) {
            return Ok(Completed::NoActiveAction);
        }
        lock(&self.heartbeats).push(action.clone());
        Ok(Completed::Done)
    }
}

/// As a [`Fleet`](crate::fleet::Fleet), the recorder holds every action it has not completed
/// (and knows no group's waits or hooks): with [`Runtime::with_fleet`], events are checked as
/// deployed, and a repeat after the completion is refused.
///
/// [`Runtime::with_fleet`]: crate::runtime::Runtime::with_fleet
///
/// ```
/// use lifecycle_aws::actions::LifecycleActions;
/// use lifecycle_aws::fleet::{Fleet, Held};
/// use lifecycle_aws::testing::MemoryActions;
/// use lifecycle_core::{LifecycleResult, LifecycleTransition};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let actions = MemoryActions::new();
///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
///     assert_eq!(actions.held(&action, None).await.unwrap(), Held::Yes);
///     actions.complete(&action, None, LifecycleResult::Continue).await.unwrap();
///     assert!(matches!(actions.held(&action, None).await.unwrap(), Held::No(_)));
/// });
/// ```
#[async_trait::async_trait]
impl crate::fleet::Fleet for MemoryActions {
    async fn instances(
        &self,
        _instance_ids: &[String],
        _region: Option<&str>,
    ) -> Result<Vec<crate::fleet::FleetInstance>, ActionError> {
        Ok(Vec::new())
    }

    async fn warm_pool(
        &self,
        _group: &str,
        _region: Option<&str>,
    ) -> Result<Vec<crate::fleet::FleetInstance>, ActionError> {
        Ok(Vec::new())
    }

    async fn held(
        &self,
        action: &LifecycleAction,
        _region: Option<&str>,
    ) -> Result<crate::fleet::Held, ActionError> {
        Ok(if self.is_completed(action) {
            crate::fleet::Held::No("the action was completed".to_owned())
        } else {
            crate::fleet::Held::Yes
        })
    }

    async fn waiting(
        &self,
        _groups: &[String],
        _region: Option<&str>,
    ) -> Result<Vec<crate::fleet::FleetInstance>, ActionError> {
        Ok(Vec::new())
    }

    async fn hooks(
        &self,
        _group: &str,
        _region: Option<&str>,
    ) -> Result<Vec<crate::fleet::Hook>, ActionError> {
        Ok(Vec::new())
    }
}
