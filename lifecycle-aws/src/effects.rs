//! What tasks can ask for, on AWS: SSM commands whose results resume the lifecycle, and
//! heartbeats.

use std::collections::HashMap;
use std::sync::Mutex;

use lifecycle_core::{CommandRequest, EffectError, Effects, Event, LifecycleAction, Record};

use crate::actions::{Completed, LifecycleActions};
use crate::store::{CommandRegistration, NodeTable, error_chain, is_transient};

/// An SDK error as an [`EffectError`], transient or not.
fn effect_error<E, R>(
    operation: &'static str,
    error: &aws_sdk_ssm::error::SdkError<E, R>,
) -> EffectError
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    if is_transient(error) {
        EffectError::transient(operation, error_chain(error))
    } else {
        EffectError::new(operation, error_chain(error))
    }
}

/// Sends commands to instances: SSM `SendCommand` on AWS ([`SsmCommands`]), a simulation
/// locally.
#[async_trait::async_trait]
pub trait CommandSender: Send + Sync {
    /// Sends `request`; returns the command id.
    async fn send(&self, request: &CommandRequest) -> Result<String, EffectError>;

    /// Cancels a command sent moments ago.
    async fn cancel(&self, command_id: &str) -> Result<(), EffectError>;
}

/// [`CommandSender`] through SSM.
#[derive(Debug, Clone)]
pub struct SsmCommands(pub aws_sdk_ssm::Client);

#[async_trait::async_trait]
impl CommandSender for SsmCommands {
    /// Values go in as document parameters, never spliced into a shell string.
    async fn send(&self, request: &CommandRequest) -> Result<String, EffectError> {
        let parameters: HashMap<String, Vec<String>> =
            request.parameters.clone().into_iter().collect();
        let output = self
            .0
            .send_command()
            .document_name(&request.document_name)
            .set_instance_ids(Some(request.instance_ids.clone()))
            .set_parameters((!parameters.is_empty()).then_some(parameters))
            .set_comment(request.comment.clone())
            .send()
            .await
            .map_err(|e| effect_error("send_command", &e))?;
        output
            .command()
            .and_then(|c| c.command_id())
            .map(str::to_owned)
            .ok_or_else(|| EffectError::new("send_command", "SSM returned no command id"))
    }

    async fn cancel(&self, command_id: &str) -> Result<(), EffectError> {
        self.0
            .cancel_command()
            .command_id(command_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| effect_error("cancel_command", &e))
    }
}

/// [`Effects`] for one event: commands sent and registered in the node table, heartbeats in
/// the event's region.
pub struct AwsEffects<'a, T> {
    commands: &'a dyn CommandSender,
    table: &'a T,
    actions: &'a dyn LifecycleActions,
    region: Option<&'a str>,
    now: u64,
    registered: Mutex<Vec<String>>,
}

impl<'a, T: NodeTable> AwsEffects<'a, T> {
    /// Effects through these parts, for an event from `region` handled at `now` (epoch
    /// seconds: when its commands are registered).
    pub fn new(
        commands: &'a dyn CommandSender,
        table: &'a T,
        actions: &'a dyn LifecycleActions,
        region: Option<&'a str>,
        now: u64,
    ) -> Self {
        AwsEffects {
            commands,
            table,
            actions,
            region,
            now,
            registered: Mutex::new(Vec::new()),
        }
    }

    /// The commands sent and registered for this event so far.
    pub fn registered(&self) -> Vec<String> {
        self.registered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait::async_trait]
impl<T: NodeTable> Effects for AwsEffects<'_, T> {
    /// Sends the command, then registers it so its status-change event resumes the lifecycle.
    /// A command that cannot be registered is cancelled: nobody would recognise its result.
    async fn send_command(
        &self,
        event: &Event,
        record: &Record,
        request: CommandRequest,
    ) -> Result<String, EffectError> {
        let command_id = self.commands.send(&request).await?;
        let registered = self
            .table
            .register_command(CommandRegistration {
                command_id: &command_id,
                owner: &record.ident,
                targets: &request.instance_ids,
                lifecycle: event.lifecycle.as_ref(),
                event_id: &event.id,
                comment: request.comment.as_deref(),
                document_name: &request.document_name,
                registered_at: self.now,
            })
            .await;
        if let Err(e) = registered {
            // The write may have happened with its answer lost: a registration left behind
            // would let the cancelled command's result fail the lifecycle.
            if let Err(e) = self.table.consume_command(&command_id).await {
                tracing::warn!(command_id, error = %e, "could not withdraw a registration that failed");
            }
            let cancelled = self.commands.cancel(&command_id).await;
            // The table failed, not the request: trying again later may work.
            return Err(EffectError::transient(
                "send_command",
                format!(
                    "sent {command_id} but could not register it ({e}); {}",
                    match cancelled {
                        Ok(()) => "cancelled it".to_owned(),
                        Err(c) => format!("cancelling it failed too: {c}"),
                    }
                ),
            ));
        }
        tracing::info!(event_id = %event.id, command_id, document = %request.document_name, "command sent");
        self.registered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(command_id.clone());
        Ok(command_id)
    }

    async fn record_heartbeat(&self, action: &LifecycleAction) -> Result<(), EffectError> {
        match self.actions.heartbeat(action, self.region).await {
            Ok(Completed::Done) => Ok(()),
            Ok(Completed::NoActiveAction) => Err(EffectError::new(
                "record_heartbeat",
                "Auto Scaling has no active lifecycle action for this instance any more",
            )),
            Err(e) => Err(EffectError::transient("record_heartbeat", e.to_string())),
        }
    }
}
