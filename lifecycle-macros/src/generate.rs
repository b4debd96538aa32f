//! Step 3: the code a user could have written by hand: the state enum, the typestate API and
//! the `LifecycleModel` implementation.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident};

use lifecycle_analysis::{Place, Route};

use crate::ast::{EventFilterDef, Model};
use crate::case::snake_case;
use crate::check::Checked;
use crate::diagram;

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
    let mermaid = diagram::mermaid(model, checked);
    let dot = diagram::dot(model, checked);
    // The dispatcher runs in `tokio::spawn` and Lambda: said here, at the model's name, rather
    // than by rustc in terms of the generated futures.
    let krate_at_ty = respan(quote!(#krate), ty.span());
    let send_sync = quote_spanned! {ty.span()=>
        impl #krate_at_ty::__private::ModelMustBeSendAndSync<#ty> for () {}
    };
    quote! {
        #send_sync
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
                        &self,
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

fn state_enum(model: &Model) -> TokenStream {
    let krate = &model.config.krate;
    let vis = &model.config.vis;
    let model_name = model.self_ty.to_string();
    let Names { state, .. } = names(model);
    let variants = &model.config.states;
    let stored: Vec<String> = variants
        .iter()
        .map(|v| snake_case(&v.to_string()))
        .collect();
    let variant_docs = stored.iter().map(|s| format!("Stored as `{s}`."));
    // Former names whose state exists and which no current state stores (the checks report
    // the others; an alias for them would only add errors).
    let (former_names, former_states): (Vec<String>, Vec<&Ident>) = model
        .config
        .renamed
        .iter()
        .chain(&model.config.retired)
        .map(|(old, now)| (snake_case(&old.to_string()), now))
        .filter(|(old, now)| !stored.contains(old) && variants.contains(now))
        .fold(
            (Vec::new(), Vec::new()),
            |(mut names, mut states), (old, now)| {
                if !names.contains(&old) {
                    names.push(old);
                    states.push(now);
                }
                (names, states)
            },
        );
    let doc = format!(
        "The states of `{model_name}`, generated by `#[lifecycle_model]`. Each is stored as its snake_case name."
    );
    let serde = quote!(#krate::__private::serde);
    let hidden = format_ident!("__{}", snake_case(&state.to_string()));
    // Declared `pub` in a private module and exported with the model's `vis`: the model type,
    // however visible, names it in its `LifecycleModel` impl, and a type declared less visible
    // than that would be "a private type in a public interface" (E0446).
    quote! {
        #[doc(hidden)]
        mod #hidden {
            #[doc = #doc]
            #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
            pub enum #state {
                #( #[doc = #variant_docs] #variants, )*
            }
        }
        #vis use #hidden::#state;

        impl #krate::State for #state {
            const ALL: &'static [Self] = &[ #( Self::#variants, )* ];
            fn name(self) -> &'static str {
                match self { #( Self::#variants => #stored, )* }
            }
            fn index(self) -> usize {
                self as usize
            }
        }

        impl ::core::fmt::Display for #state {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(#krate::State::name(*self))
            }
        }

        impl ::core::str::FromStr for #state {
            type Err = #krate::UnknownState;
            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                match s {
                    #( #stored => ::core::result::Result::Ok(Self::#variants), )*
                    // What an earlier version stored: read as the state it became.
                    #( #former_names => ::core::result::Result::Ok(Self::#former_states), )*
                    _ => ::core::result::Result::Err(#krate::UnknownState {
                        model: #model_name,
                        value: ::std::string::ToString::to_string(s),
                    }),
                }
            }
        }

        impl #serde::Serialize for #state {
            fn serialize<S: #serde::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(#krate::State::name(*self))
            }
        }

        impl<'de> #serde::Deserialize<'de> for #state {
            fn deserialize<D: #serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {
                let name = <::std::string::String as #serde::Deserialize>::deserialize(deserializer)?;
                name.parse().map_err(<D::Error as #serde::de::Error>::custom)
            }
        }
    }
}

fn typestate(model: &Model, checked: &Checked) -> TokenStream {
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
    for (index, (t, resolved)) in model
        .transitions
        .iter()
        .zip(&checked.transitions)
        .enumerate()
    {
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

fn str_list(names: &[Ident]) -> TokenStream {
    let names = names.iter().map(|n| n.to_string());
    quote!(&[ #( #names ),* ])
}

fn definition(model: &Model, checked: &Checked) -> TokenStream {
    let krate = &model.config.krate;
    let Names { state, .. } = names(model);
    let variant = |i: usize| {
        let v = &model.config.states[i];
        quote!(#state::#v)
    };
    let option = |s: Option<usize>| match s {
        Some(i) => {
            let v = variant(i);
            quote!(::core::option::Option::Some(#v))
        }
        None => quote!(::core::option::Option::None),
    };
    let list = |states: &[usize]| {
        let vs = states.iter().map(|&i| variant(i));
        quote!(&[ #( #vs ),* ])
    };
    let name = model.self_ty.to_string();
    let initial = option(checked.initial);
    let failure = option(checked.failure);
    let before_initial = list(&checked.before_initial);
    let external = list(&checked.external);
    let terminal = list(&checked.terminal);
    let schedules = list(&checked.schedules);
    let transitions = model
        .transitions
        .iter()
        .zip(&checked.transitions)
        .map(|(t, r)| {
            let trigger = t.method.to_string();
            let sources = list(&r.sources);
            let dest = option(r.dest);
            let conditions = str_list(&t.when);
            let unless = str_list(&t.unless);
            let prepare = str_list(&t.prepare);
            let before = str_list(&t.before);
            let after = str_list(&t.after);
            let ignore_errors = t.ignore_errors;
            let stop = t.stop;
            let wait = t.wait.is_some();
            let named = |name: &Option<String>| match name {
                Some(name) => quote!(::core::option::Option::Some(#name)),
                None => quote!(::core::option::Option::None),
            };
            let place = |place: Option<Place>| match place {
                Some(Place::Ec2) => quote!(::core::option::Option::Some(#krate::Location::Ec2)),
                Some(Place::Group) => {
                    quote!(::core::option::Option::Some(#krate::Location::AutoScalingGroup))
                }
                Some(Place::WarmPool) => {
                    quote!(::core::option::Option::Some(#krate::Location::WarmPool))
                }
                None => quote!(::core::option::Option::None),
            };
            let route = |r: &Route| {
                let (from, to) = (place(r.from), place(r.to));
                quote!(#krate::Route { from: #from, to: #to })
            };
            let on = t.on.iter().map(|f| match f {
                EventFilterDef::Launching(r) => {
                    let r = route(r);
                    quote!(#krate::EventFilter::Launching(#r))
                }
                EventFilterDef::Terminating(r) => {
                    let r = route(r);
                    quote!(#krate::EventFilter::Terminating(#r))
                }
                EventFilterDef::Command => quote!(#krate::EventFilter::CommandResult),
                EventFilterDef::Scheduled(rule) => {
                    let rule = named(rule);
                    quote!(#krate::EventFilter::Scheduled(#rule))
                }
                EventFilterDef::SpotInterruption => quote!(#krate::EventFilter::SpotInterruption),
                EventFilterDef::Rebalance => quote!(#krate::EventFilter::Rebalance),
                EventFilterDef::InstanceState(state) => {
                    let state = named(state);
                    quote!(#krate::EventFilter::InstanceState(#state))
                }
                EventFilterDef::Maintenance(code) => {
                    let code = named(code);
                    quote!(#krate::EventFilter::Maintenance(#code))
                }
            });
            quote! {
                #krate::Transition {
                    trigger: #trigger,
                    sources: #sources,
                    dest: #dest,
                    conditions: #conditions,
                    unless: #unless,
                    prepare: #prepare,
                    before: #before,
                    after: #after,
                    ignore_errors: #ignore_errors,
                    stop_after_trigger: #stop,
                    wait_after_state_change: #wait,
                    on: &[ #( #on ),* ],
                }
            }
        });
    let outgoing = checked.outgoing.iter().map(|o| quote!(&[ #( #o ),* ]));
    let former = checked.former.iter().map(|(name, now, retired)| {
        let now = &model.config.states[*now];
        quote!(#krate::FormerState { name: #name, now: #state::#now, retired: #retired })
    });
    quote! {
        #krate::ModelDefinition {
            name: #name,
            initial: #initial,
            before_initial: #before_initial,
            external: #external,
            terminal: #terminal,
            failure: #failure,
            schedules: #schedules,
            transitions: &[ #( #transitions ),* ],
            outgoing: &[ #( #outgoing ),* ],
            former: &[ #( #former ),* ],
        }
    }
}

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
    let call = quote_spanned!(name.span()=> self.#name(#args));
    let call = if sig.asyncness.is_some() {
        quote!(#call.await)
    } else {
        call
    };
    let span = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => Span::call_site(),
    };
    let guard = name.to_string();
    if crate::check::returns_result(sig) {
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

fn guards(model: &Model, checked: &Checked) -> TokenStream {
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
            &self,
            index: usize,
            ctx: &#krate::Context<'_>,
        ) -> ::core::result::Result<bool, #krate::TaskFailure<#error>> {
            #body
        }
    }
}

/// `self.task(ctx).await`, typed against the model's error so a mismatch is reported at the
/// task's return type.
fn task_call(model: &Model, checked: &Checked, name: &Ident) -> TokenStream {
    let krate = &model.config.krate;
    let error = &checked.error;
    let task = name.to_string();
    let span = match model.method(name).map(|sig| &sig.output) {
        Some(syn::ReturnType::Type(_, ty)) => ty.span(),
        _ => Span::call_site(),
    };
    quote_spanned! {span=>
        let result: ::core::result::Result<(), #error> = self.#name(ctx).await;
        result.map_err(|error| #krate::TaskFailure { task: #task, error })?;
    }
}

fn tasks(model: &Model, checked: &Checked) -> TokenStream {
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
        ) -> ::core::result::Result<(), #krate::TaskFailure<#error>> {
            match (index, phase) {
                #( #arms )*
                _ => ::core::result::Result::Ok(()),
            }
        }
    }
}
