use lifecycle_core::lifecycle_model;

#[lifecycle_model(states(A), initial = A, terminal(A), error = std::fmt::Error)]
pub struct Node;

pub trait Lifecycle {}

pub struct Other;

#[lifecycle_model(states(A), initial = A, terminal(A), error = std::fmt::Error)]
impl Lifecycle for Other {}

fn main() {}
