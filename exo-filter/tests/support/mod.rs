//! Running the `exo-filter` binary, shared by the CLI tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub fn exo_filter(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_exo-filter"))
        .args(args)
        .output()
        .expect("exo-filter runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs the shared conformance vectors on `engine`: every vector passes
/// (exit 0, summary `N passed, 0 failed`) and there are at least 200.
pub fn conformance_suite_passes(engine: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance/bpf_conformance/tests");
    assert!(
        dir.is_dir(),
        "conformance vectors missing at {}",
        dir.display()
    );
    let o = exo_filter(&["conformance", &dir.to_string_lossy(), "--engine", engine]);
    let out = stdout(&o);
    let last = out.lines().last().unwrap_or_default();
    assert_eq!(o.status.code(), Some(0), "{out}");
    let passed: usize = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected summary: {last}"));
    assert!(passed >= 200, "{last}");
}
