//! The work of the original library's `test_docker_transitions_for_new_node`, as one fresh
//! process: the SNS-wrapped fixture event (read once) through the
//! Lambda's code path (`Runtime::handle_bytes`) on an in-memory node table holding the
//! original's node fixture; the docker-swarm model runs 13 states with 5 task errors and
//! completes the launch ABANDON. Prints the answer. `scripts/bench-original` times it.

use std::sync::Arc;

use lifecycle_aws::runtime::Runtime;
use lifecycle_aws::store::MemoryTable;
use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
use lifecycle_tests::original::{DockerSwarm, FIXTURE_INSTANCE, fixture_node, seed_fixture};

fn main() {
    let event = seed_fixture("autoscaling_event.json");
    let table = MemoryTable::new();
    table.records().insert(fixture_node(FIXTURE_INSTANCE));
    let actions = Arc::new(MemoryActions::new());
    let runtime = Runtime::with_parts(
        table,
        Arc::new(MemoryCommands::new()),
        actions.clone(),
        DockerSwarm::default,
    );
    let answer = lifecycle_core::testing::block_on(runtime.handle_bytes(&event))
        .expect("the launch is handled")
        .into_value();
    assert_eq!(answer["outcomes"][0]["end"], "gracefully_rebalancing");
    assert_eq!(actions.completions().len(), 1, "one completion, ABANDON");
    println!("{answer}");
}
