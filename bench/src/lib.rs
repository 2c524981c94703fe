//! Benchmarks for exo (run by `cargo xtask bench`).
//!
//! * [`handlers`]: the benchmark handlers (`bench/handlers/*.s`) and frames.
//! * [`engines`]: exo's interpreter and JIT, rbpf's interpreter and JIT.
//! * [`linux_bpf`]: Linux's eBPF JIT through `bpf(BPF_PROG_TEST_RUN)`.
//! * [`packets`]: frame builders.
//! * [`opts`]: the timing benchmarks' command-line options.
//! * [`stats`]: minimum/median, calibration and timing loops.
//! * [`svg`]: the result plots.

pub mod engines;
pub mod handlers;
pub mod linux_bpf;
pub mod opts;
pub mod packets;
pub mod stats;
pub mod svg;

/// Where results are written: `$EXO_BENCH_RESULTS` (set by `cargo xtask
/// bench`), else `bench/results/`.
pub fn results_dir() -> std::path::PathBuf {
    match std::env::var_os("EXO_BENCH_RESULTS") {
        Some(d) if !d.is_empty() => std::path::PathBuf::from(d),
        _ => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"),
    }
}

/// Writes result files `(name, contents)` into [`results_dir`] (created if
/// missing); on failure prints why, as benchmark `bench`, and exits with
/// status 1.
pub fn write_results(bench: &str, files: &[(&str, &str)]) {
    let dir = results_dir();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("{bench}: cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    for (name, data) in files {
        let p = dir.join(name);
        if let Err(e) = std::fs::write(&p, data) {
            eprintln!("{bench}: cannot write {}: {e}", p.display());
            std::process::exit(1);
        }
    }
}
