//! The typestate API: a marker type per state and a handle whose methods are the transitions
//! declared from its state.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Model;
use crate::check::Checked;

use super::{Names, names};

pub(super) fn typestate(model: &Model, checked: &Checked) -> TokenStream {
    let krate = &model.config.krate;
    let vis = &model.config.vis;
    let ty = &model.self_ty;
    let Names {
        state,
        handle,
        module,
    } = names(model);
    let variants = &model.config.states;
    let marker_vis = marker_visibility(vis);
    let marker_docs = checked
        .names
        .iter()
        .map(|n| format!("The state `{n}`, as a type for `{handle}`."));
    let module_doc =
        format!("One type per state of [`{ty}`], for the typestate API of [`{handle}`].");
    let handle_doc = format!(
        "[`{ty}`] in the state `S`: only the transitions declared from that state can be called, and each returns the handle in its destination state. Tasks run with no guards and no store; the dispatcher is what runs events."
    );

    let new = checked.initial.map(|i| {
        let initial = &variants[i];
        quote! {
            impl<'m> #krate::Start<'m, #ty> for #handle<'m, #module::#initial> {
                fn new(model: &'m mut #ty) -> Self {
                    Self { model: #krate::__private::Held::new(model), state: ::core::marker::PhantomData }
                }
            }
        }
    });

    let mut methods = Vec::new();
    for (index, resolved) in checked.transitions.iter().enumerate() {
        let t = resolved.def;
        let error = &checked.error;
        let method = &t.method;
        for &source in &resolved.sources {
            let from = &variants[source];
            let to = &variants[resolved.dest.unwrap_or(source)];
            let doc = match resolved.dest {
                Some(d) => format!(
                    "Runs the tasks of `{method}` and moves from `{}` to `{}`.",
                    checked.names[source], checked.names[d]
                ),
                None => format!(
                    "Runs the tasks of `{method}` (an internal transition: the state stays `{}`).",
                    checked.names[source]
                ),
            };
            let docs = &t.docs;
            // The task's own doc comment first, then what the handle adds to it.
            let separator = (!docs.is_empty()).then(|| quote! { #[doc = ""] });
            methods.push(quote! {
                #[allow(dead_code)]
                impl<'m> #handle<'m, #module::#from> {
                    #(#docs)*
                    #separator
                    #[doc = #doc]
                    pub async fn #method(
                        mut self,
                        ctx: &mut #krate::Context<'_>,
                    ) -> ::core::result::Result<#handle<'m, #module::#to>, #krate::TaskFailure<#error>> {
                        #krate::__private::run_transition(self.model.get_mut(), #index, ctx).await?;
                        ::core::result::Result::Ok(#handle { model: self.model, state: ::core::marker::PhantomData })
                    }
                }
            });
        }
    }

    quote! {
        #[doc = #module_doc]
        #[allow(dead_code)]
        #vis mod #module {
            #(
                #[doc = #marker_docs]
                #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
                #marker_vis struct #variants;
            )*
        }

        // Outside the module: a model declared inside a function body (doctests, tests) is not
        // visible from a module nested in it.
        #(
            impl #krate::TypedState for #module::#variants {
                type State = #state;
                const STATE: #state = #state::#variants;
            }
        )*

        #[doc = #handle_doc]
        #[allow(dead_code)]
        #vis struct #handle<'m, S> {
            model: #krate::__private::Held<'m, #ty>,
            state: ::core::marker::PhantomData<S>,
        }

        // On a trait, so that no task's name (`state`, `resume`, ...) can collide with them.
        impl<'m, S: #krate::TypedState<State = #state>> #krate::Typestate<'m, #ty> for #handle<'m, S> {
            type State = #state;

            fn resume(model: &'m mut #ty, state: #state) -> ::core::result::Result<Self, #krate::WrongState> {
                if state == S::STATE {
                    ::core::result::Result::Ok(Self { model: #krate::__private::Held::new(model), state: ::core::marker::PhantomData })
                } else {
                    ::core::result::Result::Err(#krate::WrongState {
                        expected: #krate::State::name(S::STATE),
                        actual: ::std::string::ToString::to_string(#krate::State::name(state)),
                    })
                }
            }

            fn state(&self) -> #state {
                S::STATE
            }

            fn model(&self) -> &#ty {
                self.model.get()
            }

            fn model_mut(&mut self) -> &mut #ty {
                self.model.get_mut()
            }

            fn into_model(self) -> &'m mut #ty {
                self.model.into_inner()
            }
        }

        #new
        #( #methods )*
    }
}

/// The visibility of the state marker types, which live one module deeper than the model's
/// other items but must be exactly as visible as the state enum.
fn marker_visibility(vis: &syn::Visibility) -> TokenStream {
    match vis {
        syn::Visibility::Public(_) => quote!(pub),
        syn::Visibility::Restricted(r) if r.path.is_ident("crate") => quote!(pub(crate)),
        // Private to the model's module, or `pub(super)`/`pub(in ...)`: visible to the
        // model's module is what the enum gets at least, and more would leak it.
        _ => quote!(pub(super)),
    }
}
