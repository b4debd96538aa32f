//! A node model that joins and leaves with SSM commands, and a runtime fixture around it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use lifecycle_aws::actions::{ActionError, Completed, LifecycleActions};
use lifecycle_aws::fleet::{Fleet, FleetInstance, Held, Hook};
use lifecycle_aws::runtime::{HandleError, Outcome, Runtime};
use lifecycle_aws::store::to_attribute;
use lifecycle_core::{
    CommandRequest, Context, EffectError, LifecycleAction, LifecycleResult, LifecycleTransition,
    lifecycle_model,
};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Effect(#[from] EffectError),
}

/// Joins with an SSM command on launch and leaves with one on termination.
pub struct Node;

#[lifecycle_model(
    states(New, Pending, FinishedCloudInit, Joining, Ready, Leaving, Gone, Failure, Abandoned),
    before_initial(New, Pending),
    initial = FinishedCloudInit,
    terminal(Gone, Abandoned),
    failure = Failure,
    error = NodeError,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Joining, on(launching), wait)]
    async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        // Event data goes in as a document parameter, never into the shell string.
        let metadata = ctx
            .lifecycle()
            .and_then(|l| l.notification_metadata.clone())
            .unwrap_or_default();
        let request = CommandRequest::new("AWS-RunShellScript", [ctx.record().ident.clone()])
            .parameter("commands", ["/usr/local/bin/join-cluster"])
            .parameter("executionTimeout", ["600"])
            .comment(format!("join; metadata {} bytes", metadata.len()));
        let id = ctx.send_command(request).await?;
        ctx.set("JoinCommand", id);
        Ok(())
    }

    #[transition(from = Joining, to = Ready, on(command))]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }

    #[transition(from = Ready, to = Leaving, on(terminating), wait)]
    async fn leave(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        let request = CommandRequest::new("AWS-RunShellScript", [ctx.record().ident.clone()])
            .parameter("commands", ["/usr/local/bin/leave-cluster"]);
        let id = ctx.send_command(request).await?;
        ctx.set("LeaveCommand", id);
        Ok(())
    }

    #[transition(from = Leaving, to = Gone, on(command), ignore_errors)]
    async fn left(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }

    #[transition(from = Failure, to = Abandoned, ignore_errors)]
    async fn abandon(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }
}

/// A completion: instance, transition, result, token.
pub type Completion = (String, LifecycleTransition, LifecycleResult, Option<String>);

/// Records completions and heartbeats instead of calling Auto Scaling, and answers as it
/// does: a lifecycle action completed once has no active action any more.
#[derive(Default)]
pub struct Recorded {
    /// Completions Auto Scaling accepted.
    pub completions: Mutex<Vec<Completion>>,
    /// Completions of an action already completed ("No active Lifecycle Action found").
    pub repeated: Mutex<Vec<Completion>>,
    pub heartbeats: Mutex<Vec<String>>,
    /// Tokens of actions Auto Scaling no longer has (their hook timed out).
    pub gone: Mutex<Vec<String>>,
    /// The region each completion call went to (the action's, else the caller's).
    pub regions: Mutex<Vec<Option<String>>>,
}

#[async_trait::async_trait]
impl LifecycleActions for Recorded {
    async fn complete(
        &self,
        action: &LifecycleAction,
        region: Option<&str>,
        result: LifecycleResult,
    ) -> Result<Completed, ActionError> {
        self.regions
            .lock()
            .unwrap()
            .push(action.region.clone().or_else(|| region.map(str::to_owned)));
        let completion = (
            action.ec2_instance_id.clone(),
            action.lifecycle_transition,
            result,
            action.lifecycle_action_token.clone(),
        );
        let mut completions = self.completions.lock().unwrap();
        let gone = action
            .lifecycle_action_token
            .as_ref()
            .is_some_and(|t| self.gone.lock().unwrap().contains(t));
        if gone
            || completions
                .iter()
                .any(|c| c.3 == completion.3 && c.1 == completion.1)
        {
            self.repeated.lock().unwrap().push(completion);
            return Ok(Completed::NoActiveAction);
        }
        completions.push(completion);
        Ok(Completed::Done)
    }

    async fn heartbeat(
        &self,
        action: &LifecycleAction,
        _: Option<&str>,
    ) -> Result<Completed, ActionError> {
        let active = |t: &String| {
            !self.gone.lock().unwrap().contains(t)
                && !self
                    .completions
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|c| c.3.as_ref() == Some(t))
        };
        if !action.lifecycle_action_token.as_ref().is_none_or(active) {
            return Ok(Completed::NoActiveAction);
        }
        self.heartbeats
            .lock()
            .unwrap()
            .push(action.ec2_instance_id.clone());
        Ok(Completed::Done)
    }
}

/// Auto Scaling holds every action it has not completed and that has not timed out.
#[async_trait::async_trait]
impl Fleet for Recorded {
    async fn instances(
        &self,
        _: &[String],
        _: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError> {
        Ok(Vec::new())
    }

    async fn warm_pool(&self, _: &str, _: Option<&str>) -> Result<Vec<FleetInstance>, ActionError> {
        Ok(Vec::new())
    }

    async fn held(&self, action: &LifecycleAction, _: Option<&str>) -> Result<Held, ActionError> {
        let token = &action.lifecycle_action_token;
        let gone = token
            .as_ref()
            .is_some_and(|t| self.gone.lock().unwrap().contains(t));
        let completed = self
            .completions
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.3 == *token && c.1 == action.lifecycle_transition);
        Ok(if gone || completed {
            Held::No("completed, or timed out".into())
        } else {
            Held::Yes
        })
    }

    async fn waiting(
        &self,
        _: &[String],
        _: Option<&str>,
    ) -> Result<Vec<FleetInstance>, ActionError> {
        Ok(Vec::new())
    }

    async fn hooks(&self, _: &str, _: Option<&str>) -> Result<Vec<Hook>, ActionError> {
        Ok(Vec::new())
    }
}

pub struct Fixture {
    pub runtime: Runtime<Node, fn() -> Node>,
    pub recorded: Arc<Recorded>,
    pub ssm: aws_sdk_ssm::Client,
}

impl Fixture {
    pub async fn new() -> Self {
        Self::in_region("eu-central-1").await
    }

    /// The fixture in `region` (see [`super::sdk_config_in`]).
    pub async fn in_region(region: &'static str) -> Self {
        let config = super::sdk_config_in(region).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let table = super::node_table(&dynamodb).await;
        let recorded = Arc::new(Recorded::default());
        let runtime = Runtime::new(&config, table, (|| Node) as fn() -> Node)
            .with_actions(recorded.clone())
            .with_fleet(recorded.clone());
        Fixture {
            runtime,
            recorded,
            ssm: aws_sdk_ssm::Client::new(&config),
        }
    }

    /// Writes an item as cloud-init (or the original library) would.
    pub async fn put(&self, item: Value) {
        let item: HashMap<String, AttributeValue> = item
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), to_attribute(v)))
            .collect();
        let store = self.runtime.store();
        store
            .client()
            .put_item()
            .table_name(store.table())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    pub async fn item(&self, ident: &str) -> Option<HashMap<String, AttributeValue>> {
        let store = self.runtime.store();
        store
            .client()
            .get_item()
            .table_name(store.table())
            .key("Ident", AttributeValue::S(ident.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    pub async fn state(&self, ident: &str) -> String {
        match &self.item(ident).await.unwrap()["ItemStatus"] {
            AttributeValue::S(s) => s.clone(),
            other => panic!("{other:?}"),
        }
    }

    pub async fn attribute(&self, ident: &str, name: &str) -> String {
        match &self.item(ident).await.unwrap()[name] {
            AttributeValue::S(s) => s.clone(),
            other => panic!("{other:?}"),
        }
    }

    pub async fn attribute_number(&self, ident: &str, name: &str) -> u64 {
        match &self.item(ident).await.unwrap()[name] {
            AttributeValue::N(n) => n.parse().unwrap(),
            other => panic!("{other:?}"),
        }
    }

    pub async fn handle(&self, payload: Value) -> Result<Value, HandleError> {
        self.runtime.handle(&payload).await
    }

    pub fn completions(&self) -> Vec<Completion> {
        self.recorded.completions.lock().unwrap().clone()
    }
}

/// Now, as EventBridge writes an event's `time`: on time by the system clock.
fn now() -> String {
    use aws_smithy_types::date_time::{DateTime, Format};
    DateTime::from(std::time::SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap()
}

pub fn lifecycle_event(instance: &str, transition: &str) -> Value {
    json!({
        "version": "0", "id": format!("evt-{instance}-{transition}"),
        "detail-type": "EC2 Instance-launch Lifecycle Action", "source": "aws.autoscaling",
        "account": "123456789012", "time": now(), "region": "eu-central-1",
        "resources": ["arn:aws:autoscaling:eu-central-1:123456789012:autoScalingGroup:x:autoScalingGroupName/workers"],
        "detail": {
            "LifecycleActionToken": format!("token-{instance}"), "AutoScalingGroupName": "workers",
            "LifecycleHookName": "workers-hook", "EC2InstanceId": instance,
            "LifecycleTransition": transition, "NotificationMetadata": "{\"type\": \"worker\"}"
        }
    })
}

pub fn launching(instance: &str) -> Value {
    lifecycle_event(instance, "autoscaling:EC2_INSTANCE_LAUNCHING")
}

pub fn terminating(instance: &str) -> Value {
    lifecycle_event(instance, "autoscaling:EC2_INSTANCE_TERMINATING")
}

/// An SSM status-change event as EventBridge delivers it (parameters as a JSON string).
pub fn command_status(command_id: &str, instance: &str, status: &str, requested: &str) -> Value {
    json!({
        "version": "0", "id": format!("evt-{command_id}-{status}"),
        "detail-type": "EC2 Command Status-change Notification", "source": "aws.ssm",
        "account": "123456789012", "time": "2026-11-25T10:00:05Z", "region": "eu-central-1",
        "resources": [format!("arn:aws:ec2:eu-central-1:123456789012:instance/{instance}")],
        "detail": {
            "command-id": command_id, "document-name": "AWS-RunShellScript",
            "requested-date-time": requested, "expire-after": "2026-11-25T12:00:00.000Z",
            "output-s3bucket-name": "", "output-s3key-prefix": "",
            "parameters": "{\"commands\":[\"/usr/local/bin/join-cluster\"]}", "status": status
        }
    })
}

/// A time long enough ago that an unknown command is not ours.
pub const LONG_AGO: &str = "2026-01-01T00:00:00.000Z";

pub fn outcome(response: &Value) -> Outcome {
    let outcomes = response["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 1);
    serde_json::from_value(outcomes[0].clone()).unwrap()
}

pub fn end_of(outcome: &Outcome) -> (&str, &str, Option<&str>) {
    match outcome {
        Outcome::Dispatched {
            end,
            stop,
            completed,
            ..
        } => (end, stop, completed.as_deref()),
        other => panic!("not dispatched: {other:?}"),
    }
}
