//! A new version of a model while records are in flight: version 2 renames a state
//! (`renamed(joining = JoiningCluster)`) and retires another (`retired(labeling => Failure)`).
//! 1,000 records left by version 1, in every one of its states, each get the event that comes
//! next for them, handled by version 2: none is refused for its state's name, none is stuck,
//! each ends where version 2 takes it, stored under version 2's names.

use lifecycle_core::testing::{Harness, block_on, command_result, launching, terminating};
use lifecycle_core::{
    CommandRequest, CommandStatus, Context, EffectError, LifecycleModel, LifecycleTransition,
    Record, State, lifecycle_model,
};

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct NodeError(#[from] EffectError);

/// Version 2. (Version 1 had `Joining` and `Labeling`, stored as `joining` and `labeling`.)
pub struct Node;

#[lifecycle_model(
    states(FinishedCloudInit, JoiningCluster, Ready, Leaving, Gone, Failure, Abandoned),
    initial = FinishedCloudInit,
    terminal(Gone, Abandoned),
    failure = Failure,
    renamed(joining = JoiningCluster),
    retired(labeling => Failure),
    error = NodeError,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = JoiningCluster, on(launching), wait)]
    async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        let id = ctx.record().ident.clone();
        ctx.send_command(CommandRequest::new("ClusterJoin", [id]))
            .await?;
        Ok(())
    }

    #[transition(from = JoiningCluster, to = Ready, on(command))]
    async fn joined(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }

    #[transition(from = Ready, to = Leaving, on(terminating), wait)]
    async fn leave(&mut self, ctx: &mut Context<'_>) -> Result<(), NodeError> {
        let id = ctx.record().ident.clone();
        ctx.send_command(CommandRequest::new("ClusterLeave", [id]))
            .await?;
        Ok(())
    }

    #[transition(from = Leaving, to = Gone, on(command), ignore_errors)]
    async fn left(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }

    #[transition(from = Failure, to = Abandoned, ignore_errors)]
    async fn abandon(&mut self, _ctx: &mut Context<'_>) -> Result<(), NodeError> {
        Ok(())
    }
}

/// Version 1's states, as its records store them, the event each record gets next, and where
/// version 2 leaves it.
const IN_FLIGHT: [(&str, &str, &str); 8] = [
    ("finished_cloud_init", "launching", "joining_cluster"),
    ("joining", "join result", "ready"),
    ("labeling", "any event", "abandoned"),
    ("ready", "terminating", "leaving"),
    ("leaving", "leave result", "gone"),
    ("gone", "terminating", "gone"),
    ("failure", "any event", "abandoned"),
    ("abandoned", "terminating", "abandoned"),
];

#[test]
fn records_of_every_earlier_state_go_on_under_the_new_version() {
    block_on(async {
        let mut harness = Harness::new(Node);
        let mut records = Vec::new();
        for i in 0..1000 {
            let (stored, event, expected) = IN_FLIGHT[i % IN_FLIGHT.len()];
            let ident = format!("i-{i:017x}");
            // Written by version 1 (no version of this library's bookkeeping: any command
            // result is taken, as for the original library's records).
            harness.insert(Record::new(&ident, stored));
            records.push((ident, stored, event, expected));
        }
        for (ident, stored, event, _) in &records {
            let event = match *event {
                "launching" => launching(ident),
                "terminating" => terminating(ident),
                "join result" | "any event" => command_result(
                    ident,
                    "c-v1",
                    CommandStatus::Success,
                    LifecycleTransition::Launching,
                ),
                _ => command_result(
                    ident,
                    "c-v1",
                    CommandStatus::Success,
                    LifecycleTransition::Terminating,
                ),
            };
            let report = harness
                .deliver(&event)
                .await
                .unwrap_or_else(|e| panic!("{ident} in `{stored}`: {e}"));
            // Every transition taken is one of version 2's.
            for fired in &report.fired {
                assert!(
                    Node::DEFINITION
                        .transitions
                        .iter()
                        .any(|t| t.trigger == fired.trigger
                            && t.sources.contains(&fired.from)
                            && t.dest.unwrap_or(fired.from) == fired.to),
                    "{ident}: {fired:?}"
                );
            }
        }
        let names: Vec<&str> = NodeState::ALL.iter().map(|s| s.name()).collect();
        for (ident, stored, _, expected) in &records {
            let record = harness.record(ident).unwrap();
            assert_eq!(
                record.state, *expected,
                "{ident}, stored `{stored}` by version 1"
            );
            assert!(
                names.contains(&record.state.as_str()),
                "{ident}: `{}`",
                record.state
            );
        }
    });
}

#[test]
fn a_name_neither_version_knows_is_a_typed_error_that_writes_nothing() {
    block_on(async {
        let mut harness = Harness::new(Node);
        harness.insert(Record::new("i-1", "labelling"));
        let error = harness.deliver(&launching("i-1")).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "`labelling` is not a state of model Node"
        );
        assert_eq!(harness.record("i-1").unwrap().state, "labelling");
    });
}
