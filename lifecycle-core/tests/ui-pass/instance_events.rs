// A model for a group with a warm pool and Spot instances: an instance launched into the pool
// is prepared only; launched from the pool, it joins; a Spot interruption, a state change and
// a scheduled maintenance reach it as events of their own.
use lifecycle_core::testing::{Harness, action, block_on};
use lifecycle_core::{Context, Event, EventKind, LifecycleResult, LifecycleTransition, Location, StopReason, lifecycle_model};

pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, Warmed, Ready, Draining, Gone, Failed),
    initial = FinishedCloudInit,
    terminal(Gone, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Warmed, on(launching(to = warm_pool)))]
    async fn prepare(&mut self, ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        ctx.set("Prepared", true);
        Ok(())
    }

    #[transition(from(FinishedCloudInit, Warmed), to = Ready, on(launching(to = auto_scaling_group)))]
    async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        ctx.set("JoinedFrom", ctx.state().to_owned());
        Ok(())
    }

    #[transition(from = Ready, to = Draining, on(spot_interruption, rebalance, maintenance))]
    async fn drain(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }

    #[transition(from(Warmed, Ready, Draining), to = Gone, on(terminating, instance_state = "terminated"))]
    async fn leave(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

fn launch(instance: &str, from: Location, to: Location) -> Event {
    let mut action = action(instance, LifecycleTransition::Launching);
    action.origin = Some(from);
    action.destination = Some(to);
    action.lifecycle_action_token = Some(format!("{instance}-{from:?}-{to:?}"));
    Event::lifecycle(format!("launch-{instance}-{to:?}"), action)
}

fn main() {
    block_on(async {
        let mut harness = Harness::new(Node).with_instance("i-1", NodeState::FinishedCloudInit);
        // Into the warm pool: prepared, not joined; the action completes so the pool stops it.
        let report = harness.deliver(&launch("i-1", Location::Ec2, Location::WarmPool)).await.unwrap();
        assert_eq!(report.end, NodeState::Warmed);
        assert_eq!(report.lifecycle_result, Some(LifecycleResult::Continue));
        // From the pool into the group: a launch for an instance past its initial state,
        // admitted because it comes from the pool; it joins now.
        let report = harness.deliver(&launch("i-1", Location::WarmPool, Location::AutoScalingGroup)).await.unwrap();
        assert_eq!(report.end, NodeState::Ready);
        assert_eq!(harness.record("i-1").unwrap().get_str("JoinedFrom"), Some("warmed"));
        assert_eq!(harness.completions().len(), 2);
        // The same launch from the pool once more (a stray duplicate of another token): nothing
        // reacts in `ready`, and it is let go rather than left to time out.
        let mut again = launch("i-1", Location::WarmPool, Location::AutoScalingGroup);
        again.lifecycle.as_mut().unwrap().lifecycle_action_token = Some("other".into());
        again.id = "launch-again".into();
        let report = harness.deliver(&again).await.unwrap();
        assert_eq!((report.stop, report.lifecycle_result), (StopReason::Settled, Some(LifecycleResult::Continue)));

        // A Spot interruption drains; the state change to `terminated` ends the record.
        let spot = Event::instance("e-spot", "i-1", EventKind::SpotInterruption { action: "terminate".into() });
        assert_eq!(harness.deliver(&spot).await.unwrap().end, NodeState::Draining);
        let gone = Event::instance("e-gone", "i-1", EventKind::InstanceState { state: "terminated".into() });
        assert_eq!(harness.deliver(&gone).await.unwrap().end, NodeState::Gone);

        // A launch straight into the group joins from the initial state; a plain launch event
        // (no Origin/Destination, as before warm pools) is one into the group.
        let mut harness = Harness::new(Node).with_instance("i-2", NodeState::FinishedCloudInit);
        assert_eq!(harness.launch("i-2").await.unwrap().end, NodeState::Ready);
        // A scheduled maintenance drains too.
        let retire = Event::instance("e-h", "i-2", EventKind::Maintenance {
            event_type: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED".into(),
            starts: None,
        });
        assert_eq!(harness.deliver(&retire).await.unwrap().end, NodeState::Draining);
    });
}
