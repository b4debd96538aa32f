//! The `#[lifecycle_model]` attribute. Use it through `lifecycle_core::lifecycle_model`, which
//! documents the syntax.
//!
//! Expansion is three steps, one module each: `ast` parses the `impl` block and its
//! attributes, `check` validates the model and collects every error (the graph checks —
//! reachability, liveness, loops, dead triggers — are `lifecycle-analysis`, a plain library
//! that can be tested on its own), `generate` (with `diagram`) writes the code.
//!
//! ```
//! use lifecycle_core::{Context, LifecycleModel, lifecycle_model};
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("never")]
//! pub struct Never;
//!
//! pub struct Job;
//!
//! #[lifecycle_model(states(Queued, Done), initial = Queued, terminal(Done), error = Never)]
//! impl Job {
//!     #[transition(from = Queued, to = Done, on(launching), ignore_errors)]
//!     async fn run(&mut self, _ctx: &mut Context<'_>) -> Result<(), Never> {
//!         Ok(())
//!     }
//! }
//!
//! // Generated: the state enum, the model as data, the diagrams, the typestate handles.
//! assert_eq!(JobState::Queued.to_string(), "queued");
//! assert_eq!(Job::DEFINITION.transitions[0].trigger, "run");
//! assert!(Job::MERMAID.contains("queued --> done"));
//! ```

mod ast;
mod case;
mod check;
mod errors;
mod generate;

use proc_macro::TokenStream;

/// Turns an `impl` block into a checked lifecycle model. The syntax, with examples, is on
/// `lifecycle_core::lifecycle_model`, the re-export this crate is used through.
///
/// ```compile_fail
/// use lifecycle_core::{Context, lifecycle_model};
/// # #[derive(Debug, thiserror::Error)] #[error("never")] pub struct Never;
/// pub struct Job;
///
/// // `Dnoe` is no state: the model does not compile, and the error points at `Dnoe`.
/// #[lifecycle_model(states(Queued, Done), initial = Queued, terminal(Done), error = Never)]
/// impl Job {
///     #[transition(from = Queued, to = Dnoe, ignore_errors)]
///     async fn run(&mut self, _ctx: &mut Context<'_>) -> Result<(), Never> {
///         Ok(())
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn lifecycle_model(args: TokenStream, input: TokenStream) -> TokenStream {
    expand(args.into(), input.into()).into()
}

fn expand(
    args: proc_macro2::TokenStream,
    input: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let mut errors = errors::Errors::default();
    let model = match ast::Model::parse(args, input.clone(), &mut errors) {
        Ok(model) => model,
        // Not a model at all: say so, and give rustc back what it gave us.
        Err(error) => {
            let error = error.to_compile_error();
            return quote::quote! { #error #input };
        }
    };
    let checked = check::check(&model, &mut errors);
    match (errors.into_result(), checked) {
        (Ok(()), Some(checked)) => generate::model(&model, &checked),
        (Err(error), _) => generate::after_errors(&model, error),
        (Ok(()), None) => unreachable!("a check that fails records an error"),
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    /// The macro cannot depend on lifecycle-core (core re-exports it), so it keeps its own list
    /// of the states `on(instance_state = "...")` accepts: the same as the core's.
    #[test]
    fn the_instance_states_checked_are_the_cores() {
        assert_eq!(crate::ast::EC2_STATES, lifecycle_core::EC2_STATES);
    }

    /// A task's doc comment is what a reader of the typestate handle's method needs too.
    #[test]
    fn task_doc_comments_are_carried_to_the_handle_methods() {
        let output = super::expand(
            quote! { states(A, B), initial = A, terminal(B), error = E },
            quote! {
                impl M {
                    /// Joins the cluster.
                    #[transition(from = A, to = B, ignore_errors)]
                    async fn join(&mut self, ctx: &mut Context<'_>) -> Result<(), E> { Ok(()) }
                }
            },
        )
        .to_string();
        let method = output
            .find("pub async fn join")
            .expect("the handle has the method");
        let handle_impl = output[..method]
            .rfind("impl < 'm > MHandle")
            .expect("in the handle's impl");
        let docs = &output[handle_impl..method];
        assert!(docs.contains("\" Joins the cluster.\""), "{docs}");
        assert!(
            docs.contains("moves from `a` to `b`"),
            "the handle's own note follows: {docs}"
        );
    }
}
