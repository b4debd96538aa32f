//! The composable Lambda shape, alone in its own test binary: `tracing` caches each callsite's
//! interest for the whole process, computed against the subscriber of the first thread that
//! reaches it, so a sibling test running without a subscriber could switch the runtime's log
//! lines off for this test's thread-local one (seen once in CI: the captured log was empty).

mod common;

use common::node::*;

/// The composable Lambda shape: the user's own `service_fn` calls `lambda::invoke`, and the
/// runtime's logs go to the user's own subscriber (nothing global is installed).
#[test]
fn the_runtime_serves_a_users_own_service_fn_and_logs_to_the_users_subscriber() {
    use std::sync::{Arc, Mutex};

    use lambda_runtime::{LambdaEvent, Service, service_fn};
    use lifecycle_aws::lambda::{RawValue, invoke};
    use lifecycle_aws::runtime::Runtime;
    use lifecycle_aws::store::MemoryTable;
    use lifecycle_aws::testing::{MemoryActions, MemoryCommands};
    use lifecycle_core::Record;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let table = MemoryTable::new();
    table
        .records()
        .insert(Record::new("i-svc", "finished_cloud_init").with("ItemType", "worker"));
    let commands = Arc::new(MemoryCommands::new());
    let actions = Arc::new(MemoryActions::new());
    let runtime = Arc::new(Runtime::with_parts(
        table,
        commands.clone(),
        actions.clone(),
        || Node,
    ));
    let mut service =
        service_fn(move |event: LambdaEvent<Box<RawValue>>| invoke(runtime.clone(), event));
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(service.call(LambdaEvent::new(
            RawValue::from_string(launching("i-svc").to_string()).unwrap(),
            lambda_runtime::Context::default(),
        )))
        .unwrap();
    let answer = serde_json::to_value(&answer).unwrap();
    assert_eq!(answer["outcomes"][0]["end"], "joining", "{answer}");
    assert_eq!(commands.sent().len(), 1);
    let logs = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("i-svc") && logs.contains("join"),
        "the runtime logged to the user's subscriber: {logs}"
    );
}
