//! The whole handling of an invocation, for the `handle_invocation` fuzz target and the test
//! that runs its seeds: `Runtime::handle_bytes` for the cluster example's model, on the
//! in-memory node table, with SSM recorded and Auto Scaling in memory (`MemoryAutoScaling`,
//! asked before every lifecycle event and by the sweep). No input — the payload, or the
//! table's items — may panic; bad input is refused with nothing written.
//!
//! Input: the payload alone (the table then holds a record in each of the model's usual
//! states), or a first line holding a JSON array of table items (`Ident`, `ItemStatus`,
//! `Version`, any attribute: a forged or corrupt table) followed by the payload. Each input is
//! handled, handled again (a redelivery), then swept.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lifecycle_aws::runtime::{Clock, HandleError, Runtime};
use lifecycle_aws::store::MemoryTable;
use lifecycle_aws::testing::{MemoryAutoScaling, MemoryCommands};
use lifecycle_core::Record;
use lifecycle_examples::cluster::{ClusterNode, MemoryDns};
use serde_json::Value;

/// A fixed time: the same input, the same run.
struct Fixed;

impl Clock for Fixed {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_600_800)
    }
}

const GROUP: &str = "cluster-nodes";

fn record_of(item: &Value) -> Option<Record> {
    let item = item.as_object()?;
    let mut record = Record::new(
        item.get("Ident")?.as_str()?,
        item.get("ItemStatus")?.as_str()?,
    );
    record.version = item.get("Version").and_then(Value::as_u64).unwrap_or(0);
    for (key, value) in item {
        if !matches!(key.as_str(), "Ident" | "ItemStatus" | "Version") {
            record.attributes.insert(key.clone(), value.clone());
        }
    }
    Some(record)
}

/// Handles `bytes` as described above; panics only if bad input wrote to the table.
pub fn handle_invocation(bytes: &[u8]) {
    let table = MemoryTable::new();
    let aws = Arc::new(MemoryAutoScaling::new().with_group(GROUP));
    let payload = match bytes.first() {
        Some(b'[') => {
            let (items, payload) = bytes
                .iter()
                .position(|b| *b == b'\n')
                .map_or((bytes, &[][..]), |at| (&bytes[..at], &bytes[at + 1..]));
            let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(items) else {
                return;
            };
            for record in items.iter().filter_map(record_of) {
                // Auto Scaling holds an action for each, so the event is not refused first.
                let _ = aws.launch(&record.ident, GROUP);
                table.records().insert(record);
            }
            payload
        }
        _ => {
            for (ident, state) in [
                ("i-0a1b2c3d4e5f60001", "finished_cloud_init"),
                ("i-0a1b2c3d4e5f60002", "pending"),
                ("i-0a1b2c3d4e5f60003", "ready"),
                ("i-0a1b2c3d4e5f60004", "leaving_cluster"),
            ] {
                let _ = aws.launch(ident, GROUP);
                table
                    .records()
                    .insert(Record::new(ident, state).with("ItemType", "worker"));
            }
            bytes
        }
    };
    let runtime = Runtime::with_parts(table, Arc::new(MemoryCommands::new()), aws.clone(), || {
        ClusterNode::new(MemoryDns::default())
    })
    .with_fleet(aws)
    .with_groups([GROUP])
    .with_clock(Arc::new(Fixed));
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        let before = runtime.store().records().snapshot();
        let first = runtime.handle_bytes(payload).await;
        if let Err(HandleError::Decode(_) | HandleError::NoActionToken { .. }) = first {
            assert_eq!(
                runtime.store().records().snapshot(),
                before,
                "bad input wrote"
            );
        }
        let _ = runtime.handle_bytes(payload).await;
        let _ = runtime.sweep().await;
    });
}
