//! Publishing cluster nodes in Route 53.

use aws_sdk_route53::Client;
use aws_sdk_route53::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use crate::cluster::{ClusterError, DnsRegistry};

/// [`DnsRegistry`] in a Route 53 hosted zone: one multivalue `A` record per node, identified by
/// its instance id. Each node's record is its own, so concurrent Lambdas never read, modify and
/// write a shared record set, and both calls are idempotent (a retry changes nothing).
#[derive(Debug, Clone)]
pub struct Route53Dns {
    client: Client,
    zone_id: String,
    ttl: i64,
}

impl Route53Dns {
    /// Records in hosted zone `zone_id`, with a 60 s TTL.
    pub fn new(client: Client, zone_id: impl Into<String>) -> Self {
        Route53Dns {
            client,
            zone_id: zone_id.into(),
            ttl: 60,
        }
    }

    async fn change(
        &self,
        action: ChangeAction,
        name: &str,
        instance: &str,
        address: &str,
    ) -> Result<(), ClusterError> {
        let invalid = |e: aws_sdk_route53::error::BuildError| ClusterError::Dns(e.to_string());
        let record = ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::A)
            .set_identifier(instance)
            .multi_value_answer(true)
            .ttl(self.ttl)
            .resource_records(
                ResourceRecord::builder()
                    .value(address)
                    .build()
                    .map_err(invalid)?,
            )
            .build()
            .map_err(invalid)?;
        let batch = ChangeBatch::builder()
            .comment(format!("lifecycle: {} {instance}", action.as_str()))
            .changes(
                Change::builder()
                    .action(action.clone())
                    .resource_record_set(record)
                    .build()
                    .map_err(invalid)?,
            )
            .build()
            .map_err(invalid)?;
        match self
            .client
            .change_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .change_batch(batch)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Deleting what is already gone: a retry, or a node that never got published.
            Err(SdkError::ServiceError(e))
                if action == ChangeAction::Delete
                    && e.err().code() == Some("InvalidChangeBatch")
                    && e.err().message().is_some_and(|m| m.contains("not found")) =>
            {
                Ok(())
            }
            Err(e) => Err(ClusterError::Dns(lifecycle_aws::store::error_chain(&e))),
        }
    }
}

#[async_trait::async_trait]
impl DnsRegistry for Route53Dns {
    async fn publish(&self, name: &str, instance: &str, address: &str) -> Result<(), ClusterError> {
        self.change(ChangeAction::Upsert, name, instance, address)
            .await
    }

    async fn withdraw(
        &self,
        name: &str,
        instance: &str,
        address: &str,
    ) -> Result<(), ClusterError> {
        self.change(ChangeAction::Delete, name, instance, address)
            .await
    }
}
