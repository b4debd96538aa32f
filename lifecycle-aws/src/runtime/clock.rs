//! Where the runtime gets the time, and the times events carry.

use super::*;

/// Where the runtime gets the time: the system clock, or a test's.
///
/// ```
/// # let (runtime, commands, actions) = lifecycle_aws::testing::example_runtime();
/// use std::sync::Arc;
/// use std::time::{Duration, SystemTime};
/// use lifecycle_aws::runtime::Clock;
/// /// A test's clock, fixed at a given time.
/// struct Fixed(SystemTime);
/// impl Clock for Fixed {
///     fn now(&self) -> SystemTime { self.0 }
/// }
/// let noon = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_158_400);
/// let runtime = runtime.with_clock(Arc::new(Fixed(noon)));
/// let launch = lifecycle_aws::testing::lifecycle_action_event("i-0abc123def4567890", "nodes", lifecycle_core::LifecycleTransition::Launching);
/// lifecycle_aws::testing::block_on(runtime.handle(&launch)).unwrap();
/// // The record's history tells when the launch moved it: at the clock's time.
/// let record = runtime.store().records().get("i-0abc123def4567890").unwrap();
/// assert_eq!(record.history()[0].at, Some(1_764_158_400));
/// ```
pub trait Clock: Send + Sync {
    /// Now.
    ///
    /// ```
    /// use lifecycle_aws::runtime::{Clock, SystemClock};
    /// let now = SystemClock.now();
    /// assert!(now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() > 1_700_000_000);
    /// ```
    fn now(&self) -> SystemTime;
}

/// The system clock.
///
/// ```
/// use lifecycle_aws::runtime::{Clock, SystemClock};
/// assert!(SystemClock.now() > std::time::SystemTime::UNIX_EPOCH);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

pub(crate) fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `requested` (RFC 3339, UTC) is less than `grace` before `now`.
pub(super) fn requested_within(requested: &str, grace: Duration, now: SystemTime) -> bool {
    let Some(requested) = parse_rfc3339_utc(requested) else {
        return false;
    };
    now.duration_since(requested)
        .map_or(true, |age| age < grace)
}

/// Whether `time` (RFC 3339, UTC) is more than `age` before `now`; `false` for anything that
/// is not such a time, or lies ahead.
pub(super) fn older_than(time: &str, age: Duration, now: SystemTime) -> bool {
    parse_rfc3339_utc(time)
        .and_then(|time| now.duration_since(time).ok())
        .is_some_and(|elapsed| elapsed > age)
}

/// `2018-11-08T18:43:30.506Z` → a time, parsed by the AWS SDK's own RFC 3339 parser (the
/// field comes from an event anyone who can publish to the queue writes: any text, any year).
/// `None` for anything that is not such a time.
fn parse_rfc3339_utc(text: &str) -> Option<SystemTime> {
    use aws_sdk_ssm::primitives::{DateTime, DateTimeFormat};
    let time = DateTime::from_str(text, DateTimeFormat::DateTime).ok()?;
    SystemTime::try_from(time).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_as_aws_writes_them() {
        let t = parse_rfc3339_utc("2018-11-08T18:43:30.506Z").unwrap();
        let since_epoch = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(since_epoch.as_secs(), 1_541_702_610);
        assert_eq!(since_epoch.subsec_millis(), 506);
        assert_eq!(
            parse_rfc3339_utc("2026-11-25T00:00:00Z")
                .unwrap()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_795_564_800
        );
        assert_eq!(parse_rfc3339_utc("yesterday"), None);
        // What a forged event may carry: no panic, no wrapped time, just no time.
        for text in [
            "9999999999999999999-01-01T00:00:00Z",
            "-9223372036854775808-01-01T00:00:00Z",
            "9000000000000000000-01-01T00:00:00Z",
            "2026-01-01T9000000000000000000:00:00Z",
            "2026-13-45T99:99:99Z",
            "",
        ] {
            assert_eq!(parse_rfc3339_utc(text), None, "{text}");
        }
        assert!(!requested_within(
            "2018-11-08T18:43:30.506Z",
            Duration::from_secs(120),
            SystemTime::now()
        ));
        assert!(requested_within(
            "2018-11-08T18:43:30.506Z",
            Duration::from_secs(120),
            t + Duration::from_secs(60)
        ));
    }
}
