//! Which events a trigger reacts to: `on(...)` in the model, and the route of a lifecycle
//! action it may require.

use crate::{Event, EventKind, Location};

/// Which lifecycle actions a trigger takes by where the instance comes from and goes to
/// (`on(launching(to = warm_pool))`); `None` places any.
///
/// ```
/// use lifecycle_core::{Location, Route};
/// let from_pool = Route { from: Some(Location::WarmPool), to: None };
/// assert!(from_pool.admits(Location::WarmPool, Location::AutoScalingGroup));
/// assert!(!from_pool.admits(Location::Ec2, Location::AutoScalingGroup));
/// assert!(Route::ANY.admits(Location::Ec2, Location::WarmPool));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    /// The origin it requires.
    pub from: Option<Location>,
    /// The destination it requires.
    pub to: Option<Location>,
}

impl Route {
    /// Any origin, any destination.
    ///
    /// ```
    /// use lifecycle_core::{Location, Route};
    /// assert!(Route::ANY.admits(Location::WarmPool, Location::Ec2));
    /// ```
    pub const ANY: Route = Route {
        from: None,
        to: None,
    };

    /// Whether an action from `origin` to `destination` passes.
    ///
    /// ```
    /// use lifecycle_core::{Location, Route};
    /// let into_pool = Route { from: None, to: Some(Location::WarmPool) };
    /// assert!(into_pool.admits(Location::Ec2, Location::WarmPool));
    /// assert!(!into_pool.admits(Location::WarmPool, Location::AutoScalingGroup));
    /// ```
    pub fn admits(self, origin: Location, destination: Location) -> bool {
        self.from.is_none_or(|f| f == origin) && self.to.is_none_or(|t| t == destination)
    }
}

/// Which events a trigger reacts to (`on(...)` in the model). A trigger without a filter
/// reacts to every event.
///
/// ```
/// use lifecycle_core::EventFilter;
/// use lifecycle_core::testing::{launching, terminating};
/// // `on(launching)` on a transition is this filter.
/// assert!(EventFilter::LAUNCHING.accepts(&launching("i-1")));
/// assert!(!EventFilter::LAUNCHING.accepts(&terminating("i-1")));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventFilter {
    /// `on(launching)`, or with a route: `on(launching(to = warm_pool))`,
    /// `on(launching(from = warm_pool))`.
    Launching(Route),
    /// `on(terminating)`, or with a route: `on(terminating(from = warm_pool))`.
    Terminating(Route),
    /// `on(command)`: any command result.
    CommandResult,
    /// `on(scheduled)` or `on(scheduled = "rule")`.
    Scheduled(Option<&'static str>),
    /// `on(spot_interruption)`.
    SpotInterruption,
    /// `on(rebalance)`.
    Rebalance,
    /// `on(instance_state)` (any state change) or `on(instance_state = "terminated")`.
    InstanceState(Option<&'static str>),
    /// `on(maintenance)` (any scheduled change) or
    /// `on(maintenance = "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED")`.
    Maintenance(Option<&'static str>),
}

impl EventFilter {
    /// `on(launching)`: every launching action.
    ///
    /// ```
    /// use lifecycle_core::EventFilter;
    /// assert!(EventFilter::LAUNCHING.accepts(&lifecycle_core::testing::launching("i-1")));
    /// ```
    pub const LAUNCHING: EventFilter = EventFilter::Launching(Route::ANY);
    /// `on(terminating)`: every terminating action.
    ///
    /// ```
    /// use lifecycle_core::EventFilter;
    /// assert!(EventFilter::TERMINATING.accepts(&lifecycle_core::testing::terminating("i-1")));
    /// ```
    pub const TERMINATING: EventFilter = EventFilter::Terminating(Route::ANY);

    /// Whether `event` passes this filter.
    ///
    /// ```
    /// use lifecycle_core::{Event, EventFilter, EventKind, Location, Route};
    /// let event = Event::scheduled("e", "backup");
    /// assert!(EventFilter::Scheduled(Some("backup")).accepts(&event));
    /// assert!(!EventFilter::Scheduled(Some("cleanup")).accepts(&event));
    /// assert!(!EventFilter::LAUNCHING.accepts(&event));
    ///
    /// // A launch into the warm pool passes `on(launching(to = warm_pool))` only.
    /// let mut into_pool = lifecycle_core::testing::launching("i-1");
    /// into_pool.lifecycle.as_mut().unwrap().destination = Some(Location::WarmPool);
    /// let to_pool = EventFilter::Launching(Route { from: None, to: Some(Location::WarmPool) });
    /// assert!(to_pool.accepts(&into_pool));
    /// assert!(!to_pool.accepts(&lifecycle_core::testing::launching("i-2")));
    ///
    /// let stopped = Event::instance("e", "i-1", EventKind::InstanceState { state: "stopped".into() });
    /// assert!(EventFilter::InstanceState(None).accepts(&stopped));
    /// assert!(!EventFilter::InstanceState(Some("terminated")).accepts(&stopped));
    /// ```
    pub fn accepts(self, event: &Event) -> bool {
        let route = |route: Route| {
            let (origin, destination) = match (&event.lifecycle, &event.kind) {
                (Some(action), _) => (action.origin(), action.destination()),
                (None, EventKind::Launching) => (Location::Ec2, Location::AutoScalingGroup),
                (None, _) => (Location::AutoScalingGroup, Location::Ec2),
            };
            route.admits(origin, destination)
        };
        match (self, &event.kind) {
            (EventFilter::Launching(r), EventKind::Launching)
            | (EventFilter::Terminating(r), EventKind::Terminating) => route(r),
            (EventFilter::CommandResult, EventKind::CommandResult { .. })
            | (EventFilter::Scheduled(None), EventKind::Scheduled { .. })
            | (EventFilter::SpotInterruption, EventKind::SpotInterruption { .. })
            | (EventFilter::Rebalance, EventKind::RebalanceRecommendation)
            | (EventFilter::InstanceState(None), EventKind::InstanceState { .. })
            | (EventFilter::Maintenance(None), EventKind::Maintenance { .. }) => true,
            (EventFilter::Scheduled(Some(name)), EventKind::Scheduled { rule }) => name == rule,
            (EventFilter::InstanceState(Some(name)), EventKind::InstanceState { state }) => {
                name == state
            }
            (EventFilter::Maintenance(Some(code)), EventKind::Maintenance { event_type, .. }) => {
                code == event_type
            }
            _ => false,
        }
    }
}
