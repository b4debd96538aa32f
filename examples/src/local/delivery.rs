//! Events on the simulated clock: what is delivered when, and how it reaches the runtime.

use std::time::Duration;

use lifecycle_aws::runtime::{Outcome, Runtime};
use lifecycle_aws::store::NodeTable;
use lifecycle_core::{LifecycleTransition, Location};
use serde_json::Value;

use super::{SimulationError, Step};

/// An event to deliver at a simulated time, and its label in the timeline.
pub(super) struct Delivery {
    pub(super) at: u64,
    pub(super) instance: String,
    pub(super) label: String,
    pub(super) payload: Value,
    /// A lifecycle action Auto Scaling opens at `at`: the payload is its event.
    pub(super) opens: Option<Opens>,
}

/// What Auto Scaling does to an instance that opens a lifecycle action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opens {
    Launch,
    LaunchIntoWarmPool,
    LaunchFromWarmPool,
    Terminate,
}

/// How often the template's `lifecycle-sweep` rule runs.
pub(super) const SWEEP_PERIOD: u64 = 300;

impl Delivery {
    /// A timeline row of this delivery.
    pub(super) fn row(&self, from: &str, to: &str, what: String) -> Step {
        Step {
            at: Duration::from_secs(self.at),
            instance: self.instance.clone(),
            event: self.label.clone(),
            from: from.to_owned(),
            to: to.to_owned(),
            what,
        }
    }
}

/// Hands `delivery` to the runtime as the Lambda would (its JSON text), at its simulated time.
pub(super) async fn deliver<M, F, T>(
    runtime: &Runtime<M, F, T>,
    clock: &SimulatedClock,
    delivery: &Delivery,
) -> Result<Vec<Outcome>, SimulationError>
where
    M: lifecycle_core::LifecycleModel,
    F: Fn() -> M + Send + Sync,
    T: NodeTable,
{
    clock
        .0
        .store(delivery.at, std::sync::atomic::Ordering::Relaxed);
    let answer = runtime
        .handle_bytes(delivery.payload.to_string().as_bytes())
        .await
        .map_err(|e| SimulationError::Handle {
            event: format!("{} for {}", delivery.label, delivery.instance),
            message: e.to_string(),
        })?;
    Ok(answer.outcomes)
}

/// Deliveries in simulated-time order (first come, first served at the same second).
#[derive(Default)]
pub(super) struct Queue {
    pending: Vec<(u64, usize, Delivery)>,
    pushed: usize,
}

impl Queue {
    pub(super) fn push(&mut self, delivery: Delivery) {
        self.pushed += 1;
        self.pending.push((delivery.at, self.pushed, delivery));
    }

    pub(super) fn pop(&mut self) -> Option<Delivery> {
        let next =
            (0..self.pending.len()).min_by_key(|&i| (self.pending[i].0, self.pending[i].1))?;
        Some(self.pending.swap_remove(next).2)
    }
}

/// The runtime's clock: simulated seconds after 2026-11-25T10:00:00Z.
#[derive(Debug, Default)]
pub(super) struct SimulatedClock(pub(super) std::sync::atomic::AtomicU64);

const SIMULATION_START: u64 = 1_795_600_800;

impl lifecycle_aws::runtime::Clock for SimulatedClock {
    fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH
            + Duration::from_secs(
                SIMULATION_START + self.0.load(std::sync::atomic::Ordering::Relaxed),
            )
    }
}

/// A launch of a warm-pool instance: into the pool (`to` = `WarmPool`) or from it into the
/// group. Auto Scaling opens the action when its time comes, and sends its event.
pub(super) fn routed_event(instance: &str, to: Location, at: u64) -> Delivery {
    let (opens, label) = match to {
        Location::WarmPool => (Opens::LaunchIntoWarmPool, "launching into warm pool"),
        _ => (Opens::LaunchFromWarmPool, "launching from warm pool"),
    };
    Delivery {
        at,
        instance: instance.to_owned(),
        label: label.to_owned(),
        payload: Value::Null,
        opens: Some(opens),
    }
}

/// A lifecycle action of the simulated group: Auto Scaling opens it when its time comes, and
/// sends its event (as EventBridge delivers it).
pub(super) fn lifecycle_event(
    instance: &str,
    transition: LifecycleTransition,
    at: u64,
) -> Delivery {
    let (opens, label) = match transition {
        LifecycleTransition::Launching => (Opens::Launch, "launching"),
        LifecycleTransition::Terminating => (Opens::Terminate, "terminating"),
    };
    Delivery {
        at,
        instance: instance.to_owned(),
        label: label.to_owned(),
        payload: Value::Null,
        opens: Some(opens),
    }
}
