//! `cargo xtask bench [NAME [ARGS...]]`: runs `bench_net` (in-QEMU, `net`),
//! `bench_kernel` (in-QEMU, `kernel`) or the benchmark binary
//! `bench-NAME` of the `exo-bench` crate in release mode; results go to
//! `bench/results/` (passed to the binary as `EXO_BENCH_RESULTS`).

use std::process::Command;

use crate::cargo_toml;
use crate::error::{Error, Result, io};
use crate::paths;
use crate::process;

/// Benchmarks implemented in xtask itself (they boot kernel images in QEMU).
const IN_XTASK: [&str; 2] = ["kernel", "net"];

/// Names (without the `bench-` prefix) of the available benchmarks.
pub fn available() -> Result<Vec<String>> {
    let bench = paths::root().join("bench");
    let manifest = std::fs::read_to_string(bench.join("Cargo.toml"))
        .map_err(io("reading bench/Cargo.toml"))?;
    let mut names = cargo_toml::bin_names(&manifest);
    if let Ok(dir) = std::fs::read_dir(bench.join("src").join("bin")) {
        for entry in dir.flatten() {
            let path = entry.path();
            let stem = if path.is_dir() && path.join("main.rs").is_file() {
                path.file_name().map(|s| s.to_string_lossy().into_owned())
            } else if path.extension().is_some_and(|e| e == "rs") {
                path.file_stem().map(|s| s.to_string_lossy().into_owned())
            } else {
                None
            };
            names.extend(stem);
        }
    }
    let mut names: Vec<String> = names
        .into_iter()
        .filter_map(|n| n.strip_prefix("bench-").map(str::to_string))
        .chain(IN_XTASK.iter().map(|n| n.to_string()))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Lists or runs a benchmark.
pub fn run(name: Option<&str>, args: &[String]) -> Result<()> {
    let names = available()?;
    if name == Some("readme") {
        return crate::readme_bench::update();
    }
    let Some(name) = name else {
        if names.is_empty() {
            println!("no benchmarks yet (add bench/src/bin/bench-NAME.rs)");
        } else {
            println!("available benchmarks (cargo xtask bench NAME [ARGS]):");
            for n in &names {
                println!("    {n}");
            }
            println!("(`cargo xtask bench readme` rebuilds README.md's results section)");
        }
        return Ok(());
    };
    if !names.iter().any(|n| n == name) {
        return Err(Error::Usage(format!(
            "unknown benchmark `{name}`; available: {}",
            names.join(", ")
        )));
    }
    if name == "net" {
        crate::bench_net::run()?;
        return crate::readme_bench::update();
    }
    if name == "kernel" {
        crate::bench_kernel::run()?;
        return crate::readme_bench::update();
    }
    let results = crate::bench_qemu::results_dir()?;
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(paths::root())
        .args([
            "run",
            "--release",
            "-p",
            "exo-bench",
            "--bin",
            &format!("bench-{name}"),
            "--",
        ])
        .args(args)
        .env("EXO_BENCH_RESULTS", &results);
    process::run(&mut cmd, &format!("benchmark {name}"))?;
    crate::readme_bench::update()
}
