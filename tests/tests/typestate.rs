//! The typestate API and the `Send`-ness of everything the dispatcher runs.

use lifecycle_core::{
    Context, Event, MemoryEffects, MemoryStore, Record, Start, State, TypedState, Typestate,
    WrongState, dispatch,
};
use lifecycle_examples::cluster::{
    ClusterNode, ClusterNodeHandle, ClusterNodeState, MemoryDns, cluster_node_state,
};
use lifecycle_tests::{block_on, command_result, launching};

#[test]
fn a_handle_walks_the_declared_transitions_and_tracks_the_state_in_its_type() {
    let dns = MemoryDns::default();
    let mut node = ClusterNode::new(dns.clone());
    let effects = MemoryEffects::new();
    let event = launching("i-1");
    let mut record = Record::new("i-1", "finished_cloud_init")
        .with("ItemType", "manager")
        .with("InstanceIp", "10.0.0.9");
    let mut ctx = Context::new(&event, &mut record, &effects);
    block_on(async {
        let handle = ClusterNodeHandle::new(&mut node);
        assert_eq!(handle.state(), ClusterNodeState::FinishedCloudInit);
        let joining = handle.join_cluster(&mut ctx).await.unwrap();
        let joined = joining.cluster_joined(&mut ctx).await.unwrap();
        let labeled = joined.skip_labels(&mut ctx).await.unwrap();
        let published = labeled.update_dns(&mut ctx).await.unwrap();
        let ready: ClusterNodeHandle<'_, cluster_node_state::Ready> =
            published.mark_ready(&mut ctx).await.unwrap();
        assert_eq!(ready.state(), ClusterNodeState::Ready);
    });
    assert_eq!(record.state, "ready");
    assert_eq!(dns.addresses("manager.cluster.internal"), ["10.0.0.9"]);
    assert_eq!(effects.commands().len(), 1);
}

#[test]
fn a_handle_resumes_only_in_the_state_its_type_stands_for() {
    let mut node = ClusterNode::default();
    let handle =
        ClusterNodeHandle::<cluster_node_state::Ready>::resume(&mut node, ClusterNodeState::Ready);
    assert!(handle.is_ok());
    let wrong = ClusterNodeHandle::<cluster_node_state::Ready>::resume(
        &mut node,
        ClusterNodeState::Failure,
    );
    assert_eq!(
        wrong.err(),
        Some(WrongState {
            expected: "ready",
            actual: "failure".into(),
        })
    );
    assert_eq!(
        <cluster_node_state::LeavingCluster as TypedState>::STATE,
        ClusterNodeState::LeavingCluster
    );
}

#[test]
fn state_names_round_trip_through_strings_and_serde() {
    for &state in ClusterNodeState::ALL {
        assert_eq!(state.name().parse::<ClusterNodeState>(), Ok(state));
        assert_eq!(state.to_string(), state.name());
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(json, format!("\"{}\"", state.name()));
        assert_eq!(
            serde_json::from_str::<ClusterNodeState>(&json).unwrap(),
            state
        );
    }
    assert_eq!(
        ClusterNodeState::FinishedCloudInit.name(),
        "finished_cloud_init"
    );
    assert_eq!(ClusterNodeState::DnsUpdated.name(), "dns_updated");
    let err = "finishedCloudInit".parse::<ClusterNodeState>().unwrap_err();
    assert_eq!(err.value, "finishedCloudInit");
    assert!(serde_json::from_str::<ClusterNodeState>("\"nope\"").is_err());
}

#[test]
fn the_dispatcher_runs_inside_tokio_spawn() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let end = runtime.block_on(async {
        let store = std::sync::Arc::new(MemoryStore::new());
        store.insert(
            Record::new("i-1", "joining_cluster")
                .with("ItemType", "worker")
                .with("InstanceIp", "10.0.0.1"),
        );
        let spawned_store = store.clone();
        tokio::spawn(async move {
            let mut node = ClusterNode::default();
            let effects = MemoryEffects::new();
            let mut record = spawned_store.get("i-1").unwrap();
            let event: Event = command_result(
                "i-1",
                "cmd-1",
                lifecycle_core::CommandStatus::Success,
                lifecycle_core::LifecycleTransition::Launching,
            );
            dispatch(&mut node, &*spawned_store, &mut record, &event, &effects)
                .await
                .unwrap()
                .end
        })
        .await
        .unwrap()
    });
    assert_eq!(end, ClusterNodeState::Ready);
}
