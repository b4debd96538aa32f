//! A cluster node, in the spirit of the original library's docker-swarm use.
//!
//! Launch: once cloud-init has registered the node and marked it `finished_cloud_init`, join
//! the cluster with an SSM command and wait for its result; label workers (managers skip
//! this); add the node to DNS; ready. Terminate: take it out of DNS, leave the cluster with an
//! SSM command and wait; deregister. A failure on the way cleans up (out of DNS) and ends in
//! `abandoned`, which completes a launch with ABANDON.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use lifecycle_core::{CommandRequest, Context, EffectError, lifecycle_model};

/// What can go wrong in a cluster node's tasks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// A command could not be sent.
    #[error(transparent)]
    Effect(#[from] EffectError),
    /// The record lacks something cloud-init should have written.
    #[error("the node record has no `{0}`")]
    MissingAttribute(&'static str),
    /// The DNS update failed.
    #[error("DNS update failed: {0}")]
    Dns(String),
    /// The node's Auto Scaling group is neither the managers' nor the workers'.
    #[error("the node's group {0:?} is neither the managers' nor the workers'")]
    UnknownGroup(Option<String>),
}

/// The cluster's Auto Scaling groups: a node's role is its group's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterGroups {
    /// The managers' group.
    pub managers: String,
    /// The workers' group.
    pub workers: String,
}

/// Where nodes are published: DNS names with one address per node.
#[async_trait::async_trait]
pub trait DnsRegistry: Send + Sync + std::fmt::Debug {
    /// Publishes `address` under `name` for `instance`.
    async fn publish(&self, name: &str, instance: &str, address: &str) -> Result<(), ClusterError>;
    /// Takes `instance`'s `address` out of `name`.
    async fn withdraw(&self, name: &str, instance: &str, address: &str)
    -> Result<(), ClusterError>;
}

/// DNS in memory, for local runs and tests.
#[derive(Debug, Default, Clone)]
pub struct MemoryDns {
    records: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>,
    fail: Arc<Mutex<bool>>,
}

impl MemoryDns {
    /// The addresses behind `name`.
    pub fn addresses(&self, name: &str) -> Vec<String> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records
            .get(name)
            .map(|a| a.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Makes every following update fail (to exercise the failure path).
    pub fn fail_updates(&self, fail: bool) {
        *self.fail.lock().unwrap_or_else(|e| e.into_inner()) = fail;
    }

    fn update(&self, name: &str, address: &str, add: bool) -> Result<(), ClusterError> {
        if *self.fail.lock().unwrap_or_else(|e| e.into_inner()) {
            return Err(ClusterError::Dns(format!("{name}: service unavailable")));
        }
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let entry = records.entry(name.to_owned()).or_default();
        if add {
            entry.insert(address.to_owned());
        } else {
            entry.remove(address);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl DnsRegistry for MemoryDns {
    async fn publish(
        &self,
        name: &str,
        _instance: &str,
        address: &str,
    ) -> Result<(), ClusterError> {
        self.update(name, address, true)
    }

    async fn withdraw(
        &self,
        name: &str,
        _instance: &str,
        address: &str,
    ) -> Result<(), ClusterError> {
        self.update(name, address, false)
    }
}

/// A cluster node's lifecycle.
#[derive(Debug, Clone)]
pub struct ClusterNode {
    /// Where DNS updates go.
    pub dns: Arc<dyn DnsRegistry>,
    /// The DNS name managers are published under.
    pub manager_dns_name: String,
    /// The DNS name workers are published under.
    pub worker_dns_name: String,
    /// The groups that say a node's role (the Lambda sets them). `None` in local runs: the
    /// record's `ItemType` says, as the original library's cloud-init wrote it.
    pub groups: Option<ClusterGroups>,
}

impl Default for ClusterNode {
    fn default() -> Self {
        ClusterNode::new(MemoryDns::default())
    }
}

impl ClusterNode {
    /// A node publishing managers and workers under `manager.cluster.internal` and
    /// `worker.cluster.internal` in `dns`.
    pub fn new(dns: impl DnsRegistry + 'static) -> Self {
        ClusterNode {
            dns: Arc::new(dns),
            manager_dns_name: "manager.cluster.internal".into(),
            worker_dns_name: "worker.cluster.internal".into(),
            groups: None,
        }
    }
}

#[lifecycle_model(
    states(
        New, Pending, FinishedCloudInit, Warmed, JoiningCluster, JoinedCluster, Labeled,
        DnsUpdated, Ready, RemovedFromDns, LeavingCluster, LeftCluster, Terminated, Failure,
        CleanedUp, Abandoned,
    ),
    before_initial(New, Pending),
    initial = FinishedCloudInit,
    terminal(Terminated, Abandoned),
    failure = Failure,
    error = ClusterError,
)]
impl ClusterNode {
    /// Launched into the warm pool: cloud-init has prepared it, and the pool stops it now. It
    /// joins nothing: it joins when it launches from the pool into the group.
    #[transition(from = FinishedCloudInit, to = Warmed, on(launching(to = warm_pool)))]
    async fn warm_up(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        ctx.set("WarmedBy", ctx.event().id.clone());
        Ok(())
    }

    /// Sends the join command; its result resumes the lifecycle. A new instance, or one
    /// coming out of the warm pool.
    #[transition(
        from(FinishedCloudInit, Warmed),
        to = JoiningCluster,
        on(launching(to = auto_scaling_group)),
        wait
    )]
    async fn join_cluster(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        let role = self.role(ctx)?;
        let command = ctx
            .send_command(
                CommandRequest::new("ClusterJoin", [ctx.record().ident.clone()])
                    .parameter("Role", [role])
                    .comment("join cluster"),
            )
            .await?;
        ctx.set("JoinCommandId", command);
        // Events without a lifecycle action (a Spot warning, a state change) name no group:
        // the role is read from the record then. Auto Scaling's word, kept for them (a record
        // the original library wrote has no group of its own).
        if let Some(action) = ctx.lifecycle() {
            let group = action.auto_scaling_group_name.clone();
            ctx.set("AutoScalingGroupName", group);
        }
        Ok(())
    }

    #[transition(from = JoiningCluster, to = JoinedCluster, on(command))]
    async fn cluster_joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        Ok(())
    }

    #[transition(from = JoinedCluster, to = Labeled, when(is_worker))]
    async fn label_worker(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        ctx.send_command(
            CommandRequest::new("ClusterLabelNode", [ctx.record().ident.clone()])
                .parameter("Labels", ["role=worker"]),
        )
        .await?;
        Ok(())
    }

    #[transition(from = JoinedCluster, to = Labeled, unless(is_worker))]
    async fn skip_labels(&mut self, _ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        Ok(())
    }

    #[transition(from = Labeled, to = DnsUpdated)]
    async fn update_dns(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        let (name, ip) = self.dns_entry(ctx)?;
        self.dns.publish(&name, &ctx.record().ident, &ip).await
    }

    #[transition(from = DnsUpdated, to = Ready)]
    async fn mark_ready(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        ctx.set("ReadyEvent", ctx.event().id.clone());
        Ok(())
    }

    /// The drain starts at the first sign of the end: the terminate lifecycle action, or a
    /// Spot interruption warning two minutes before it. A termination that comes while the
    /// drain runs waits for it (and finds it done: no second drain).
    #[transition(from = Ready, to = RemovedFromDns, on(terminating, spot_interruption))]
    async fn remove_from_dns(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        let (name, ip) = self.dns_entry(ctx)?;
        self.dns.withdraw(&name, &ctx.record().ident, &ip).await
    }

    #[transition(from = RemovedFromDns, to = LeavingCluster, wait)]
    async fn leave_cluster(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        let command = ctx
            .send_command(
                CommandRequest::new("ClusterLeave", [ctx.record().ident.clone()])
                    .comment("leave cluster"),
            )
            .await?;
        ctx.set("LeaveCommandId", command);
        Ok(())
    }

    #[transition(from = LeavingCluster, to = LeftCluster, on(command))]
    async fn cluster_left(&mut self, _ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        Ok(())
    }

    /// The node is going away whatever the leave command said: the cluster drops it after its
    /// heartbeat timeout.
    #[transition(from = LeavingCluster, to = LeftCluster, on(command), ignore_errors)]
    async fn leave_failed(&mut self, _ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        Ok(())
    }

    /// An instance terminated in the warm pool never joined: nothing to undo.
    #[transition(from = Warmed, to = Terminated, on(terminating))]
    async fn discard_warmed(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        ctx.set("DeregisteredBy", ctx.event().id.clone());
        Ok(())
    }

    /// Terminated with no lifecycle action (by hand, outside the group): out of DNS at least.
    #[transition(from = Ready, to = Terminated, on(instance_state = "terminated"), ignore_errors)]
    async fn vanished(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        ctx.set("DeregisteredBy", ctx.event().id.clone());
        let (name, ip) = self.dns_entry(ctx)?;
        self.dns.withdraw(&name, &ctx.record().ident, &ip).await
    }

    #[transition(from = LeftCluster, to = Terminated)]
    async fn deregister(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        ctx.set("DeregisteredBy", ctx.event().id.clone());
        Ok(())
    }

    /// Best effort: a node that failed to launch must not stay in DNS.
    #[transition(from = Failure, to = CleanedUp, ignore_errors)]
    async fn clean_up(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        let (name, ip) = self.dns_entry(ctx)?;
        self.dns.withdraw(&name, &ctx.record().ident, &ip).await
    }

    #[transition(from = CleanedUp, to = Abandoned)]
    async fn abandon(&mut self, ctx: &mut Context<'_>) -> Result<(), ClusterError> {
        ctx.set("AbandonedBy", ctx.event().id.clone());
        Ok(())
    }

    fn is_worker(&self, ctx: &Context<'_>) -> bool {
        self.role(ctx).is_ok_and(|role| role == "worker")
    }

    /// `manager` or `worker`: by the node's Auto Scaling group (which the lifecycle action names,
    /// and which only Auto Scaling sets), never by an attribute an instance could write.
    fn role(&self, ctx: &Context<'_>) -> Result<String, ClusterError> {
        let Some(groups) = &self.groups else {
            return match ctx.record().item_type() {
                Some(role @ ("manager" | "worker")) => Ok(role.to_owned()),
                _ => Err(ClusterError::MissingAttribute("ItemType")),
            };
        };
        let group = ctx
            .lifecycle()
            .map(|action| action.auto_scaling_group_name.as_str())
            .or_else(|| ctx.record().get_str("AutoScalingGroupName"));
        match group {
            Some(g) if g == groups.managers => Ok("manager".to_owned()),
            Some(g) if g == groups.workers => Ok("worker".to_owned()),
            other => Err(ClusterError::UnknownGroup(other.map(str::to_owned))),
        }
    }

    fn dns_entry(&self, ctx: &Context<'_>) -> Result<(String, String), ClusterError> {
        let ip = ctx
            .record()
            .get_str("InstanceIp")
            .ok_or(ClusterError::MissingAttribute("InstanceIp"))?;
        let name = if self.is_worker(ctx) {
            &self.worker_dns_name
        } else {
            &self.manager_dns_name
        };
        Ok((name.clone(), ip.to_owned()))
    }
}
