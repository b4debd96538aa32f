//! The cluster example as a Lambda. `LIFECYCLE_TABLE` names the node table, `DNS_ZONE_ID` the
//! Route 53 hosted zone, `MANAGER_DNS_NAME` and `WORKER_DNS_NAME` the names nodes are
//! published under, `MANAGER_GROUP_NAME` and `WORKER_GROUP_NAME` the Auto Scaling groups that
//! say a node's role.

use aws_config::BehaviorVersion;
use lifecycle_aws::lambda::required_var;
use lifecycle_examples::cluster::{ClusterGroups, ClusterNode};
use lifecycle_examples::route53::Route53Dns;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let zone = required_var(
        "DNS_ZONE_ID",
        "the Route 53 hosted zone nodes are published in",
    )?;
    let manager_dns_name = required_var("MANAGER_DNS_NAME", "the DNS name of the managers")?;
    let worker_dns_name = required_var("WORKER_DNS_NAME", "the DNS name of the workers")?;
    let groups = ClusterGroups {
        managers: required_var("MANAGER_GROUP_NAME", "the managers' Auto Scaling group")?,
        workers: required_var("WORKER_GROUP_NAME", "the workers' Auto Scaling group")?,
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
