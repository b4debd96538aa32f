//! Models the macro must reject, each with the compiler output it must produce
//! (`tests/ui/*.stderr`, reviewed), and models it once rejected wrongly, which must compile and
//! run (`tests/ui-pass`). Regenerate with `TRYBUILD=overwrite` and review the diff.

#[test]
fn invalid_models_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}

#[test]
fn valid_models_compile_and_run() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui-pass/*.rs");
}
