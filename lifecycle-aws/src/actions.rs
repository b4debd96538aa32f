//! Completing lifecycle actions and keeping them alive: the Auto Scaling calls, behind a trait
//! so they can be replaced (tests, other schedulers).
//!
//! ```
//! use std::sync::Arc;
//! use lifecycle_aws::actions::{AutoScalingActions, Completed, LifecycleActions};
//! use lifecycle_aws::testing::MemoryActions;
//! use lifecycle_core::{LifecycleResult, LifecycleTransition};
//! # let config = lifecycle_aws::testing::example_sdk_config();
//! // Deployed: the Auto Scaling API. In tests: a stand-in in memory with the same answers.
//! let deployed: Arc<dyn LifecycleActions> = Arc::new(AutoScalingActions::new(&config));
//! let memory = Arc::new(MemoryActions::new());
//! let actions: Arc<dyn LifecycleActions> = memory.clone();
//! let launch = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
//! lifecycle_aws::testing::block_on(async {
//!     let first = actions.complete(&launch, None, LifecycleResult::Continue).await.unwrap();
//!     // Auto Scaling holds the action no more: a second completion is told so, not failed.
//!     let again = actions.complete(&launch, None, LifecycleResult::Continue).await.unwrap();
//!     assert_eq!((first, again), (Completed::Done, Completed::NoActiveAction));
//! });
//! assert_eq!(memory.completions().len(), 1);
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::{Region, SdkConfig};
use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::error::{ProvideErrorMetadata, SdkError};
use lifecycle_core::{LifecycleAction, LifecycleResult};

use crate::aws_error::{error_chain, is_transient};

/// An Auto Scaling call failed.
///
/// ```
/// use lifecycle_aws::actions::ActionError;
/// let error = ActionError { operation: "CompleteLifecycleAction", instance: "i-1".into(), message: "Throttling".into(), transient: true };
/// assert_eq!(error.to_string(), "Auto Scaling CompleteLifecycleAction for i-1: Throttling");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Auto Scaling {operation} for {instance}: {message}")]
pub struct ActionError {
    /// The API operation.
    pub operation: &'static str,
    /// The instance the action belongs to.
    pub instance: String,
    /// The SDK's error, with its cause chain.
    pub message: String,
    /// Whether the same call may succeed later (throttling, a server error, a timeout, a lost
    /// connection); access denied or a validation error will not.
    pub transient: bool,
}

impl ActionError {
    /// `operation`'s SDK error about `about` (an instance, a group, a list of them).
    pub(crate) fn of_sdk<E, R>(operation: &'static str, about: &str, error: &SdkError<E, R>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
        R: std::fmt::Debug + 'static,
    {
        ActionError {
            operation,
            instance: about.to_owned(),
            message: error_chain(error),
            transient: is_transient(error),
        }
    }
}

/// How a completion ended.
///
/// ```
/// use lifecycle_aws::actions::{Completed, LifecycleActions};
/// use lifecycle_aws::testing::MemoryActions;
/// use lifecycle_core::{LifecycleResult, LifecycleTransition};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let actions = MemoryActions::new();
///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
///     assert_eq!(actions.complete(&action, None, LifecycleResult::Continue).await.unwrap(), Completed::Done);
///     // Auto Scaling answers a second completion of the same action so.
///     assert_eq!(actions.complete(&action, None, LifecycleResult::Continue).await.unwrap(), Completed::NoActiveAction);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    /// Auto Scaling took the result.
    Done,
    /// Auto Scaling has no such action any more (already completed, or timed out): final, not
    /// retried.
    NoActiveAction,
}

/// The lifecycle-action calls of Auto Scaling.
///
/// ```
/// use lifecycle_aws::actions::{ActionError, Completed, LifecycleActions};
/// use lifecycle_core::{LifecycleAction, LifecycleResult};
///
/// /// Completions written down instead of sent: a dry run.
/// #[derive(Default)]
/// struct DryRun(std::sync::Mutex<Vec<String>>);
///
/// #[async_trait::async_trait]
/// impl LifecycleActions for DryRun {
///     async fn complete(&self, action: &LifecycleAction, _region: Option<&str>, result: LifecycleResult)
///         -> Result<Completed, ActionError> {
///         self.0.lock().unwrap().push(format!("would complete {} with {result}", action.ec2_instance_id));
///         Ok(Completed::Done)
///     }
///
///     async fn heartbeat(&self, _action: &LifecycleAction, _region: Option<&str>) -> Result<Completed, ActionError> {
///         Ok(Completed::Done)
///     }
/// }
/// let dry_run = DryRun::default();
/// let action = lifecycle_core::testing::action("i-1", lifecycle_core::LifecycleTransition::Launching);
/// lifecycle_aws::testing::block_on(dry_run.complete(&action, None, LifecycleResult::Abandon)).unwrap();
/// assert_eq!(dry_run.0.lock().unwrap()[0], "would complete i-1 with ABANDON");
/// ```
#[async_trait::async_trait]
pub trait LifecycleActions: Send + Sync {
    /// `CompleteLifecycleAction`, with the token (the instance id when there is none), in the
    /// action's own region ([`LifecycleAction::region`]), else in `region`.
    ///
    /// ```
    /// use lifecycle_aws::actions::{Completed, LifecycleActions};
    /// use lifecycle_aws::testing::MemoryActions;
    /// use lifecycle_core::{LifecycleResult, LifecycleTransition};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let actions = MemoryActions::new();
    ///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
    ///     let done = actions.complete(&action, Some("eu-central-1"), LifecycleResult::Continue).await.unwrap();
    ///     assert_eq!(done, Completed::Done);
    /// });
    /// ```
    async fn complete(
        &self,
        action: &LifecycleAction,
        region: Option<&str>,
        result: LifecycleResult,
    ) -> Result<Completed, ActionError>;

    /// `RecordLifecycleActionHeartbeat`: another heartbeat timeout for `action`.
    ///
    /// ```
    /// use lifecycle_aws::actions::{Completed, LifecycleActions};
    /// use lifecycle_aws::testing::MemoryActions;
    /// use lifecycle_core::LifecycleTransition;
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let actions = MemoryActions::new();
    ///     let action = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
    ///     assert_eq!(actions.heartbeat(&action, None).await.unwrap(), Completed::Done);
    /// });
    /// ```
    async fn heartbeat(
        &self,
        action: &LifecycleAction,
        region: Option<&str>,
    ) -> Result<Completed, ActionError>;
}

/// [`LifecycleActions`] through the Auto Scaling API. A model may act on groups in several
/// regions: a client is built once per region, from the same configuration.
///
/// Deployed, `AutoScalingActions::new(&config)`; here with a mocked client, to show the
/// request a completion makes:
///
/// ```
/// use aws_sdk_autoscaling::operation::complete_lifecycle_action::CompleteLifecycleActionOutput;
/// use aws_smithy_mocks::{mock, mock_client};
/// use lifecycle_aws::actions::{AutoScalingActions, Completed, LifecycleActions};
/// use lifecycle_core::{LifecycleResult, LifecycleTransition};
/// # let config = lifecycle_aws::testing::example_sdk_config();
/// let complete = mock!(aws_sdk_autoscaling::Client::complete_lifecycle_action)
///     .match_requests(|r| {
///         r.auto_scaling_group_name() == Some("test-group")
///             && r.lifecycle_hook_name() == Some("test-group-launching")
///             && r.lifecycle_action_token() == Some("token-launching-i-1")
///             && r.lifecycle_action_result() == Some("CONTINUE")
///     })
///     .then_output(|| CompleteLifecycleActionOutput::builder().build());
/// let actions = AutoScalingActions::with_client(&config, mock_client!(aws_sdk_autoscaling, [&complete]));
/// let launch = lifecycle_core::testing::action("i-1", LifecycleTransition::Launching);
/// let done = lifecycle_aws::testing::block_on(actions.complete(&launch, None, LifecycleResult::Continue));
/// assert_eq!(done.unwrap(), Completed::Done);
/// assert_eq!(complete.num_calls(), 1);
/// ```
#[derive(Debug)]
pub struct AutoScalingActions {
    config: SdkConfig,
    default: Client,
    regional: Mutex<HashMap<String, Client>>,
}

impl AutoScalingActions {
    /// Clients built from `config`; actions without a region use its region.
    pub fn new(config: &SdkConfig) -> Self {
        AutoScalingActions {
            config: config.clone(),
            default: Client::new(config),
            regional: Mutex::new(HashMap::new()),
        }
    }

    /// Uses `client` for actions without a region (and for its own region).
    pub fn with_client(config: &SdkConfig, client: Client) -> Self {
        AutoScalingActions {
            config: config.clone(),
            default: client,
            regional: Mutex::new(HashMap::new()),
        }
    }

    /// The client of `region` (the configuration's own when `None`), built once.
    pub(crate) fn client(&self, region: Option<&str>) -> Client {
        let Some(region) = region.filter(|r| Some(*r) != self.config.region().map(Region::as_ref))
        else {
            return self.default.clone();
        };
        let mut regional = self.regional.lock().unwrap_or_else(|e| e.into_inner());
        regional
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_autoscaling::config::Builder::from(&self.config)
                    .region(Region::new(region.to_owned()))
                    .build();
                Client::from_conf(config)
            })
            .clone()
    }
}

/// "No active Lifecycle Action found with token ...": the action is gone.
fn is_no_active_action<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(error, SdkError::ServiceError(e)
        if e.err().code() == Some("ValidationError")
            && e.err().message().is_some_and(|m| m.contains("No active Lifecycle Action")))
}

#[async_trait::async_trait]
impl LifecycleActions for AutoScalingActions {
    async fn complete(
        &self,
        action: &LifecycleAction,
        region: Option<&str>,
        result: LifecycleResult,
    ) -> Result<Completed, ActionError> {
        let request = self
            .client(action.region.as_deref().or(region))
            .complete_lifecycle_action()
            .auto_scaling_group_name(&action.auto_scaling_group_name)
            .lifecycle_hook_name(&action.lifecycle_hook_name)
            .lifecycle_action_result(result.as_aws_str());
        let request = match &action.lifecycle_action_token {
            Some(token) => request.lifecycle_action_token(token),
            None => request.instance_id(&action.ec2_instance_id),
        };
        match request.send().await {
            Ok(_) => Ok(Completed::Done),
            Err(e) if is_no_active_action(&e) => Ok(Completed::NoActiveAction),
            Err(e) => Err(ActionError::of_sdk(
                "CompleteLifecycleAction",
                &action.ec2_instance_id,
                &e,
            )),
        }
    }

    async fn heartbeat(
        &self,
        action: &LifecycleAction,
        region: Option<&str>,
    ) -> Result<Completed, ActionError> {
        let request = self
            .client(action.region.as_deref().or(region))
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&action.auto_scaling_group_name)
            .lifecycle_hook_name(&action.lifecycle_hook_name);
        let request = match &action.lifecycle_action_token {
            Some(token) => request.lifecycle_action_token(token),
            None => request.instance_id(&action.ec2_instance_id),
        };
        match request.send().await {
            Ok(_) => Ok(Completed::Done),
            Err(e) if is_no_active_action(&e) => Ok(Completed::NoActiveAction),
            Err(e) => Err(ActionError::of_sdk(
                "RecordLifecycleActionHeartbeat",
                &action.ec2_instance_id,
                &e,
            )),
        }
    }
}
