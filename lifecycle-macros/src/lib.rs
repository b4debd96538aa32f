//! The `#[lifecycle_model]` attribute. Use it through `lifecycle_core::lifecycle_model`, which
//! documents the syntax.
//!
//! Expansion is three steps, one module each: `ast` parses the `impl` block and its
//! attributes, `check` validates the model and collects every error (the graph checks —
//! reachability, liveness, loops, dead triggers — are `lifecycle-analysis`, a plain library
//! that can be tested on its own), `generate` (with `diagram`) writes the code.

mod ast;
mod check;
mod diagram;
mod generate;

use proc_macro::TokenStream;

/// See `lifecycle_core` for the syntax.
#[proc_macro_attribute]
pub fn lifecycle_model(args: TokenStream, input: TokenStream) -> TokenStream {
    expand(args.into(), input.into()).into()
}

fn expand(
    args: proc_macro2::TokenStream,
    input: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let mut errors = check::Errors::default();
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
