//! The cluster example as a Lambda: `LIFECYCLE_TABLE` names the node table.
//!
//! DNS here is the in-memory stand-in: publish to your DNS provider by implementing
//! `DnsRegistry` for it (Route 53 is not wired in this example yet).

use lifecycle_examples::cluster::{ClusterNode, MemoryDns};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let dns = MemoryDns::default();
    lifecycle_aws::run(move || ClusterNode::new(dns.clone())).await
}
