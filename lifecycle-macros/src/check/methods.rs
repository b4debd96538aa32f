//! The task methods and the methods the attributes name: they exist, and have the shape the
//! dispatcher calls.

use syn::{FnArg, Ident, ReturnType, Signature, Type};

use crate::ast::Model;
use crate::case::did_you_mean;
use crate::errors::Errors;

#[derive(Clone, Copy, PartialEq)]
enum Receiver {
    Ref,
    RefMut,
    Other,
    Missing,
}

/// The kind of `self` a method takes, and the tokens to underline when it is wrong.
fn receiver(sig: &Signature) -> (Receiver, proc_macro2::TokenStream) {
    match sig.inputs.first() {
        Some(FnArg::Receiver(r)) => {
            let kind = match (&r.reference, &r.mutability, r.colon_token) {
                (Some(_), Some(_), None) => Receiver::RefMut,
                (Some(_), None, None) => Receiver::Ref,
                _ => Receiver::Other,
            };
            (kind, quote::quote!(#r))
        }
        Some(other) => (Receiver::Missing, quote::quote!(#other)),
        None => {
            let ident = &sig.ident;
            (Receiver::Missing, quote::quote!(#ident))
        }
    }
}

const TASK_SHAPE: &str = "async fn NAME(&mut self, ctx: &mut Context<'_>) -> Result<(), Error>";
const GUARD_SHAPE: &str = "fn NAME(&self, ctx: &Context<'_>) -> bool (or without ctx, or -> Result<bool, Error>; async allowed)";

/// Whether a method is declared to return a `Result` (a guard that can fail).
pub fn returns_result(sig: &Signature) -> bool {
    matches!(&sig.output, ReturnType::Type(_, ty)
        if matches!(&**ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Result")))
}

/// `&Context<'_>` (`Some(false)`), `&mut Context<'_>` (`Some(true)`), or something else.
fn context_reference(ty: &Type) -> Option<bool> {
    let Type::Reference(r) = ty else {
        return None;
    };
    let Type::Path(p) = &*r.elem else {
        return None;
    };
    p.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "Context")
        .then_some(r.mutability.is_some())
}

/// The type of a method's argument after `self`, if it has one.
fn context_argument(sig: &Signature) -> Option<&Type> {
    match sig.inputs.iter().nth(1) {
        Some(FnArg::Typed(arg)) => Some(&arg.ty),
        _ => None,
    }
}

/// The task methods and the methods attributes name must exist and have the shape the
/// dispatcher calls.
pub(super) fn check_methods(model: &Model, errors: &mut Errors) {
    let mut checked_tasks: Vec<String> = Vec::new();
    let mut checked_guards: Vec<String> = Vec::new();
    for t in &model.transitions {
        let tasks = std::iter::once((&t.method, true)).chain(
            t.prepare
                .iter()
                .chain(&t.before)
                .chain(&t.after)
                .map(|m| (m, false)),
        );
        for (name, is_task_method) in tasks {
            let Some(sig) = find_method(model, name, "task", errors) else {
                continue;
            };
            if checked_tasks.contains(&name.to_string()) {
                continue;
            }
            checked_tasks.push(name.to_string());
            let what = if is_task_method {
                "task"
            } else {
                "task method"
            };
            if sig.asyncness.is_none() {
                errors.at(
                    sig.fn_token.span,
                    format!(
                        "{what} `{name}` must be `async`: the dispatcher awaits it; expected `{}`",
                        TASK_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            }
            let (kind, tokens) = receiver(sig);
            if kind != Receiver::RefMut {
                errors.spanned(
                    tokens,
                    format!(
                        "{what} `{name}` must take `&mut self`; expected `{}`",
                        TASK_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            } else if sig.inputs.len() != 2 {
                errors.spanned(
                    &sig.inputs,
                    format!(
                        "{what} `{name}` takes {} argument(s) besides `self`; it must take exactly one, the context: `{}`",
                        sig.inputs.len() - 1,
                        TASK_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            }
            if let Some(ty) = context_argument(sig)
                && sig.inputs.len() == 2
                && context_reference(ty).is_none()
            {
                errors.spanned(
                    ty,
                    format!(
                        "the context of {what} `{name}` is `&mut Context<'_>` (from `lifecycle_core`): `{}`",
                        TASK_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            }
            if matches!(sig.output, ReturnType::Default) {
                errors.at(
                    sig.paren_token.span.close(),
                    format!("{what} `{name}` must return `Result<(), Error>` with the model's error type"),
                );
            }
        }
        for name in t.when.iter().chain(&t.unless) {
            let Some(sig) = find_method(model, name, "guard", errors) else {
                continue;
            };
            if checked_guards.contains(&name.to_string()) {
                continue;
            }
            checked_guards.push(name.to_string());
            let (kind, tokens) = receiver(sig);
            if kind != Receiver::Ref {
                errors.spanned(
                    tokens,
                    format!(
                        "guard `{name}` must take `&self` (guards only look): `{}`",
                        GUARD_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            } else if sig.inputs.len() > 2 {
                errors.spanned(
                    &sig.inputs,
                    format!(
                        "guard `{name}` takes too many arguments: `{}`",
                        GUARD_SHAPE.replace("NAME", &name.to_string())
                    ),
                );
            }
            if let Some(ty) = context_argument(sig) {
                match context_reference(ty) {
                    Some(false) => {}
                    Some(true) => errors.spanned(
                        ty,
                        format!("guard `{name}` takes `&Context<'_>`, not `&mut`: guards only look (set attributes in a task, e.g. a `prepare` task)"),
                    ),
                    None => errors.spanned(
                        ty,
                        format!(
                            "the context of guard `{name}` is `&Context<'_>` (from `lifecycle_core`): `{}`",
                            GUARD_SHAPE.replace("NAME", &name.to_string())
                        ),
                    ),
                }
            }
            match &sig.output {
                ReturnType::Default => errors.at(
                    sig.paren_token.span.close(),
                    format!("guard `{name}` must return `bool`, or `Result<bool, Error>` with the model's error type"),
                ),
                ReturnType::Type(_, ty)
                    if !returns_result(sig)
                        && !matches!(&**ty, Type::Path(p) if p.path.is_ident("bool")) =>
                {
                    errors.spanned(
                        ty,
                        format!("guard `{name}` must return `bool`, or `Result<bool, Error>` with the model's error type"),
                    )
                }
                _ => {}
            }
        }
    }
}

fn find_method<'m>(
    model: &'m Model,
    name: &Ident,
    role: &str,
    errors: &mut Errors,
) -> Option<&'m Signature> {
    let found = model.method(name);
    if found.is_none() {
        let names: Vec<String> = model.methods.iter().map(|m| m.ident.to_string()).collect();
        let message = match did_you_mean(&name.to_string(), names.iter().map(String::as_str)) {
            Some(close) => {
                format!("no method `{name}` in this impl block; did you mean `{close}`?")
            }
            None => format!(
                "no method `{name}` in this impl block: define the {role} `{name}` here, in the model's #[lifecycle_model] impl"
            ),
        };
        errors.at(name.span(), message);
    }
    found
}
