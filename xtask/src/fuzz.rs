//! Fuzzing with cargo-fuzz (nightly only): `cargo xtask fuzz TARGET --time S`
//! and the short smoke runs of every target in `cargo xtask test`.
//!
//! `fuzz/` is its own workspace (created by the verifier work); when it does
//! not exist there is nothing to run.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::cargo_toml;
use crate::error::{Error, Result, io};
use crate::paths;
use crate::process::{self, on_path};
use crate::tally::{Outcome, Tally};

/// Seconds each target runs in `cargo xtask test`.
pub const SMOKE_SECONDS: u64 = 20;

fn fuzz_dir() -> PathBuf {
    paths::root().join("fuzz")
}

/// The fuzz targets (`[[bin]]` entries of `fuzz/Cargo.toml`), or `None` if
/// there is no fuzz crate.
pub fn targets() -> Result<Option<Vec<String>>> {
    let manifest = fuzz_dir().join("Cargo.toml");
    if !manifest.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&manifest)
        .map_err(io(format!("reading {}", manifest.display())))?;
    Ok(Some(cargo_toml::bin_names(&text)))
}

/// A `cargo` command through the rustup proxy, free of the outer cargo's
/// toolchain selection (so `+nightly` works).
fn rustup_cargo() -> Command {
    let mut c = Command::new("cargo");
    c.env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTFLAGS");
    c
}

/// Whether a nightly toolchain is installed.
pub fn nightly_available() -> bool {
    rustup_cargo()
        .args(["+nightly", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Installs cargo-fuzz if it is missing.
fn ensure_cargo_fuzz() -> Result<()> {
    if on_path("cargo-fuzz") {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz");
    process::run(
        rustup_cargo().args(["install", "cargo-fuzz", "--locked"]),
        "cargo install cargo-fuzz",
    )
}

/// Checks that `target` exists and the tools to fuzz it are installed.
fn prepare(target: &str) -> Result<()> {
    let Some(targets) = targets()? else {
        return Err(Error::Other(
            "there is no fuzz/ crate yet (the verifier work adds it)".into(),
        ));
    };
    if !targets.iter().any(|t| t == target) {
        return Err(Error::Usage(format!(
            "unknown fuzz target `{target}`; known: {}",
            targets.join(", ")
        )));
    }
    if !nightly_available() {
        return Err(Error::Other(
            "fuzzing needs the nightly toolchain (`rustup toolchain install nightly`)".into(),
        ));
    }
    ensure_cargo_fuzz()
}

/// `cargo +nightly fuzz run TARGET -- -max_total_time=SECONDS` in `fuzz/`.
fn fuzz_command(target: &str, seconds: u64) -> Command {
    let mut cmd = rustup_cargo();
    cmd.current_dir(fuzz_dir()).args([
        "+nightly",
        "fuzz",
        "run",
        target,
        "--",
        &format!("-max_total_time={seconds}"),
    ]);
    cmd
}

/// Runs `target` for `seconds`, libFuzzer's output on the terminal.
pub fn run(target: &str, seconds: u64) -> Result<()> {
    prepare(target)?;
    process::run(
        &mut fuzz_command(target, seconds),
        &format!("fuzzing {target}"),
    )
}

/// Runs `target` for `seconds` with libFuzzer's output in a log file under
/// `target/fuzz-logs/`; on failure the error carries the log's last lines.
fn run_quiet(target: &str, seconds: u64) -> Result<()> {
    prepare(target)?;
    let dir = paths::root().join("target").join("fuzz-logs");
    std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let log = dir.join(format!("{target}.log"));
    let mut cmd = fuzz_command(target, seconds);
    let out = process::output(&mut cmd)?;
    let mut text = out.stdout;
    text.extend_from_slice(&out.stderr);
    std::fs::write(&log, &text).map_err(io(format!("writing {}", log.display())))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    Err(Error::Other(format!(
        "fuzzing {target} failed ({}); full log in {}; last lines:\n{tail}",
        out.status,
        log.display()
    )))
}

/// Smoke-runs every target, one result each (skipped without nightly).
pub fn smoke(tally: &mut Tally) -> Result<()> {
    let Some(targets) = targets()? else {
        println!("fuzz: no fuzz/ crate, nothing to smoke-run");
        return Ok(());
    };
    let nightly = nightly_available();
    for t in targets {
        let name = format!("fuzz::{t}");
        if !nightly {
            tally.record(name, Outcome::Skipped("no nightly toolchain".into()), None);
            continue;
        }
        let start = Instant::now();
        let o = match run_quiet(&t, SMOKE_SECONDS) {
            Ok(()) => Outcome::Passed,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        tally.record(name, o, Some(start.elapsed()));
    }
    Ok(())
}
