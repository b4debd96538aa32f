//! A record's stored history: written with each state change, bounded, made of names and ids,
//! and what it costs the item (bytes, write units) over the 13-transition launch.

use std::sync::Mutex;

use lifecycle_aws::store::MemoryTable;
use lifecycle_aws::store::{record_size, write_units};
use lifecycle_core::{
    AttributeUpdate, CasOutcome, HISTORY_LEN, MemoryEffects, MemoryStore, Record, StateChange,
    Store, attr, dispatch,
};
use lifecycle_examples::local::{Scenario, simulate};
use lifecycle_tests::{Launch, block_on, launching};

/// A store that notes the item's size after every write applied.
#[derive(Default)]
struct Measured {
    inner: MemoryStore,
    sizes: Mutex<Vec<(usize, usize)>>,
}

impl Measured {
    fn note(&self, ident: &str) {
        let record = self.inner.get(ident).unwrap();
        let mut bare = record.clone();
        bare.attributes.remove(attr::HISTORY);
        self.sizes
            .lock()
            .unwrap()
            .push((record_size(&record), record_size(&bare)));
    }
}

impl Store for Measured {
    type Error = std::convert::Infallible;

    async fn load(&self, ident: &str) -> Result<Option<Record>, Self::Error> {
        self.inner.load(ident).await
    }

    async fn compare_and_set(&self, change: StateChange<'_>) -> Result<CasOutcome, Self::Error> {
        let outcome = self.inner.compare_and_set(change).await?;
        self.note(change.ident);
        Ok(outcome)
    }

    async fn update_attributes(
        &self,
        update: AttributeUpdate<'_>,
    ) -> Result<CasOutcome, Self::Error> {
        self.inner.update_attributes(update).await
    }
}

/// An EventBridge event id, as long as AWS's.
const EVENT_ID: &str = "3b1c5c2e-1e0b-4b8b-9a55-1f4d6e0c9a11";

fn launch_13(store: &Measured) -> Record {
    launch_13_from(
        store,
        Record::new("i-0abc123def4567890", "finished_cloud_init")
            .with("ItemType", "worker")
            .with("InstanceIp", "10.0.1.7")
            .with("WorkerToken", "SWMTKN-1-history-secret"),
    )
}

/// The 13-transition launch of `record` (`i-0abc123def4567890`), stored first.
fn launch_13_from(store: &Measured, record: Record) -> Record {
    store.inner.insert(record);
    let mut event = launching("i-0abc123def4567890");
    event.id = EVENT_ID.into();
    let mut record = store.inner.get("i-0abc123def4567890").unwrap();
    let report = block_on(dispatch(
        &mut Launch::default(),
        store,
        &mut record,
        &event,
        &MemoryEffects::new().at(1_795_564_800),
    ))
    .unwrap();
    assert_eq!(report.fired.len(), 13);
    store.inner.get("i-0abc123def4567890").unwrap()
}

#[test]
fn each_state_change_notes_its_step_and_the_oldest_go_past_the_bound() {
    let store = Measured::default();
    let record = launch_13(&store);
    let steps = record.history();
    assert_eq!(steps.len(), HISTORY_LEN, "13 steps, the newest 10 kept");
    // The first three (join_cluster, joined, label: the node is a worker) were dropped; the
    // new oldest step, stored as "same time and event as before", was written out in full.
    assert_eq!(steps[0].trigger, "labeled");
    let stored = record.get_str(attr::HISTORY).unwrap();
    let oldest = stored.lines().next().unwrap();
    assert!(
        oldest.starts_with("1795564800 labeling_node node_labeled labeled 3b1c5c2e"),
        "{oldest}"
    );
    assert_eq!(
        stored.lines().last(),
        Some("= completing_lifecycle ready ready = - -")
    );
    assert_eq!(
        (
            steps[9].from.as_str(),
            steps[9].to.as_str(),
            steps[9].trigger.as_str()
        ),
        ("completing_lifecycle", "ready", "ready")
    );
    for pair in steps.windows(2) {
        assert_eq!(pair[0].to, pair[1].from, "the steps chain: {pair:?}");
    }
    assert!(
        steps
            .iter()
            .all(|s| s.at == Some(1_795_564_800) && s.event_id == EVENT_ID)
    );
    // Names and ids only: no attribute's value.
    assert!(
        !stored.contains("SWMTKN") && !stored.contains("10.0.1.7"),
        "{stored}"
    );
}

/// What the history costs the item over the 13-transition launch: printed for BENCHMARKS.md
/// (`cargo test --workspace --test history -- --nocapture`), bounded here.
#[test]
fn the_history_costs_the_item_a_bounded_size() {
    let store = Measured::default();
    launch_13(&store);
    let sizes = store.sizes.lock().unwrap().clone();
    assert_eq!(sizes.len(), 13, "one write per transition");
    println!("write  item bytes  without history  write units (without)");
    for (n, (size, bare)) in sizes.iter().enumerate() {
        println!(
            "{:>5}  {size:>10}  {bare:>15}  {} ({})",
            n + 1,
            write_units(*size),
            write_units(*bare)
        );
    }
    let growth: Vec<usize> = sizes.iter().map(|(size, bare)| size - bare).collect();
    // The first step of the delivery carries its time and event; the next ones say `=`.
    assert!(
        growth.windows(2).take(HISTORY_LEN - 1).all(|w| w[1] > w[0]),
        "{growth:?}"
    );
    let most = *growth.iter().max().unwrap();
    assert!(
        most <= 150 + HISTORY_LEN * 60,
        "history of {most} bytes: {growth:?}"
    );
    // Past the bound the item stops growing.
    assert!(
        growth[HISTORY_LEN..].iter().all(|g| *g <= most),
        "{growth:?}"
    );
    // One write unit for every write of this launch, as without the history.
    assert!(
        sizes.iter().all(|(size, _)| write_units(*size) == 1),
        "{sizes:?}"
    );
}

#[test]
fn the_simulation_keeps_the_failed_join_in_the_abandoned_node_s_story() {
    let report = block_on(simulate(&Scenario::default(), MemoryTable::new())).unwrap();
    let abandoned = &report.nodes[2];
    assert_eq!(abandoned.state, "abandoned");
    let failure = abandoned
        .history
        .iter()
        .find(|s| s.to == "failure")
        .expect("the failure step is stored");
    assert_eq!(failure.from, "joining_cluster");
    assert_eq!(failure.result.as_deref(), Some("Failed"));
    let join = &abandoned.history[0];
    assert_eq!(join.trigger, "join_cluster");
    assert_eq!(
        failure.command, join.command,
        "the failed result is the join's command"
    );
    assert_eq!(abandoned.history.last().unwrap().to, "abandoned");
}

/// A stored history no step of ours could have written (an item edited by hand, or forged by
/// whoever can write the table) does not make the record grow towards DynamoDB's item limit,
/// where every write of the record would be refused: the launch's writes bound it.
#[test]
fn a_history_no_step_wrote_is_bounded_by_the_next_writes() {
    let long: Vec<String> = (0..1000).map(|n| format!("{n} a b go e-{n} - -")).collect();
    for stored in [long.join("\n"), "x".repeat(500_000)] {
        let store = Measured::default();
        let record = launch_13_from(
            &store,
            Record::new("i-0abc123def4567890", "finished_cloud_init")
                .with("ItemType", "worker")
                .with(attr::HISTORY, stored),
        );
        assert_eq!(record.history().len(), HISTORY_LEN);
        assert_eq!(
            record.get_str(attr::HISTORY).unwrap().lines().count(),
            HISTORY_LEN
        );
        let sizes = store.sizes.lock().unwrap().clone();
        assert!(
            sizes.iter().all(|(size, _)| write_units(*size) == 1),
            "{sizes:?}"
        );
    }
}
