//! The model's definition: what the dispatcher reads of it (states, transitions, filters).

use proc_macro2::TokenStream;
use quote::quote;
use syn::Ident;

use lifecycle_analysis::{On, Place, Route};

use crate::ast::Model;
use crate::check::Checked;

use super::{Names, names};

fn str_list(names: &[Ident]) -> TokenStream {
    let names = names.iter().map(|n| n.to_string());
    quote!(&[ #( #names ),* ])
}

pub(super) fn definition(model: &Model, checked: &Checked) -> TokenStream {
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
    let transitions = checked.transitions.iter().map(|r| {
        let t = r.def;
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
        let on = t.on.iter().map(|f| match &f.on {
            On::Launching(r) => {
                let r = route(r);
                quote!(#krate::EventFilter::Launching(#r))
            }
            On::Terminating(r) => {
                let r = route(r);
                quote!(#krate::EventFilter::Terminating(#r))
            }
            On::Command => quote!(#krate::EventFilter::CommandResult),
            On::Scheduled(rule) => {
                let rule = named(rule);
                quote!(#krate::EventFilter::Scheduled(#rule))
            }
            On::SpotInterruption => quote!(#krate::EventFilter::SpotInterruption),
            On::Rebalance => quote!(#krate::EventFilter::Rebalance),
            On::InstanceState(state) => {
                let state = named(state);
                quote!(#krate::EventFilter::InstanceState(#state))
            }
            On::Maintenance(code) => {
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
