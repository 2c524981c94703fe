//! Reading `[[bin]]` names from a Cargo manifest. The manifests involved are
//! plain and written by this project; a line scanner avoids a TOML parser
//! dependency (and its build time) in every `cargo xtask` invocation.

/// Names of the `[[bin]]` targets in `manifest` text.
pub fn bin_names(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_bin = t == "[[bin]]";
            continue;
        }
        if !in_bin {
            continue;
        }
        if let Some((key, value)) = t.split_once('=')
            && key.trim() == "name"
        {
            let v = value.trim().trim_matches('"');
            if !v.is_empty() {
                names.push(v.to_string());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_names_come_only_from_bin_tables() {
        let m = "[package]\nname = \"fuzz\"\n\n[[bin]]\nname = \"verify\"\npath = \"x.rs\"\n\n[dependencies]\nname = \"no\"\n[[bin]]\n name = \"jit\" \n";
        assert_eq!(bin_names(m), vec!["verify".to_string(), "jit".to_string()]);
        assert!(bin_names("[package]\nname = \"a\"\n").is_empty());
    }
}
