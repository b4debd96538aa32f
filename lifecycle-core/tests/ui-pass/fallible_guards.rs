// A guard may fail: `-> Result<bool, Error>`. An `Err` fails the trigger as a task error would
// (failure state, ABANDON), and under `ignore_errors` it is logged and the transition goes
// ahead, as the original library's conditions did.
use lifecycle_core::{
    Context, MemoryStore, Record, MemoryEffects, StopReason, dispatch, lifecycle_model,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(&'static str);

pub struct Node {
    lookup: Result<bool, Error>,
}

#[lifecycle_model(
    states(FinishedCloudInit, Checked, Ready, Failed, Given),
    initial = FinishedCloudInit,
    terminal(Ready, Given),
    failure = Failed,
    error = Error,
)]
impl Node {
    #[transition(from = FinishedCloudInit, to = Checked, when(manager_exists))]
    async fn check(&mut self, _ctx: &mut Context<'_>) -> Result<(), Error> {
        Ok(())
    }

    #[transition(from = FinishedCloudInit, to = Ready)]
    async fn skip(&mut self, _ctx: &mut Context<'_>) -> Result<(), Error> {
        Ok(())
    }

    #[transition(from = Checked, to = Ready, unless(drained), ignore_errors)]
    async fn finish(&mut self, _ctx: &mut Context<'_>) -> Result<(), Error> {
        Ok(())
    }

    #[transition(from = Failed, to = Given, ignore_errors)]
    async fn give_up(&mut self, _ctx: &mut Context<'_>) -> Result<(), Error> {
        Ok(())
    }

    async fn manager_exists(&self, _ctx: &Context<'_>) -> Result<bool, Error> {
        self.lookup.clone()
    }

    fn drained(&self) -> Result<bool, Error> {
        Err(Error("drain status unknown"))
    }
}

fn main() {
    lifecycle_core::testing::block_on(async {
        for (lookup, end) in [
            (Ok(true), NodeState::Ready),
            (Ok(false), NodeState::Ready),
            (Err(Error("no cluster")), NodeState::Given),
        ] {
            let failed = lookup.is_err();
            let store = MemoryStore::new();
            store.insert(Record::new("i-1", "finished_cloud_init"));
            let mut record = store.get("i-1").unwrap();
            let mut node = Node { lookup };
            let report = dispatch(
                &mut node,
                &store,
                &mut record,
                &lifecycle_core::testing::launching("i-1"),
                &MemoryEffects::new(),
            )
            .await
            .unwrap();
            assert_eq!(report.end, end);
            assert_eq!(report.stop, StopReason::Finished);
            assert_eq!(report.event_failed, failed);
            if failed {
                let failure = report.failure.unwrap();
                assert_eq!(failure.trigger, Some("check"));
                assert_eq!(failure.cause.to_string(), "task `manager_exists` failed: no cluster");
            } else if report.states.contains(&NodeState::Checked) {
                // `drained` failed under `ignore_errors`: logged, and `finish` went ahead.
                assert_eq!(report.ignored.len(), 1);
                assert_eq!(report.ignored[0].task, "drained");
            }
        }
    });
}
