//! Names: the stored (snake_case) form of a state, and the likely intended name of a typo.

/// `FinishedCloudInit` → `finished_cloud_init`, `DNSUpdated` → `dns_updated`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// The closest of `candidates` to `name`, if close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let folded = name.to_lowercase().replace('_', "");
    candidates
        .map(|c| {
            let distance = if c.to_lowercase().replace('_', "") == folded {
                0
            } else {
                edit_distance(&name.to_lowercase(), &c.to_lowercase())
            };
            (distance, c)
        })
        .filter(|&(d, c)| d <= (c.len() / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_matches_the_original_table() {
        assert_eq!(snake_case("FinishedCloudInit"), "finished_cloud_init");
        assert_eq!(snake_case("Ready"), "ready");
        assert_eq!(snake_case("DNSUpdated"), "dns_updated");
        assert_eq!(snake_case("Step2Done"), "step2_done");
    }

    #[test]
    fn suggestions_catch_typos_and_snake_case() {
        let states = ["FinishedCloudInit", "Ready", "Removed"];
        assert_eq!(did_you_mean("Redy", states.into_iter()), Some("Ready"));
        assert_eq!(
            did_you_mean("finished_cloud_init", states.into_iter()),
            Some("FinishedCloudInit")
        );
        assert_eq!(did_you_mean("Bootstrapping", states.into_iter()), None);
    }
}
