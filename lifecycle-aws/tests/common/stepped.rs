//! A node table that lets other tasks run before each of its calls: two deliveries joined on
//! one thread then interleave at every call of the table, in an order a seed decides.

use std::sync::Mutex;

use lifecycle_aws::store::{
    CommandRegistration, DueWaits, NodeTable, PendingLifecycle, RegisteredCommand, StoreError,
    WaitCursor,
};
use lifecycle_core::{
    AttributeUpdate, CasOutcome, ClaimOutcome, ClaimRequest, Record, StateChange, Store,
};

/// `inner`, yielding to the other tasks 0 to 2 times before each call (a small xorshift
/// generator, seeded: the same seed, the same interleaving).
pub struct Stepped<T> {
    inner: T,
    rng: Mutex<u64>,
}

impl<T> Stepped<T> {
    pub fn new(inner: T, seed: u64) -> Self {
        Stepped {
            inner,
            rng: Mutex::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        }
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }

    async fn step(&self) {
        let yields = {
            let mut x = self.rng.lock().unwrap();
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *x % 3
        };
        for _ in 0..yields {
            tokio::task::yield_now().await;
        }
    }
}

impl<T: NodeTable + Sync> Store for Stepped<T> {
    type Error = StoreError;

    async fn load(&self, ident: &str) -> Result<Option<Record>, StoreError> {
        self.step().await;
        self.inner.load(ident).await
    }

    async fn compare_and_set(&self, change: StateChange<'_>) -> Result<CasOutcome, StoreError> {
        self.step().await;
        self.inner.compare_and_set(change).await
    }

    async fn update_attributes(
        &self,
        update: AttributeUpdate<'_>,
    ) -> Result<CasOutcome, StoreError> {
        self.step().await;
        self.inner.update_attributes(update).await
    }
}

impl<T: NodeTable + Sync> NodeTable for Stepped<T> {
    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        until: u64,
        now: u64,
    ) -> Result<ClaimOutcome, StoreError> {
        self.step().await;
        self.inner.claim(request, until, now).await
    }

    async fn release_claim(
        &self,
        ident: &str,
        holder: &str,
        version: u64,
    ) -> Result<(), StoreError> {
        self.step().await;
        self.inner.release_claim(ident, holder, version).await
    }

    async fn register_command(
        &self,
        registration: CommandRegistration<'_>,
    ) -> Result<(), StoreError> {
        self.step().await;
        self.inner.register_command(registration).await
    }

    async fn consume_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        self.step().await;
        self.inner.consume_command(command_id).await
    }

    async fn withdraw_command(
        &self,
        command_id: &str,
        sent_at_version: u64,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        self.step().await;
        self.inner
            .withdraw_command(command_id, sent_at_version)
            .await
    }

    async fn first_seen(
        &self,
        command_id: &str,
        waiter: &str,
        now: u64,
    ) -> Result<u64, StoreError> {
        self.step().await;
        self.inner.first_seen(command_id, waiter, now).await
    }

    async fn peek_command(
        &self,
        command_id: &str,
    ) -> Result<Option<RegisteredCommand>, StoreError> {
        self.step().await;
        self.inner.peek_command(command_id).await
    }

    async fn due_waits(
        &self,
        waiter: &str,
        now: u64,
        after: Option<WaitCursor>,
        limit: usize,
    ) -> Result<DueWaits, StoreError> {
        self.step().await;
        self.inner.due_waits(waiter, now, after, limit).await
    }

    async fn reschedule(&self, ident: &str, due_at: u64) -> Result<(), StoreError> {
        self.step().await;
        self.inner.reschedule(ident, due_at).await
    }

    async fn retain_until(&self, ident: &str, expires_at: u64) -> Result<(), StoreError> {
        self.step().await;
        self.inner.retain_until(ident, expires_at).await
    }

    async fn park_lifecycle(
        &self,
        ident: &str,
        waiting: &[&str],
        pending: &PendingLifecycle,
        waiter: &str,
        due_at: u64,
    ) -> Result<bool, StoreError> {
        self.step().await;
        self.inner
            .park_lifecycle(ident, waiting, pending, waiter, due_at)
            .await
    }

    async fn schedule_alive_check(
        &self,
        ident: &str,
        version: u64,
        waiter: &str,
        due_at: u64,
    ) -> Result<bool, StoreError> {
        self.step().await;
        self.inner
            .schedule_alive_check(ident, version, waiter, due_at)
            .await
    }

    async fn create(&self, ident: &str, state: &str) -> Result<bool, StoreError> {
        self.step().await;
        self.inner.create(ident, state).await
    }

    async fn register_instance(
        &self,
        ident: &str,
        state: &str,
        from: &[&str],
        set: &[(String, serde_json::Value)],
    ) -> Result<bool, StoreError> {
        self.step().await;
        self.inner.register_instance(ident, state, from, set).await
    }
}
