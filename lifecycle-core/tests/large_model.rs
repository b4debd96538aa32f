//! A large valid model (45 states) compiles without warnings and runs end to end.

#![deny(warnings)]

use lifecycle_core::testing::block_on;
use lifecycle_core::{
    Context, LifecycleModel, MemoryEffects, MemoryStore, Record, State, StopReason, dispatch,
    lifecycle_model,
};

/// Counts the steps it ran.
#[derive(Default)]
pub struct Pipeline {
    steps: usize,
    take_detour: bool,
}

#[lifecycle_model(
    states(Step00, Step01, Step02, Step03, Step04, Step05, Step06, Step07, Step08, Step09, Step10, Step11, Step12, Step13, Step14, Step15, Step16, Step17, Step18, Step19, Step20, Step21, Step22, Step23, Step24, Step25, Step26, Step27, Step28, Step29, Step30, Step31, Step32, Step33, Step34, Step35, Step36, Step37, Step38, Step39, Step40, Step41, Detour, Done, Failed),
    initial = Step00,
    terminal(Done, Failed),
    failure = Failed,
    error = std::fmt::Error,
)]
impl Pipeline {
    #[transition(from = Step00, to = Step01)]
    async fn advance_00(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step01, to = Step02)]
    async fn advance_01(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step02, to = Step03)]
    async fn advance_02(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step03, to = Step04)]
    async fn advance_03(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step04, to = Step05)]
    async fn advance_04(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step05, to = Step06)]
    async fn advance_05(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step06, to = Step07)]
    async fn advance_06(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step07, to = Step08)]
    async fn advance_07(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step08, to = Step09)]
    async fn advance_08(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step09, to = Step10)]
    async fn advance_09(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step10, to = Step11)]
    async fn advance_10(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step11, to = Step12)]
    async fn advance_11(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step12, to = Step13)]
    async fn advance_12(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step13, to = Step14)]
    async fn advance_13(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step14, to = Step15)]
    async fn advance_14(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step15, to = Step16)]
    async fn advance_15(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step16, to = Step17)]
    async fn advance_16(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step17, to = Step18)]
    async fn advance_17(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step18, to = Step19)]
    async fn advance_18(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step19, to = Step20)]
    async fn advance_19(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step20, to = Detour, when(detour))]
    async fn detour_at_20(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step20, to = Step21)]
    async fn advance_20(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step21, to = Step22)]
    async fn advance_21(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step22, to = Step23)]
    async fn advance_22(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step23, to = Step24)]
    async fn advance_23(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step24, to = Step25)]
    async fn advance_24(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step25, to = Step26)]
    async fn advance_25(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step26, to = Step27)]
    async fn advance_26(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step27, to = Step28)]
    async fn advance_27(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step28, to = Step29)]
    async fn advance_28(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step29, to = Step30)]
    async fn advance_29(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step30, to = Step31)]
    async fn advance_30(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step31, to = Step32)]
    async fn advance_31(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step32, to = Step33)]
    async fn advance_32(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step33, to = Step34)]
    async fn advance_33(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step34, to = Step35)]
    async fn advance_34(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step35, to = Step36)]
    async fn advance_35(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step36, to = Step37)]
    async fn advance_36(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step37, to = Step38)]
    async fn advance_37(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step38, to = Step39)]
    async fn advance_38(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step39, to = Step40)]
    async fn advance_39(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from = Step40, to = Step41)]
    async fn advance_40(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    #[transition(from(Step41, Detour), to = Done)]
    async fn finish(&mut self, _ctx: &mut Context<'_>) -> Result<(), std::fmt::Error> {
        self.steps += 1;
        Ok(())
    }

    fn detour(&self) -> bool {
        self.take_detour
    }
}

#[test]
fn a_45_state_model_runs_every_step_in_one_event() {
    assert_eq!(PipelineState::ALL.len(), 45);
    assert_eq!(Pipeline::DEFINITION.transitions.len(), 43);
    let store = MemoryStore::new();
    store.insert(Record::new("i-1", "step00"));
    let mut record = store.get("i-1").unwrap();
    let mut model = Pipeline::default();
    let event = lifecycle_core::testing::launching("i-1");
    let report = block_on(dispatch(
        &mut model,
        &store,
        &mut record,
        &event,
        &MemoryEffects::new(),
    ))
    .unwrap();
    assert_eq!(report.stop, StopReason::Finished);
    assert_eq!(report.end, PipelineState::Done);
    assert_eq!(model.steps, 42);
    assert_eq!(store.get("i-1").unwrap().state, "done");
}

#[test]
fn a_guarded_branch_leaves_the_chain() {
    let store = MemoryStore::new();
    store.insert(Record::new("i-1", "step00"));
    let mut record = store.get("i-1").unwrap();
    let mut model = Pipeline {
        take_detour: true,
        ..Pipeline::default()
    };
    let event = lifecycle_core::testing::launching("i-1");
    let report = block_on(dispatch(
        &mut model,
        &store,
        &mut record,
        &event,
        &MemoryEffects::new(),
    ))
    .unwrap();
    assert_eq!(report.states.len(), 23);
    assert!(report.states.contains(&PipelineState::Detour));
    assert_eq!(report.end, PipelineState::Done);
}
