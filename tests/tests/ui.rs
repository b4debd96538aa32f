//! Models the macro must reject, each with the compiler output it must produce
//! (`tests/ui/*.stderr`, reviewed). Regenerate with `TRYBUILD=overwrite` and review the diff.

#[test]
fn invalid_models_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
