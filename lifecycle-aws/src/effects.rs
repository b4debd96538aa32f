//! What tasks can ask for, on AWS: SSM commands whose results resume the lifecycle, and
//! heartbeats.

use std::collections::HashMap;

use lifecycle_core::{CommandRequest, EffectError, Effects, Event, LifecycleAction, Record};

use crate::actions::{Completed, LifecycleActions};
use crate::store::{DynamoStore, error_chain};

/// [`Effects`] for one event: SSM `SendCommand` plus registration in the node table, and
/// Auto Scaling heartbeats in the event's region.
pub struct AwsEffects<'a> {
    ssm: &'a aws_sdk_ssm::Client,
    store: &'a DynamoStore,
    actions: &'a dyn LifecycleActions,
    region: Option<&'a str>,
}

impl<'a> AwsEffects<'a> {
    /// Effects through these clients, for an event from `region`.
    pub fn new(
        ssm: &'a aws_sdk_ssm::Client,
        store: &'a DynamoStore,
        actions: &'a dyn LifecycleActions,
        region: Option<&'a str>,
    ) -> Self {
        AwsEffects {
            ssm,
            store,
            actions,
            region,
        }
    }
}

#[async_trait::async_trait]
impl Effects for AwsEffects<'_> {
    /// Sends the command (values only as document parameters, never spliced into a shell
    /// string), then registers it so its status-change event resumes the lifecycle. A command
    /// that cannot be registered is cancelled: nobody would recognise its result.
    async fn send_command(
        &self,
        event: &Event,
        _record: &Record,
        request: CommandRequest,
    ) -> Result<String, EffectError> {
        let parameters: HashMap<String, Vec<String>> =
            request.parameters.clone().into_iter().collect();
        let output = self
            .ssm
            .send_command()
            .document_name(&request.document_name)
            .set_instance_ids(Some(request.instance_ids.clone()))
            .set_parameters((!parameters.is_empty()).then_some(parameters))
            .set_comment(request.comment.clone())
            .send()
            .await
            .map_err(|e| EffectError::new("send_command", error_chain(&e)))?;
        let command_id = output
            .command()
            .and_then(|c| c.command_id())
            .ok_or_else(|| EffectError::new("send_command", "SSM returned no command id"))?
            .to_owned();
        let registered = self
            .store
            .register_command(
                &command_id,
                &request.instance_ids,
                event.lifecycle.as_ref(),
                &event.id,
                request.comment.as_deref(),
                &request.document_name,
            )
            .await;
        if let Err(e) = registered {
            let cancelled = self
                .ssm
                .cancel_command()
                .command_id(&command_id)
                .send()
                .await;
            return Err(EffectError::new(
                "send_command",
                format!(
                    "sent {command_id} but could not register it ({e}); {}",
                    match cancelled {
                        Ok(_) => "cancelled it".to_owned(),
                        Err(c) => format!("cancelling it failed too: {}", error_chain(&c)),
                    }
                ),
            ));
        }
        tracing::info!(event_id = %event.id, command_id, document = %request.document_name, "command sent");
        Ok(command_id)
    }

    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), EffectError> {
        match self.actions.heartbeat(action, self.region).await {
            Ok(Completed::Done) => Ok(()),
            Ok(Completed::NoActiveAction) => Err(EffectError::new(
                "record_heartbeat",
                "Auto Scaling has no active lifecycle action for this instance any more",
            )),
            Err(e) => Err(EffectError::new("record_heartbeat", e.to_string())),
        }
    }
}
