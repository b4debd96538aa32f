//! The events a trigger can be limited to, where an instance comes from and goes to, and the
//! classes of events the analysis reasons about.

/// An event a transition can be limited to (`on(...)`).
///
/// ```
/// use lifecycle_analysis::{EventClass, On, Transition};
/// let join = Transition { sources: vec![0], dest: Some(1), on: vec![On::Scheduled(Some("backup".into()))], ..Default::default() };
/// assert!(join.accepts(&EventClass::Scheduled(Some("backup".into()))));
/// assert!(!join.accepts(&EventClass::Scheduled(None)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum On {
    /// `on(launching)`, or with a route (`on(launching(to = warm_pool))`).
    Launching(Route),
    /// `on(terminating)`, or with a route.
    Terminating(Route),
    /// `on(command)`: a command's result, whether it succeeded or not.
    Command,
    /// `on(scheduled)` (any rule) or `on(scheduled = "rule")`.
    Scheduled(Option<String>),
    /// `on(spot_interruption)`
    SpotInterruption,
    /// `on(rebalance)`
    Rebalance,
    /// `on(instance_state)` (any state) or `on(instance_state = "state")`.
    InstanceState(Option<String>),
    /// `on(maintenance)` (any scheduled change) or `on(maintenance = "EVENT_TYPE_CODE")`.
    Maintenance(Option<String>),
}

/// Where an instance comes from or goes to in a lifecycle action.
///
/// ```
/// use lifecycle_analysis::{EventClass, Place};
/// assert_eq!(EventClass::Launching(Place::Ec2, Place::WarmPool).to_string(), "a launching event from EC2 into the warm pool");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// Outside the group.
    Ec2,
    /// In service in the group.
    Group,
    /// The group's warm pool.
    WarmPool,
}

/// The origin and destination a lifecycle filter requires (`None`: any).
///
/// ```
/// use lifecycle_analysis::{Place, Route};
/// let into_pool = Route { from: None, to: Some(Place::WarmPool) };
/// assert!(into_pool.admits(Place::Ec2, Place::WarmPool));
/// assert!(!into_pool.admits(Place::Ec2, Place::Group));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    /// The origin required.
    pub from: Option<Place>,
    /// The destination required.
    pub to: Option<Place>,
}

impl Route {
    /// Any origin and destination: `on(launching)`.
    ///
    /// ```
    /// use lifecycle_analysis::{Place, Route};
    /// assert!(Route::ANY.admits(Place::Group, Place::Ec2));
    /// ```
    pub const ANY: Route = Route {
        from: None,
        to: None,
    };

    /// Whether an action from `from` to `to` passes.
    ///
    /// ```
    /// use lifecycle_analysis::{Place, Route};
    /// let from_pool = Route { from: Some(Place::WarmPool), to: None };
    /// assert!(from_pool.admits(Place::WarmPool, Place::Group));
    /// assert!(!from_pool.admits(Place::Ec2, Place::Group));
    /// ```
    pub fn admits(self, from: Place, to: Place) -> bool {
        self.from.is_none_or(|f| f == from) && self.to.is_none_or(|t| t == to)
    }
}

/// The routes lifecycle actions take: launching into the group or into the warm pool, from
/// the warm pool into the group; terminating from the group or from the warm pool.
pub(crate) const LAUNCH_ROUTES: [(Place, Place); 3] = [
    (Place::Ec2, Place::Group),
    (Place::Ec2, Place::WarmPool),
    (Place::WarmPool, Place::Group),
];
pub(crate) const TERMINATION_ROUTES: [(Place, Place); 2] =
    [(Place::Group, Place::Ec2), (Place::WarmPool, Place::Ec2)];

/// One kind of event, as the dispatcher tells them apart: what one event is while it is
/// processed.
///
/// ```
/// use lifecycle_analysis::EventClass;
/// assert_eq!(EventClass::Scheduled(Some("backup".into())).to_string(), "a scheduled event of `backup`");
/// assert_eq!(EventClass::Command.to_string(), "a command result");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventClass {
    /// A launching lifecycle action, from and to.
    Launching(Place, Place),
    /// A terminating lifecycle action, from and to.
    Terminating(Place, Place),
    /// A command result. (One that failed fires only `ignore_errors` triggers at first; but the
    /// first that fires handles the failure, and failure handling lifts the restriction too:
    /// after one step at most, it is any result, so it adds no loop of its own.)
    Command,
    /// A scheduled event of the named rule (`None`: a rule no filter names).
    Scheduled(Option<String>),
    /// A Spot interruption warning.
    SpotInterruption,
    /// A rebalance recommendation.
    Rebalance,
    /// An EC2 state change to the named state (`None`: a state no filter names).
    InstanceState(Option<String>),
    /// A scheduled change of the named type (`None`: a type no filter names).
    Maintenance(Option<String>),
}

impl std::fmt::Display for EventClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = |p: &Place| match p {
            Place::Ec2 => "EC2",
            Place::Group => "the group",
            Place::WarmPool => "the warm pool",
        };
        match self {
            EventClass::Launching(Place::Ec2, Place::Group) => f.write_str("a launching event"),
            EventClass::Launching(from, to) => {
                write!(
                    f,
                    "a launching event from {} into {}",
                    place(from),
                    place(to)
                )
            }
            EventClass::Terminating(Place::Group, Place::Ec2) => f.write_str("a terminating event"),
            EventClass::Terminating(from, _) => {
                write!(f, "a terminating event from {}", place(from))
            }
            EventClass::Command => f.write_str("a command result"),
            EventClass::Scheduled(Some(rule)) => write!(f, "a scheduled event of `{rule}`"),
            EventClass::Scheduled(None) => f.write_str("a scheduled event"),
            EventClass::SpotInterruption => f.write_str("a Spot interruption warning"),
            EventClass::Rebalance => f.write_str("a rebalance recommendation"),
            EventClass::InstanceState(Some(state)) => write!(f, "a change to state `{state}`"),
            EventClass::InstanceState(None) => f.write_str("an instance state change"),
            EventClass::Maintenance(Some(code)) => write!(f, "a scheduled change `{code}`"),
            EventClass::Maintenance(None) => f.write_str("a scheduled change"),
        }
    }
}
