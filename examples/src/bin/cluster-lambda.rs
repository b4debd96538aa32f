//! The cluster example as a Lambda. `LIFECYCLE_TABLE` names the node table, `DNS_ZONE_ID` the
//! Route 53 hosted zone, `MANAGER_DNS_NAME` and `WORKER_DNS_NAME` the names nodes are
//! published under, `MANAGER_GROUP_NAME` and `WORKER_GROUP_NAME` the Auto Scaling groups that
//! say a node's role.

use aws_config::BehaviorVersion;
use lifecycle_examples::cluster::{ClusterGroups, ClusterNode};
use lifecycle_examples::route53::Route53Dns;

fn required(name: &str) -> Result<String, lambda_runtime::Error> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is not set").into())
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let zone = required("DNS_ZONE_ID")?;
    let manager_dns_name = required("MANAGER_DNS_NAME")?;
    let worker_dns_name = required("WORKER_DNS_NAME")?;
    let groups = ClusterGroups {
        managers: required("MANAGER_GROUP_NAME")?,
        workers: required("WORKER_GROUP_NAME")?,
    };
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let dns = Route53Dns::new(aws_sdk_route53::Client::new(&config), zone);
    lifecycle_aws::run(move || ClusterNode {
        manager_dns_name: manager_dns_name.clone(),
        worker_dns_name: worker_dns_name.clone(),
        groups: Some(groups.clone()),
        ..ClusterNode::new(dns.clone())
    })
    .await
}
