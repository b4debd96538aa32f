//! Fault injection around the runtime's three dependencies: the node table, the command
//! sender and Auto Scaling. One counter numbers every call any of them makes; a [`Plan`] makes
//! the k-th call fail, or a seeded draw any call. Calls can also be await points that yield
//! once ([`Faults::yielding`]), so that a driver polling deliveries by hand can interleave,
//! pause and drop them between any two calls.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use lifecycle_aws::actions::{ActionError, Completed, LifecycleActions};
use lifecycle_aws::effects::{CommandSender, carries_marker};
use lifecycle_aws::store::{
    CommandRegistration, DueWaits, NodeTable, PendingLifecycle, RegisteredCommand, StoreError,
    WaitCursor,
};
use lifecycle_core::{
    AttributeUpdate, CasOutcome, ClaimOutcome, ClaimRequest, CommandRequest, EffectError,
    LifecycleAction, LifecycleResult, Record, StateChange, Store,
};

/// How the k-th call goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Every call works.
    None,
    /// The k-th call fails before it takes effect (throttling, a refused connection).
    Fail(usize),
    /// The k-th call takes effect, but its answer is lost (a timeout).
    Lost(usize),
    /// The k-th call takes effect and the process dies: no later call of this delivery
    /// reaches AWS (a Lambda killed between a side effect and the next write).
    Crash(usize),
    /// The k-th call takes effect, its answer is lost, and the SDK sends the same request
    /// again (what the SDK's retry does after a timeout or a 500): the caller sees the second
    /// answer.
    Retried(usize),
    /// Each call, with `percent` % chance, as the seeded draw decides: refused (throttled),
    /// applied with its answer lost, or (where the SDK would retry) applied and sent again.
    Random { percent: u64 },
}

/// What goes wrong with one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Fail,
    Lost,
    Crash,
    Retried,
}

/// A future that is pending once, then ready: an await point.
#[derive(Default)]
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Which of a seeded run's faults happen. Each fault the seed draws (a call's, an event's, a
/// delivery's) is numbered in the order drawn; a run can leave some out, drawing everything
/// else as before — how the simulation shrinks a failing run to the faults it needs.
#[derive(Default)]
pub struct Mask {
    drawn: std::sync::atomic::AtomicU64,
    left_out: std::collections::BTreeSet<u64>,
}

impl Mask {
    /// A mask that leaves the faults numbered `left_out` out.
    pub fn leaving_out(left_out: std::collections::BTreeSet<u64>) -> Arc<Self> {
        Arc::new(Mask {
            drawn: std::sync::atomic::AtomicU64::new(0),
            left_out,
        })
    }

    /// Whether a fault drawn (`drawn`) happens: numbered, and not left out.
    pub fn keep(&self, drawn: bool) -> bool {
        drawn
            && !self
                .left_out
                .contains(&self.drawn.fetch_add(1, Ordering::SeqCst))
    }

    /// How many faults were drawn so far.
    pub fn drawn(&self) -> u64 {
        self.drawn.load(Ordering::SeqCst)
    }
}

/// The shared call counter and plan.
pub struct Faults {
    calls: AtomicUsize,
    plan: Mutex<Plan>,
    dead: AtomicBool,
    /// Calls made, by operation, in order.
    pub log: Mutex<Vec<&'static str>>,
    /// The seeded draw of [`Plan::Random`].
    draw: Mutex<super::rng::Rng>,
    yields: AtomicBool,
    /// Faults injected, by kind.
    pub injected: Mutex<Vec<(&'static str, Fault)>>,
    /// Which of the seeded faults happen ([`Faults::with_mask`]).
    mask: Mutex<Option<Arc<Mask>>>,
}

impl Faults {
    pub fn new() -> Arc<Self> {
        Arc::new(Faults {
            calls: AtomicUsize::new(0),
            plan: Mutex::new(Plan::None),
            dead: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
            draw: Mutex::new(super::rng::Rng::new(0)),
            yields: AtomicBool::new(false),
            injected: Mutex::new(Vec::new()),
            mask: Mutex::new(None),
        })
    }

    /// The seeded faults numbered in `mask`, which may leave some out.
    pub fn with_mask(self: Arc<Self>, mask: Arc<Mask>) -> Arc<Self> {
        *self.mask.lock().unwrap() = Some(mask);
        self
    }

    /// Faults drawn from `seed` ([`Plan::Random`] with `percent`), every call an await point
    /// that yields once.
    pub fn seeded(seed: u64, percent: u64) -> Arc<Self> {
        let faults = Faults::new();
        *faults.draw.lock().unwrap() = super::rng::Rng::new(seed);
        *faults.plan.lock().unwrap() = Plan::Random { percent };
        faults.yields.store(true, Ordering::SeqCst);
        faults
    }

    /// What happens to call `n`; `retryable`: the SDK would send it again after a lost answer.
    fn decide(&self, n: usize, retryable: bool) -> Option<Fault> {
        match *self.plan.lock().unwrap() {
            Plan::None => None,
            Plan::Fail(k) if k == n => Some(Fault::Fail),
            Plan::Lost(k) if k == n => Some(Fault::Lost),
            Plan::Crash(k) if k == n => Some(Fault::Crash),
            Plan::Retried(k) if k == n && retryable => Some(Fault::Retried),
            Plan::Random { percent } => {
                let mut draw = self.draw.lock().unwrap();
                if !draw.chance(percent) {
                    return None;
                }
                let fault = match draw.next() % 3 {
                    0 => Fault::Fail,
                    1 => Fault::Lost,
                    _ if retryable => Fault::Retried,
                    _ => Fault::Lost,
                };
                let kept = self
                    .mask
                    .lock()
                    .unwrap()
                    .as_ref()
                    .is_none_or(|m| m.keep(true));
                kept.then_some(fault)
            }
            _ => None,
        }
    }

    /// Arms `plan`, counting calls from zero.
    pub fn arm(&self, plan: Plan) {
        *self.plan.lock().unwrap() = plan;
        self.calls.store(0, Ordering::SeqCst);
        self.dead.store(false, Ordering::SeqCst);
    }

    /// A new process: the plan is spent, calls work again.
    pub fn restart(&self) {
        *self.plan.lock().unwrap() = Plan::None;
        self.dead.store(false, Ordering::SeqCst);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Runs one call under the plan, sending it again for [`Plan::Retried`]. `Err(message)` if
    /// it fails.
    async fn call_again<R, E, F: Future<Output = Result<R, E>>>(
        &self,
        operation: &'static str,
        call: impl Fn() -> F,
    ) -> Result<Result<R, E>, String> {
        let answer = async {
            let (n, fault) = self.begin(operation, true)?;
            let answer = self.finish(operation, n, fault, call()).await;
            if fault == Some(Fault::Retried) {
                drop(answer);
                self.log.lock().unwrap().push(operation);
                return Ok(call().await);
            }
            answer
        }
        .await;
        self.pause_point().await;
        answer
    }

    /// Runs one call under the plan. `Err(message)` if it fails.
    async fn call<R, E>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<R, E>>,
    ) -> Result<Result<R, E>, String> {
        let answer = match self.begin(operation, false) {
            Ok((n, fault)) => self.finish(operation, n, fault, call).await,
            Err(refused) => Err(refused),
        };
        self.pause_point().await;
        answer
    }

    /// After each call, with [`Faults::seeded`]: where a driver polling deliveries by hand can
    /// interleave, pause or drop them. A call itself is atomic, as a request once sent is.
    async fn pause_point(&self) {
        if self.yields.load(Ordering::SeqCst) {
            YieldOnce::default().await;
        }
    }

    /// The call's number and fate; a refused call ends here.
    fn begin(
        &self,
        operation: &'static str,
        retryable: bool,
    ) -> Result<(usize, Option<Fault>), String> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(format!("{operation}: the process is gone"));
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = self.decide(n, retryable);
        if let Some(fault) = fault {
            self.injected.lock().unwrap().push((operation, fault));
        }
        if fault == Some(Fault::Fail) {
            return Err(format!(
                "{operation}: ThrottlingException (injected, call {n})"
            ));
        }
        Ok((n, fault))
    }

    async fn finish<R, E>(
        &self,
        operation: &'static str,
        n: usize,
        fault: Option<Fault>,
        call: impl Future<Output = Result<R, E>>,
    ) -> Result<Result<R, E>, String> {
        self.log.lock().unwrap().push(operation);
        let result = call.await;
        match fault {
            Some(Fault::Lost) => Err(format!(
                "{operation}: timed out waiting for the answer (injected, call {n})"
            )),
            Some(Fault::Crash) => {
                self.dead.store(true, Ordering::SeqCst);
                Err(format!(
                    "{operation}: the process died (injected, call {n})"
                ))
            }
            _ => Ok(result),
        }
    }
}

fn store_error(operation: &'static str, message: String) -> StoreError {
    StoreError::Request {
        operation,
        table: "faulty".into(),
        message,
        transient: true,
    }
}

/// A node table whose calls go through [`Faults`].
pub struct FaultyTable<T> {
    pub inner: T,
    pub faults: Arc<Faults>,
}

impl<T: NodeTable> Store for FaultyTable<T> {
    type Error = StoreError;

    async fn load(&self, ident: &str) -> Result<Option<Record>, StoreError> {
        self.faults
            .call("GetItem", self.inner.load(ident))
            .await
            .map_err(|m| store_error("GetItem", m))?
    }

    async fn compare_and_set(&self, change: StateChange<'_>) -> Result<CasOutcome, StoreError> {
        self.faults
            .call_again("UpdateItem", || self.inner.compare_and_set(change))
            .await
            .map_err(|m| store_error("UpdateItem", m))?
    }

    async fn update_attributes(
        &self,
        update: AttributeUpdate<'_>,
    ) -> Result<CasOutcome, StoreError> {
        self.faults
            .call_again("UpdateItem", || self.inner.update_attributes(update))
            .await
            .map_err(|m| store_error("UpdateItem", m))?
    }
}

impl<T: NodeTable> NodeTable for FaultyTable<T> {
    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        until: u64,
        now: u64,
    ) -> Result<ClaimOutcome, StoreError> {
        self.faults
            .call_again("UpdateItem", || self.inner.claim(request, until, now))
            .await
            .map_err(|m| store_error("UpdateItem", m))?
    }

    async fn release_claim(
        &self,
        ident: &str,
        holder: &str,
        version: u64,
    ) -> Result<(), StoreError> {
        self.faults
            .call_again("UpdateItem", || {
                self.inner.release_claim(ident, holder, version)
            })
            .await
            .map_err(|m| store_error("UpdateItem", m))?
    }

    async fn register_command(
        &self,
        registration: CommandRegistration<'_>,
    ) -> Result<(), StoreError> {
        self.faults
            .call_again("PutItem", || self.inner.register_command(registration))
            .await
            .map_err(|m| store_error("PutItem", m))?
    }

    async fn consume_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        self.faults
            .call_again("DeleteItem", || self.inner.consume_command(command_id))
            .await
            .map_err(|m| store_error("DeleteItem", m))?
    }

    async fn withdraw_command(
        &self,
        command_id: &str,
        sent_at_version: u64,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        self.faults
            .call_again("DeleteItem", || {
                self.inner.withdraw_command(command_id, sent_at_version)
            })
            .await
            .map_err(|m| store_error("DeleteItem", m))?
    }

    async fn first_seen(
        &self,
        command_id: &str,
        waiter: &str,
        now: u64,
    ) -> Result<u64, StoreError> {
        self.faults
            .call_again("UpdateItem", || {
                self.inner.first_seen(command_id, waiter, now)
            })
            .await
            .map_err(|m| store_error("UpdateItem", m))?
    }

    async fn peek_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        self.faults
            .call("GetItem", self.inner.peek_command(command_id))
            .await
            .map_err(|m| store_error("GetItem", m))?
    }

    async fn due_waits(
        &self,
        waiter: &str,
        now: u64,
        after: Option<WaitCursor>,
        limit: usize,
    ) -> Result<DueWaits, StoreError> {
        self.faults
            .call_again("Query", || {
                self.inner.due_waits(waiter, now, after.clone(), limit)
            })
            .await
            .map_err(|m| store_error("Query", m))?
    }

    async fn reschedule(&self, ident: &str, due_at: u64) -> Result<(), StoreError> {
        self.faults
            .call_again("UpdateItem", || self.inner.reschedule(ident, due_at))
            .await
            .map_err(|m| store_error("UpdateItem", m))?
    }

    async fn retain_until(&self, ident: &str, expires_at: u64) -> Result<(), StoreError> {
        self.faults
            .call_again("UpdateItem", || self.inner.retain_until(ident, expires_at))
            .await
            .map_err(|m| store_error("UpdateItem", m))?
    }

    async fn register_instance(
        &self,
        ident: &str,
        state: &str,
        from: &[&str],
        set: &[(String, serde_json::Value)],
    ) -> Result<bool, StoreError> {
        self.faults
            .call_again("UpdateItem", || {
                self.inner.register_instance(ident, state, from, set)
            })
            .await
            .map_err(|m| store_error("UpdateItem", m))?
    }

    async fn park_lifecycle(
        &self,
        ident: &str,
        waiting: &[&str],
        pending: &PendingLifecycle,
        waiter: &str,
        due_at: u64,
    ) -> Result<bool, StoreError> {
        self.faults
            .call_again("UpdateItem", || {
                self.inner
                    .park_lifecycle(ident, waiting, pending, waiter, due_at)
            })
            .await
            .map_err(|m| store_error("UpdateItem", m))?
    }

    async fn schedule_alive_check(
        &self,
        ident: &str,
        version: u64,
        waiter: &str,
        due_at: u64,
    ) -> Result<bool, StoreError> {
        self.faults
            .call_again("UpdateItem", || {
                self.inner
                    .schedule_alive_check(ident, version, waiter, due_at)
            })
            .await
            .map_err(|m| store_error("UpdateItem", m))?
    }

    async fn create(&self, ident: &str, state: &str) -> Result<bool, StoreError> {
        self.faults
            .call_again("PutItem", || self.inner.create(ident, state))
            .await
            .map_err(|m| store_error("PutItem", m))?
    }
}

/// A command sender whose calls go through [`Faults`], remembering what was sent.
pub struct FaultyCommands {
    pub inner: Arc<dyn CommandSender>,
    pub faults: Arc<Faults>,
    /// Every command SSM accepted, with its instance, in order.
    pub sent: Mutex<Vec<(String, String)>>,
    pub cancelled: Mutex<Vec<String>>,
}

impl FaultyCommands {
    pub fn new(inner: Arc<dyn CommandSender>, faults: Arc<Faults>) -> Self {
        FaultyCommands {
            inner,
            faults,
            sent: Mutex::new(Vec::new()),
            cancelled: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait::async_trait]
impl CommandSender for FaultyCommands {
    async fn send(&self, request: &CommandRequest) -> Result<String, EffectError> {
        self.faults
            .call("SendCommand", async {
                let sent = self.inner.send(request).await;
                if let Ok(id) = &sent {
                    self.sent
                        .lock()
                        .unwrap()
                        .push((id.clone(), request.instance_ids[0].clone()));
                }
                sent
            })
            .await
            .map_err(|m| EffectError::transient("send_command", m))?
    }

    async fn find(
        &self,
        request: &CommandRequest,
        marker: &str,
    ) -> Result<Option<String>, EffectError> {
        self.faults
            .call("ListCommands", self.inner.find(request, marker))
            .await
            .map_err(|m| EffectError::transient("list_commands", m))?
    }

    async fn status(
        &self,
        command_id: &str,
    ) -> Result<Option<lifecycle_core::CommandStatus>, EffectError> {
        self.faults
            .call("ListCommands", self.inner.status(command_id))
            .await
            .map_err(|m| EffectError::transient("list_commands", m))?
    }

    async fn cancel(&self, command_id: &str) -> Result<(), EffectError> {
        self.faults
            .call("CancelCommand", async {
                let cancelled = self.inner.cancel(command_id).await;
                if cancelled.is_ok() {
                    self.cancelled.lock().unwrap().push(command_id.to_owned());
                }
                cancelled
            })
            .await
            .map_err(|m| EffectError::transient("cancel_command", m))?
    }
}

/// Auto Scaling whose calls go through [`Faults`].
pub struct FaultyActions {
    pub inner: Arc<dyn LifecycleActions>,
    pub faults: Arc<Faults>,
}

#[async_trait::async_trait]
impl LifecycleActions for FaultyActions {
    async fn complete(
        &self,
        action: &LifecycleAction,
        region: Option<&str>,
        result: LifecycleResult,
    ) -> Result<Completed, ActionError> {
        self.faults
            .call(
                "CompleteLifecycleAction",
                self.inner.complete(action, region, result),
            )
            .await
            .map_err(|message| ActionError {
                operation: "CompleteLifecycleAction",
                instance: action.ec2_instance_id.clone(),
                message,
                transient: true,
            })?
    }

    async fn heartbeat(
        &self,
        action: &LifecycleAction,
        region: Option<&str>,
    ) -> Result<Completed, ActionError> {
        self.faults
            .call(
                "RecordLifecycleActionHeartbeat",
                self.inner.heartbeat(action, region),
            )
            .await
            .map_err(|message| ActionError {
                operation: "RecordLifecycleActionHeartbeat",
                instance: action.ec2_instance_id.clone(),
                message,
                transient: true,
            })?
    }
}

/// Commands for the in-memory table: ids from a counter, nothing runs; found again by the
/// marker in their comment, as SSM's `ListCommands` finds them.
#[derive(Default)]
pub struct CountingCommands {
    sent: Mutex<Vec<(String, CommandRequest, bool)>>,
}

#[async_trait::async_trait]
impl CommandSender for CountingCommands {
    async fn send(&self, request: &CommandRequest) -> Result<String, EffectError> {
        let mut sent = self.sent.lock().unwrap();
        let id = format!("cmd-{:08}", sent.len());
        sent.push((id.clone(), request.clone(), false));
        Ok(id)
    }

    async fn cancel(&self, command_id: &str) -> Result<(), EffectError> {
        for (id, _, cancelled) in self.sent.lock().unwrap().iter_mut() {
            *cancelled |= id == command_id;
        }
        Ok(())
    }

    async fn find(
        &self,
        request: &CommandRequest,
        marker: &str,
    ) -> Result<Option<String>, EffectError> {
        Ok(self
            .sent
            .lock()
            .unwrap()
            .iter()
            .find(|(_, sent, cancelled)| {
                !cancelled
                    && sent.instance_ids.first() == request.instance_ids.first()
                    && carries_marker(sent.comment.as_deref(), marker)
            })
            .map(|(id, _, _)| id.clone()))
    }
}

/// SSM whose commands never end as far as a status query can tell (moto reports a command
/// ended as soon as it is sent): for tests of a lifecycle that waits for a long-running
/// command, whose result event is what ends the wait, or its deadline.
pub struct StillRunning(pub Arc<dyn CommandSender>);

#[async_trait::async_trait]
impl CommandSender for StillRunning {
    async fn send(&self, request: &CommandRequest) -> Result<String, EffectError> {
        self.0.send(request).await
    }

    async fn cancel(&self, command_id: &str) -> Result<(), EffectError> {
        self.0.cancel(command_id).await
    }

    async fn find(
        &self,
        request: &CommandRequest,
        marker: &str,
    ) -> Result<Option<String>, EffectError> {
        self.0.find(request, marker).await
    }

    async fn status(
        &self,
        _command_id: &str,
    ) -> Result<Option<lifecycle_core::CommandStatus>, EffectError> {
        Ok(None)
    }
}
