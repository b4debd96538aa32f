//! Step 1: the `impl` block and its attributes, parsed into a small model.
//!
//! Parsing keeps going after a bad key or value where it can, so that one expansion reports
//! every mistake at once.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Ident, ImplItem, ItemImpl, LitStr, Path, Signature, Token, Type, Visibility};

use lifecycle_analysis::{On, Place, Route};

use crate::case::did_you_mean;
use crate::errors::Errors;

pub struct Model {
    /// The user's impl block with our `#[transition]` attributes removed.
    pub item: ItemImpl,
    pub self_ty: Ident,
    pub config: Config,
    pub transitions: Vec<TransitionDef>,
    /// Some `#[transition]` could not be parsed at all.
    pub transitions_dropped: bool,
    /// Every method of the impl block: tasks, guards and helpers.
    pub methods: Vec<Signature>,
}

pub struct Config {
    pub states: Vec<Ident>,
    pub initial: Option<Ident>,
    pub before_initial: Vec<Ident>,
    pub external: Vec<Ident>,
    pub terminal: Vec<Ident>,
    pub failure: Option<Ident>,
    pub schedules: Vec<Ident>,
    /// `renamed(old = New, ...)`: stored names of an earlier version, and their new states.
    pub renamed: Vec<(Ident, Ident)>,
    /// `retired(old => State, ...)`: stored names of states that are gone, and where their
    /// records go.
    pub retired: Vec<(Ident, Ident)>,
    pub error: Option<Type>,
    pub krate: Path,
    pub vis: Visibility,
}

pub struct TransitionDef {
    pub method: Ident,
    /// The `transition` token of the attribute.
    pub span: Span,
    pub from: Vec<Ident>,
    pub to: Option<Ident>,
    pub when: Vec<Ident>,
    pub unless: Vec<Ident>,
    pub prepare: Vec<Ident>,
    pub before: Vec<Ident>,
    pub after: Vec<Ident>,
    pub ignore_errors: bool,
    pub stop: bool,
    pub wait: Option<Span>,
    pub settle: bool,
    pub on: Vec<EventFilter>,
    /// Part of the attribute was rejected: the transition is incomplete.
    pub malformed: bool,
    /// The task method's doc comments, carried to the typestate handle's method.
    pub docs: Vec<syn::Attribute>,
}

impl TransitionDef {
    pub fn is_guarded(&self) -> bool {
        !self.when.is_empty() || !self.unless.is_empty()
    }

    /// The token of the first filter of `on` that `wanted` picks, or of the attribute: where
    /// an error about such a filter points.
    pub fn filter_span(&self, wanted: impl Fn(&On) -> bool) -> Span {
        self.on
            .iter()
            .find(|f| wanted(&f.on))
            .map_or(self.span, |f| f.span)
    }
}

/// One filter of `on(...)`: the analysis's own value, and the token that wrote it.
pub struct EventFilter {
    pub on: On,
    pub span: Span,
}

/// The places a route names in the attribute (`launching(to = warm_pool)`), in the order of
/// [`Place`]'s variants.
pub const PLACE_NAMES: &[&str] = &["ec2", "auto_scaling_group", "warm_pool"];

/// How the attribute writes `place`.
pub fn place_name(place: Place) -> &'static str {
    match place {
        Place::Ec2 => PLACE_NAMES[0],
        Place::Group => PLACE_NAMES[1],
        Place::WarmPool => PLACE_NAMES[2],
    }
}

fn place_named(name: &str) -> Option<Place> {
    [Place::Ec2, Place::Group, Place::WarmPool]
        .into_iter()
        .find(|&p| place_name(p) == name)
}

/// The state names EC2's state-change notifications carry (`lifecycle_core::EC2_STATES`).
pub(crate) const EC2_STATES: &[&str] = &[
    "pending",
    "running",
    "stopping",
    "stopped",
    "shutting-down",
    "terminated",
];

const EVENTS: &str = "launching, terminating, command, scheduled, spot_interruption, rebalance, instance_state, maintenance";

const MODEL_KEYS: &str = "states, initial, before_initial, external, terminal, failure, schedules, renamed, retired, error, crate, vis";
const TRANSITION_KEYS: &str =
    "from, to, when, unless, prepare, before, after, ignore_errors, stop, wait, settle, on";

/// The original library's transition keys, and what they are here.
const ORIGINAL_KEYS: &[(&str, &str)] = &[
    ("source", "from"),
    ("dest", "to"),
    ("conditions", "when"),
    ("stop_after_state_change", "wait"),
    ("after_state_change", "wait"),
    ("wait_for_next_event", "wait"),
    ("stop_after_trigger", "stop"),
];

/// "unknown key" with the likeliest meant key: the original library's name for it, or a
/// close spelling.
fn unknown_key(key: &str, attribute: &str, keys: &str) -> String {
    if let Some((_, ours)) = ORIGINAL_KEYS.iter().find(|(theirs, _)| *theirs == key) {
        return format!(
            "unknown key `{key}` in #[{attribute}]; did you mean `{ours}`? (`{key}` is the original library's name for it)"
        );
    }
    if matches!(key, "name" | "trigger" | "triggers") {
        return format!(
            "unknown key `{key}` in #[{attribute}]: the trigger is the task method itself, named by the method's name"
        );
    }
    match did_you_mean(key, keys.split(", ")) {
        Some(close) => format!("unknown key `{key}` in #[{attribute}]; did you mean `{close}`?"),
        None => format!("unknown key `{key}` in #[{attribute}]; expected one of: {keys}"),
    }
}

impl Model {
    /// Fails only when the input is not an inherent impl block of a plain type; everything
    /// else is recorded in `errors` and parsing goes on.
    pub fn parse(args: TokenStream, input: TokenStream, errors: &mut Errors) -> syn::Result<Model> {
        let mut item: ItemImpl = syn::parse2(input).map_err(|e| {
            syn::Error::new(
                e.span(),
                "#[lifecycle_model] goes on an `impl YourModel { ... }` block",
            )
        })?;
        if let Some((_, path, _)) = &item.trait_ {
            return Err(syn::Error::new(
                path.span(),
                "#[lifecycle_model] goes on an inherent `impl YourModel { ... }` block, not a trait impl",
            ));
        }
        if !item.generics.params.is_empty() {
            return Err(syn::Error::new(
                item.generics.span(),
                "lifecycle models cannot be generic: remove the generic parameters",
            ));
        }
        let self_ty = match &*item.self_ty {
            Type::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
            _ => None,
        }
        .ok_or_else(|| {
            syn::Error::new(
                item.self_ty.span(),
                "#[lifecycle_model] needs the model's plain type name here, e.g. `impl Node`",
            )
        })?;

        let config = Config::parse(args, errors);
        let mut transitions = Vec::new();
        let mut transitions_dropped = false;
        let mut methods = Vec::new();
        for impl_item in &mut item.items {
            let (attrs, method) = match impl_item {
                ImplItem::Fn(f) => (&mut f.attrs, Some(&f.sig)),
                ImplItem::Const(c) => (&mut c.attrs, None),
                ImplItem::Type(t) => (&mut t.attrs, None),
                ImplItem::Macro(m) => (&mut m.attrs, None),
                _ => continue,
            };
            let mut kept = Vec::with_capacity(attrs.len());
            let first = transitions.len();
            for attr in attrs.drain(..) {
                if !attr.path().is_ident("transition") {
                    kept.push(attr);
                    continue;
                }
                match method {
                    Some(sig) => match TransitionDef::parse(&attr, sig.ident.clone(), errors) {
                        Some(t) => transitions.push(t),
                        None => transitions_dropped = true,
                    },
                    None => errors.push(syn::Error::new(
                        attr.path().span(),
                        "#[transition] goes on a task method (`async fn name(&mut self, ctx: &mut Context<'_>) -> Result<(), Error>`)",
                    )),
                }
            }
            let docs: Vec<syn::Attribute> = kept
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .cloned()
                .collect();
            for t in &mut transitions[first..] {
                t.docs = docs.clone();
            }
            *attrs = kept;
            if let Some(sig) = method {
                methods.push(sig.clone());
            }
        }
        Ok(Model {
            item,
            self_ty,
            config,
            transitions,
            transitions_dropped,
            methods,
        })
    }

    pub fn method(&self, name: &Ident) -> Option<&Signature> {
        self.methods.iter().find(|m| m.ident == *name)
    }
}

impl Config {
    fn parse(args: TokenStream, errors: &mut Errors) -> Config {
        let mut config = Config {
            states: Vec::new(),
            initial: None,
            before_initial: Vec::new(),
            external: Vec::new(),
            terminal: Vec::new(),
            failure: None,
            schedules: Vec::new(),
            renamed: Vec::new(),
            retired: Vec::new(),
            error: None,
            krate: syn::parse_quote!(::lifecycle_core),
            vis: syn::parse_quote!(pub),
        };
        let mut seen: Vec<String> = Vec::new();
        let parser = syn::meta::parser(|meta| {
            let key = key_of(&meta);
            if seen.contains(&key) {
                errors.push(meta.error(format!("`{key}` is given twice: give it once")));
                return skip_value(&meta);
            }
            seen.push(key.clone());
            match key.as_str() {
                "states" => config.states = idents(&meta)?,
                "initial" => config.initial = Some(single_ident(&meta)?),
                "before_initial" => config.before_initial = idents(&meta)?,
                "external" => config.external = idents(&meta)?,
                "terminal" => config.terminal = idents(&meta)?,
                "failure" => config.failure = Some(single_ident(&meta)?),
                "schedules" => config.schedules = idents(&meta)?,
                "renamed" => config.renamed = former_states(&meta, false, errors)?,
                "retired" => config.retired = former_states(&meta, true, errors)?,
                "error" => config.error = Some(meta.value()?.parse()?),
                "crate" => config.krate = meta.value()?.parse()?,
                "vis" => config.vis = meta.value()?.parse()?,
                _ => {
                    errors.push(meta.error(unknown_key(&key, "lifecycle_model", MODEL_KEYS)));
                    return skip_value(&meta);
                }
            }
            Ok(())
        });
        if let Err(e) = parser.parse2(args) {
            errors.push(e);
        }
        config
    }
}

impl TransitionDef {
    fn parse(attr: &syn::Attribute, method: Ident, errors: &mut Errors) -> Option<TransitionDef> {
        let mut def = TransitionDef {
            method,
            span: attr.path().span(),
            from: Vec::new(),
            to: None,
            when: Vec::new(),
            unless: Vec::new(),
            prepare: Vec::new(),
            before: Vec::new(),
            after: Vec::new(),
            ignore_errors: false,
            stop: false,
            wait: None,
            settle: false,
            on: Vec::new(),
            malformed: false,
            docs: Vec::new(),
        };
        if matches!(attr.meta, syn::Meta::Path(_)) {
            errors.push(syn::Error::new(
                def.span,
                "#[transition] needs at least a source: `#[transition(from = State, to = State)]`",
            ));
            return None;
        }
        let mut seen: Vec<String> = Vec::new();
        let errors_before = errors.count();
        let result = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            if seen.contains(&key) {
                errors.push(meta.error(format!(
                    "`{key}` is given twice: list the values once, as `{key}(a, b)`"
                )));
                return skip_value(&meta);
            }
            seen.push(key.clone());
            match key.as_str() {
                "from" => def.from = idents(&meta)?,
                "to" => def.to = Some(single_ident(&meta)?),
                "when" => def.when = idents(&meta)?,
                "unless" => def.unless = idents(&meta)?,
                "prepare" => def.prepare = idents(&meta)?,
                "before" => def.before = idents(&meta)?,
                "after" => def.after = idents(&meta)?,
                "ignore_errors" => def.ignore_errors = flag(&meta, errors)?,
                "stop" => def.stop = flag(&meta, errors)?,
                "wait" => {
                    if flag(&meta, errors)? {
                        def.wait = Some(meta.path.span());
                    }
                }
                "settle" => def.settle = flag(&meta, errors)?,
                "on" => def.on = event_filters(&meta, errors)?,
                _ => {
                    errors.push(meta.error(unknown_key(&key, "transition", TRANSITION_KEYS)));
                    return skip_value(&meta);
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            errors.push(e);
            return None;
        }
        def.malformed = errors.count() > errors_before;
        if def.from.is_empty() && def.malformed {
            // A rejected key was probably meant as the source (`source = A`): said already.
            return None;
        }
        if def.from.is_empty() {
            errors.push(syn::Error::new(
                def.span,
                "this transition has no source state: add `from = State`",
            ));
            return None;
        }
        Some(def)
    }
}

fn key_of(meta: &ParseNestedMeta<'_>) -> String {
    meta.path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// Consumes the value of a key we reject, so parsing can go on with the next key.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<proc_macro2::Group>()?;
    }
    Ok(())
}

/// `key = Ident`
fn single_ident(meta: &ParseNestedMeta<'_>) -> syn::Result<Ident> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse()
    } else {
        Err(meta.error(format!("expected `{} = Name`", key_of(meta))))
    }
}

/// `key = Ident` or `key(Ident, Ident, ...)`
/// `renamed(old = New, ...)` (`retired: false`) or `retired(old => State, ...)`. The wrong
/// arrow is reported and the pair kept: the rest of the attribute is still read.
fn former_states(
    meta: &ParseNestedMeta<'_>,
    retired: bool,
    errors: &mut Errors,
) -> syn::Result<Vec<(Ident, Ident)>> {
    let key = key_of(meta);
    let form = if retired {
        "`retired(old_name => State, ...)`: where the records of a state that is gone go"
    } else {
        "`renamed(old_name = NewState, ...)`: what a state stored as `old_name` is called now"
    };
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!("expected {form}")));
    }
    let mut pairs = Vec::new();
    meta.parse_nested_meta(|inner| {
        let old = inner.path.require_ident()?.clone();
        let arrow = inner.input.peek(Token![=>]);
        if arrow {
            inner.input.parse::<Token![=>]>()?;
        } else if inner.input.peek(Token![=]) {
            inner.input.parse::<Token![=]>()?;
        } else {
            return Err(inner.error(format!("expected {form}")));
        }
        if arrow != retired {
            errors.push(syn::Error::new(old.span(), format!("`{key}` takes {form}")));
        }
        pairs.push((old, inner.input.parse::<Ident>()?));
        Ok(())
    })?;
    Ok(pairs)
}

fn idents(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<Ident>> {
    if meta.input.peek(Token![=]) {
        return Ok(vec![meta.value()?.parse()?]);
    }
    if !meta.input.peek(syn::token::Paren) {
        let key = key_of(meta);
        return Err(meta.error(format!("expected `{key} = Name` or `{key}(Name, ...)`")));
    }
    let mut names = Vec::new();
    meta.parse_nested_meta(|inner| {
        names.push(inner.path.require_ident()?.clone());
        Ok(())
    })?;
    Ok(names)
}

/// A key without a value, e.g. `ignore_errors`.
fn flag(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<bool> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        errors.push(meta.error(format!(
            "`{}` is a flag and takes no value: write just `{}`",
            key_of(meta),
            key_of(meta)
        )));
        skip_value(meta)?;
        return Ok(false);
    }
    Ok(true)
}

/// `on(launching, terminating, command, scheduled, scheduled = "rule", ...)`, where
/// `launching` and `terminating` may take a route: `launching(from = warm_pool)`.
fn event_filters(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Vec<EventFilter>> {
    let mut filters = Vec::new();
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!("expected `on(...)` with one or more of: {EVENTS}")));
    }
    meta.parse_nested_meta(|inner| {
        let key = key_of(&inner);
        let named = |inner: &ParseNestedMeta<'_>| -> syn::Result<Option<LitStr>> {
            if inner.input.peek(Token![=]) {
                Ok(Some(inner.value()?.parse::<LitStr>()?))
            } else {
                Ok(None)
            }
        };
        let filter = match key.as_str() {
            "launching" => On::Launching(route(&inner, errors)?),
            "terminating" => On::Terminating(route(&inner, errors)?),
            "command" => On::Command,
            "scheduled" => On::Scheduled(named(&inner)?.map(|l| l.value())),
            "spot_interruption" => On::SpotInterruption,
            "rebalance" => On::Rebalance,
            "instance_state" => {
                let state = named(&inner)?;
                if let Some(lit) = &state
                    && !EC2_STATES.contains(&lit.value().as_str())
                {
                    let value = lit.value();
                    let hint = match did_you_mean(&value, EC2_STATES.iter().copied()) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("EC2 reports one of: {}", EC2_STATES.join(", ")),
                    };
                    errors.push(syn::Error::new(
                        lit.span(),
                        format!("`{value}` is no EC2 instance state; {hint}"),
                    ));
                }
                On::InstanceState(state.map(|l| l.value()))
            }
            "maintenance" => On::Maintenance(named(&inner)?.map(|l| l.value())),
            _ => {
                let hint = match did_you_mean(&key, EVENTS.split(", ")) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("expected one of: {EVENTS}"),
                };
                errors.push(inner.error(format!("unknown event `{key}`; {hint}")));
                return skip_value(&inner);
            }
        };
        filters.push(EventFilter {
            on: filter,
            span: inner.path.span(),
        });
        Ok(())
    })?;
    Ok(filters)
}

/// The route of `launching(...)` or `terminating(...)`, if one is given.
fn route(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Route> {
    let mut route = Route::ANY;
    if !meta.input.peek(syn::token::Paren) {
        return Ok(route);
    }
    meta.parse_nested_meta(|side| {
        let key = key_of(&side);
        let place: Ident = side.value()?.parse()?;
        let Some(found) = place_named(&place.to_string()) else {
            let hint = match did_you_mean(&place.to_string(), PLACE_NAMES.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("expected one of: {}", PLACE_NAMES.join(", ")),
            };
            errors.push(syn::Error::new(
                place.span(),
                format!("unknown place `{place}`; {hint}"),
            ));
            return Ok(());
        };
        match key.as_str() {
            "from" => route.from = Some(found),
            "to" => route.to = Some(found),
            _ => errors.push(side.error(format!(
                "unknown key `{key}`; a route is `from = PLACE` and/or `to = PLACE`"
            ))),
        }
        Ok(())
    })?;
    Ok(route)
}
