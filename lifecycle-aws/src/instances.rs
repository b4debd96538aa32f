//! What EC2 itself says about an instance. When an instance reports its cloud-init progress
//! (by tagging itself: [`READY_TAG`](crate::decode::READY_TAG)), the Lambda writes its record
//! from these facts, so instances need no right to write the node table at all.
//!
//! ```
//! use lifecycle_aws::instances::{InstanceDirectory, InstanceFacts, MemoryInstances};
//! tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//!     let known = MemoryInstances::default();
//!     known.add("i-1", InstanceFacts { private_ip: Some("10.0.3.7".into()), group: Some("workers".into()) });
//!     let facts = known.describe("i-1").await.unwrap().unwrap();
//!     assert_eq!(facts.private_ip.as_deref(), Some("10.0.3.7"));
//! });
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

/// An instance as EC2 describes it.
///
/// ```
/// use lifecycle_aws::instances::InstanceFacts;
/// let facts = InstanceFacts { private_ip: Some("10.0.3.7".into()), group: Some("workers".into()) };
/// assert_eq!(facts.group.as_deref(), Some("workers"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceFacts {
    /// Its private IPv4 address.
    pub private_ip: Option<String>,
    /// Its Auto Scaling group (the `aws:autoscaling:groupName` tag, which only Auto Scaling
    /// sets).
    pub group: Option<String>,
}

/// EC2 could not be asked.
///
/// ```
/// use lifecycle_aws::instances::DirectoryError;
/// let error = DirectoryError { instance: "i-1".into(), message: "DescribeInstances failed: RequestLimitExceeded".into() };
/// assert_eq!(error.to_string(), "describing instance i-1: DescribeInstances failed: RequestLimitExceeded");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("describing instance {instance}: {message}")]
pub struct DirectoryError {
    /// The instance.
    pub instance: String,
    /// What went wrong.
    pub message: String,
}

/// Where the runtime looks instances up.
///
/// ```
/// use lifecycle_aws::instances::{DirectoryError, InstanceDirectory, InstanceFacts};
/// /// Every instance is in group `workers` (a single-group deployment's test).
/// struct AllWorkers;
/// #[async_trait::async_trait]
/// impl InstanceDirectory for AllWorkers {
///     async fn describe(&self, _instance_id: &str) -> Result<Option<InstanceFacts>, DirectoryError> {
///         Ok(Some(InstanceFacts { private_ip: None, group: Some("workers".into()) }))
///     }
/// }
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     assert_eq!(AllWorkers.describe("i-1").await.unwrap().unwrap().group.as_deref(), Some("workers"));
/// });
/// ```
#[async_trait::async_trait]
pub trait InstanceDirectory: Send + Sync {
    /// The instance's facts; `None` if EC2 has no such instance.
    ///
    /// ```
    /// use lifecycle_aws::instances::{InstanceDirectory, InstanceFacts, MemoryInstances};
    /// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    ///     let known = MemoryInstances::default();
    ///     known.add("i-1", InstanceFacts { private_ip: None, group: Some("workers".into()) });
    ///     assert!(known.describe("i-1").await.unwrap().is_some());
    ///     assert!(known.describe("i-9").await.unwrap().is_none(), "EC2 has no such instance");
    /// });
    /// ```
    async fn describe(&self, instance_id: &str) -> Result<Option<InstanceFacts>, DirectoryError>;
}

/// [`InstanceDirectory`] on EC2's `DescribeInstances`.
///
/// Deployed, `Ec2Directory(aws_sdk_ec2::Client::new(&config))`; here with a mocked client, to
/// show which of EC2's facts it reads:
///
/// ```
/// use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
/// use aws_sdk_ec2::types::{Instance, Reservation, Tag};
/// use aws_smithy_mocks::{mock, mock_client};
/// use lifecycle_aws::instances::{Ec2Directory, InstanceDirectory};
/// let instance = Instance::builder()
///     .instance_id("i-1")
///     .private_ip_address("10.0.3.7")
///     .tags(Tag::builder().key("aws:autoscaling:groupName").value("workers").build())
///     .build();
/// let describe = mock!(aws_sdk_ec2::Client::describe_instances)
///     .match_requests(|r| r.instance_ids() == ["i-1"])
///     .then_output(move || DescribeInstancesOutput::builder()
///         .reservations(Reservation::builder().instances(instance.clone()).build())
///         .build());
/// let directory = Ec2Directory(mock_client!(aws_sdk_ec2, [&describe]));
/// let facts = lifecycle_aws::testing::block_on(directory.describe("i-1")).unwrap().unwrap();
/// assert_eq!(facts.private_ip.as_deref(), Some("10.0.3.7"));
/// assert_eq!(facts.group.as_deref(), Some("workers"));
/// ```
#[cfg(feature = "ec2")]
#[derive(Debug, Clone)]
pub struct Ec2Directory(pub aws_sdk_ec2::Client);

#[cfg(feature = "ec2")]
#[async_trait::async_trait]
impl InstanceDirectory for Ec2Directory {
    async fn describe(&self, instance_id: &str) -> Result<Option<InstanceFacts>, DirectoryError> {
        use aws_sdk_ec2::error::ProvideErrorMetadata;
        let output = match self
            .0
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.code() == Some("InvalidInstanceID.NotFound") => return Ok(None),
            Err(e) => {
                return Err(DirectoryError {
                    instance: instance_id.to_owned(),
                    message: format!(
                        "DescribeInstances failed: {}",
                        e.code().or(e.message()).unwrap_or("no answer")
                    ),
                });
            }
        };
        let instance = output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance_id));
        Ok(instance.map(|i| InstanceFacts {
            private_ip: i.private_ip_address().map(str::to_owned),
            group: i
                .tags()
                .iter()
                .find(|t| t.key() == Some("aws:autoscaling:groupName"))
                .and_then(|t| t.value())
                .map(str::to_owned),
        }))
    }
}

/// Instances known in memory: for local runs and tests.
///
/// ```
/// use lifecycle_aws::instances::{InstanceDirectory, InstanceFacts, MemoryInstances};
/// tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let known = MemoryInstances::default();
/// known.add("i-1", InstanceFacts { private_ip: Some("10.0.0.7".into()), group: None });
/// assert_eq!(known.describe("i-1").await.unwrap().unwrap().private_ip.as_deref(), Some("10.0.0.7"));
/// assert_eq!(known.describe("i-2").await.unwrap(), None);
/// });
/// ```
#[derive(Debug, Default)]
pub struct MemoryInstances(Mutex<HashMap<String, InstanceFacts>>);

impl MemoryInstances {
    /// Makes `instance_id` known.
    pub fn add(&self, instance_id: &str, facts: InstanceFacts) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(instance_id.to_owned(), facts);
    }
}

#[async_trait::async_trait]
impl InstanceDirectory for MemoryInstances {
    async fn describe(&self, instance_id: &str) -> Result<Option<InstanceFacts>, DirectoryError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(instance_id)
            .cloned())
    }
}
