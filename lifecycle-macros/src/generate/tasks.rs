//! The model's `check_guards` and `run_tasks`: a `match` on the transition's index that calls
//! the user's methods.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident};

use crate::ast::Model;
use crate::check::{Checked, returns_result};

/// A guard's answer as a `bool`: the call, awaited if the guard is async, typed against what
/// the guard declares (so a mismatch is reported at its return type), and a `Result` guard's
/// error returned as the trigger's failure.
fn guard_call(model: &Model, checked: &Checked, name: &Ident) -> TokenStream {
    let krate = &model.config.krate;
    let error = &checked.error;
    let sig = model.method(name).expect("checked: guards exist");
    let takes_ctx = sig
        .inputs
        .iter()
        .filter(|a| matches!(a, FnArg::Typed(_)))
        .count()
        == 1;
    let args = if takes_ctx { quote!(ctx) } else { quote!() };
    let span = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => Span::call_site(),
    };
    let call = quote_spanned!(name.span()=> self.#name(#args));
    // An async guard's future is checked to be `Send` at the guard's name (see `task_call`).
    let call = if sig.asyncness.is_some() {
        let require_send = respan(quote!(#krate::__private::require_send), span);
        quote_spanned!(span=> #require_send(#call).await)
    } else {
        call
    };
    let guard = name.to_string();
    if returns_result(sig) {
        quote_spanned! {span=> {
            let answer: ::core::result::Result<bool, #error> = #call;
            answer.map_err(|error| #krate::TaskFailure { task: #guard, error })?
        }}
    } else {
        quote_spanned! {span=> {
            let answer: bool = #call;
            answer
        }}
    }
}

pub(super) fn guards(model: &Model, checked: &Checked) -> TokenStream {
    let krate = &model.config.krate;
    let error = &checked.error;
    let arms: Vec<TokenStream> = model
        .transitions
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_guarded())
        .map(|(index, t)| {
            let when = t.when.iter().map(|g| guard_call(model, checked, g));
            let unless = t.unless.iter().map(|g| guard_call(model, checked, g));
            quote! {
                #index => {
                    #( if !#when { return ::core::result::Result::Ok(false); } )*
                    #( if #unless { return ::core::result::Result::Ok(false); } )*
                    ::core::result::Result::Ok(true)
                }
            }
        })
        .collect();
    let body = if arms.is_empty() {
        quote!(let _ = (index, ctx); ::core::result::Result::Ok(true))
    } else {
        quote!(match index { #( #arms )* _ => ::core::result::Result::Ok(true) })
    };
    quote! {
        async fn check_guards(
            &mut self,
            index: usize,
            ctx: &#krate::Context<'_>,
        ) -> ::core::result::Result<bool, #krate::TaskFailure<#error>>
        where
            for<'m> &'m mut Self: ::core::marker::Send,
        {
            #body
        }
    }
}

/// `self.task(ctx).await`, typed against the model's error so a mismatch is reported at the
/// task's return type, and its future checked to be `Send` at the task's name: a task that
/// holds something not `Send` across an await gets one error there, not one at the attribute.
fn task_call(model: &Model, checked: &Checked, name: &Ident) -> TokenStream {
    let krate = &model.config.krate;
    let error = &checked.error;
    let task = name.to_string();
    let span = match model.method(name).map(|sig| &sig.output) {
        Some(syn::ReturnType::Type(_, ty)) => ty.span(),
        _ => Span::call_site(),
    };
    let future = quote_spanned!(name.span()=> self.#name(ctx));
    // The whole call at the return type, `krate`'s path too: a mismatched error type is
    // reported there, not at the attribute.
    let require_send = respan(quote!(#krate::__private::require_send), span);
    quote_spanned! {span=>
        let result: ::core::result::Result<(), #error> = #require_send(#future).await;
        result.map_err(|error| #krate::TaskFailure { task: #task, error })?;
    }
}

pub(super) fn tasks(model: &Model, checked: &Checked) -> TokenStream {
    let krate = &model.config.krate;
    let error = &checked.error;
    let phase = |p: &str| {
        let p = format_ident!("{}", p);
        quote!(#krate::Phase::#p)
    };
    let mut arms = Vec::new();
    for (index, t) in model.transitions.iter().enumerate() {
        let groups = [
            ("Prepare", t.prepare.iter().collect::<Vec<_>>()),
            (
                "Before",
                t.before.iter().chain(std::iter::once(&t.method)).collect(),
            ),
            ("After", t.after.iter().collect()),
        ];
        for (p, tasks) in groups {
            if tasks.is_empty() {
                continue;
            }
            let p = phase(p);
            let calls = tasks.iter().map(|name| task_call(model, checked, name));
            arms.push(quote! {
                (#index, #p) => {
                    #( #calls )*
                    ::core::result::Result::Ok(())
                }
            });
        }
    }
    quote! {
        async fn run_tasks(
            &mut self,
            index: usize,
            phase: #krate::Phase,
            ctx: &mut #krate::Context<'_>,
        ) -> ::core::result::Result<(), #krate::TaskFailure<#error>>
        where
            for<'m> &'m mut Self: ::core::marker::Send,
        {
            match (index, phase) {
                #( #arms )*
                _ => ::core::result::Result::Ok(()),
            }
        }
    }
}

/// `tokens`, every one of them at `span`: where rustc should point.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = proc_macro2::TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}
