//! Every error of one expansion, collected: the parser and the checks report as they go, and
//! the macro emits them all at once, each at its token.

use proc_macro2::Span;

/// Every error of one expansion, combined into one `syn::Error`.
#[derive(Default)]
pub struct Errors {
    all: Option<syn::Error>,
    count: usize,
}

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        self.count += 1;
        match &mut self.all {
            Some(all) => all.combine(error),
            None => self.all = Some(error),
        }
    }

    /// How many errors so far.
    pub fn count(&self) -> usize {
        self.count
    }

    pub fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// An error underlining all of `tokens` (on stable Rust, `span()` covers only the first).
    pub fn spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub fn into_result(self) -> syn::Result<()> {
        self.all.map_or(Ok(()), Err)
    }
}
