//! The README's claims a script can check: every configuration variable the Lambdas read is
//! in its table or prose, every one it lists is read, and every variable the template sets is
//! documented. (Its code blocks are compiled and run as doctests of `lifecycle-aws`.)

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `"NAME"` in `text` that looks like an environment variable with `prefix`.
fn quoted_names(text: &str, prefix: &str) -> BTreeSet<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.starts_with(prefix)
                && s.len() > prefix.len()
                && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_variables_listed_are_the_variables_read() {
    let readme = read("README.md");
    let listed: BTreeSet<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `LIFECYCLE_"))
        .map(|rest| format!("LIFECYCLE_{}", &rest[..rest.find('`').unwrap()]))
        .collect();
    let read_by_the_runtime = quoted_names(&read("lifecycle-aws/src/lambda.rs"), "LIFECYCLE_");
    assert_eq!(
        listed, read_by_the_runtime,
        "the README's table of variables and LambdaConfig::from_vars disagree"
    );
}

#[test]
fn every_variable_the_examples_or_the_template_set_is_documented() {
    let readme = read("README.md");
    let mut names = BTreeSet::new();
    for binary in [
        "examples/src/bin/cluster-lambda.rs",
        "examples/src/bin/backup-lambda.rs",
    ] {
        let source = read(binary);
        for prefix in ["DNS_", "MANAGER_", "WORKER_", "BACKUP_"] {
            names.extend(quoted_names(&source, prefix));
        }
    }
    let template = read("deploy/template.yaml");
    let mut in_environment = false;
    for line in template.lines() {
        let trimmed = line.trim();
        if trimmed == "Variables:" {
            in_environment = true;
            continue;
        }
        if in_environment {
            match trimmed.split_once(':') {
                Some((name, _))
                    if !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
                {
                    names.insert(name.to_owned());
                }
                _ if trimmed.starts_with('#') => {}
                _ => in_environment = false,
            }
        }
    }
    assert!(names.len() >= 12, "{names:?}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !readme.contains(&format!("`{n}`")))
        .collect();
    assert!(missing.is_empty(), "not in the README: {missing:?}");
}

/// "the template does" set the claim lease to the function's timeout.
#[test]
fn the_template_sets_the_claim_lease_to_the_function_timeout() {
    let template = read("deploy/template.yaml");
    let lease = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("LIFECYCLE_CLAIM_LEASE_SECONDS:"))
        .expect("the template sets LIFECYCLE_CLAIM_LEASE_SECONDS");
    let timeout = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("Timeout:"))
        .expect("the template sets the functions' timeout");
    assert_eq!(lease.trim().trim_matches('"'), timeout.trim());
}
