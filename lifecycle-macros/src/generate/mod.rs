//! Step 3: the code a user could have written by hand: the state enum ([`state_enum`]), the
//! typestate API ([`typestate`]) and the `LifecycleModel` implementation: the model's
//! definition ([`definition`]), its guards and tasks ([`tasks`]) and its diagrams
//! ([`diagram`]).

mod definition;
mod diagram;
mod state_enum;
mod tasks;
mod typestate;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;

use crate::ast::Model;
use crate::case::snake_case;
use crate::check::Checked;

use definition::definition;
use state_enum::state_enum;
use tasks::{guards, tasks};
use typestate::typestate;

/// The names of the items generated beside the model `M`: `MState`, `MHandle`, `m_state`.
struct Names {
    state: Ident,
    handle: Ident,
    module: Ident,
}

fn names(model: &Model) -> Names {
    let ty = &model.self_ty;
    Names {
        state: format_ident!("{}State", ty),
        handle: format_ident!("{}Handle", ty),
        module: format_ident!("{}_state", snake_case(&ty.to_string())),
    }
}

pub fn model(model: &Model, checked: &Checked) -> TokenStream {
    let krate = &model.config.krate;
    let ty = &model.self_ty;
    let Names { state, .. } = names(model);
    let error = &checked.error;
    let item = &model.item;
    let state_enum = state_enum(model);
    let typestate = typestate(model, checked);
    let definition = definition(model, checked);
    let guards = guards(model, checked);
    let tasks = tasks(model, checked);
    let mermaid = diagram::mermaid(checked);
    let dot = diagram::dot(model, checked);
    // The dispatcher runs in `tokio::spawn` and Lambda, so the model must be `Send`: rustc says
    // so once, at the model's name (`LifecycleModel: Send`, checked on the impl below). The
    // impl is unconditional, so the user's code that uses the model adds nothing; its futures
    // assume the model is `Send` (the methods' `where` clause) and check each task's own.
    quote! {
        #item
        #state_enum
        #typestate

        impl #krate::LifecycleModel for #ty {
            type State = #state;
            type Error = #error;
            const DEFINITION: #krate::ModelDefinition<#state> = #definition;
            const MERMAID: &'static str = #mermaid;
            const DOT: &'static str = #dot;
            #guards
            #tasks
        }
    }
}

/// After errors: the errors, plus the user's methods and the state enum, so that code using
/// them does not add a cascade of "not found" errors.
pub fn after_errors(model: &Model, error: syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    let item = &model.item;
    let mut declared: Vec<String> = model.config.states.iter().map(|s| s.to_string()).collect();
    declared.sort();
    declared.dedup();
    if declared.len() != model.config.states.len() || declared.is_empty() {
        return quote! { #error #item };
    }
    let state_enum = state_enum(model);
    // With a state enum and an error type, the model still implements `LifecycleModel`, with
    // nothing in it: the user's tests and `main`, which use it, compile on, and the errors
    // above are the only ones. (The crate fails to compile anyway: this is never run.)
    let fallback = match &model.config.error {
        Some(error_ty) => {
            let krate = &model.config.krate;
            let ty = &model.self_ty;
            let Names { state, .. } = names(model);
            let name = ty.to_string();
            quote! {
                impl #krate::LifecycleModel for #ty {
                    type State = #state;
                    type Error = #error_ty;
                    const DEFINITION: #krate::ModelDefinition<#state> = #krate::ModelDefinition {
                        name: #name,
                        initial: ::core::option::Option::None,
                        before_initial: &[],
                        external: &[],
                        terminal: &[],
                        failure: ::core::option::Option::None,
                        schedules: &[],
                        transitions: &[],
                        outgoing: &[],
                        former: &[],
                    };
                    const MERMAID: &'static str = "";
                    const DOT: &'static str = "";
                    // Futures that hold nothing of the model's: whatever it is, they are Send.
                    fn check_guards(
                        &mut self,
                        _index: usize,
                        _ctx: &#krate::Context<'_>,
                    ) -> impl ::core::future::Future<
                        Output = ::core::result::Result<bool, #krate::TaskFailure<Self::Error>>,
                    > + ::core::marker::Send {
                        ::core::future::ready(::core::result::Result::Ok(false))
                    }
                    fn run_tasks(
                        &mut self,
                        _index: usize,
                        _phase: #krate::Phase,
                        _ctx: &mut #krate::Context<'_>,
                    ) -> impl ::core::future::Future<
                        Output = ::core::result::Result<(), #krate::TaskFailure<Self::Error>>,
                    > + ::core::marker::Send {
                        ::core::future::ready(::core::result::Result::Ok(()))
                    }
                }
            }
        }
        None => TokenStream::new(),
    };
    quote! { #error #item #state_enum #fallback }
}
