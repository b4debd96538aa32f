//! Write tokens: which delivery wrote which version of a record, so that a write whose answer was
//! lost is recognised when it is sent again.

use crate::Record;

/// A token no other delivery's write carries: the delivery and the version it writes.
pub(crate) fn write_token(delivery: &str, version: u64) -> String {
    let mut token = String::with_capacity(delivery.len() + 8);
    push_write_token(&mut token, delivery, version);
    token
}

/// [`write_token`] into `buffer`.
pub(crate) fn push_write_token(buffer: &mut String, delivery: &str, version: u64) {
    use std::fmt::Write;
    buffer.clear();
    buffer.push_str(delivery);
    let _ = write!(buffer, ".{version}");
}

/// The token of a write made outside the dispatcher on `record` (a [`StateChange`]'s or an
/// update's): a fresh delivery and the version the write makes. `None` for a record whose
/// version is past [`MAX_VERSION`](crate::MAX_VERSION): no write can follow it.
///
/// ```
/// use lifecycle_core::{Record, write_token_after};
/// let mut record = Record::new("i-1", "ready");
/// record.version = 4;
/// assert!(write_token_after(&record).unwrap().ends_with(".5"));
/// record.version = u64::MAX;
/// assert_eq!(write_token_after(&record), None);
/// ```
///
/// [`StateChange`]: crate::StateChange
pub fn write_token_after(record: &Record) -> Option<String> {
    let next = record
        .version
        .checked_add(1)
        .filter(|_| record.version <= crate::MAX_VERSION)?;
    Some(write_token(&delivery_id(), next))
}

/// A fresh id no other delivery has: 64 random bits (the standard library's per-process random
/// hash keys, mixed with a counter and the time), in hex. Every [`Context`](crate::Context) gets one; a write
/// made outside the dispatcher takes one for its [`StateChange::token`](crate::StateChange).
///
/// ```
/// let (a, b) = (lifecycle_core::delivery_id(), lifecycle_core::delivery_id());
/// assert_eq!(a.len(), 16);
/// assert_ne!(a, b);
/// ```
pub fn delivery_id() -> String {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let hash = std::hash::RandomState::new().hash_one((n, std::time::SystemTime::now()));
    format!("{hash:016x}")
}
