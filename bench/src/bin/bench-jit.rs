//! `bench-jit`: ns per run of realistic packet handlers in exo's interpreter
//! and JIT, rbpf's interpreter and JIT, and Linux's eBPF JIT
//! (`bpf(BPF_PROG_TEST_RUN)`), on identical bytecode; and JIT compile time
//! per instruction. Writes `bench/results/jit.{json,md,svg}`.
//!
//! Usage: `cargo xtask bench jit` (or `cargo run --release -p exo-bench --bin
//! bench-jit -- [--runs N] [--target-ms MS] [--pin]`).

use ash_compiler::difftest::generate::seeded;
use ash_compiler::{CompileOptions, compile};
use exo_bench::engines::{ExoInterp, ExoJit, RbpfInterp, RbpfJit};
use exo_bench::handlers::{self, Handler};
use exo_bench::linux_bpf::{self, XdpProgram, to_xdp};
use exo_bench::opts::{self, Opts};
use exo_bench::stats::{Summary, calibrate, time_per_call};
use exo_bench::svg::{Group, grouped_bars};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::time::Instant;

const ENGINES: [&str; 6] = [
    "exo-interp",
    "exo-jit",
    "rbpf-interp",
    "rbpf-jit",
    "linux-jit",
    "exo-jit blinded",
];

/// Result of one engine on one handler.
enum Outcome {
    Timed { ns: Summary, extra: Option<Value> },
    Failed(String),
}

/// One engine, ready: each call takes one sample (ns per run).
type Sampler<'a> = Box<dyn FnMut() -> Result<f64, String> + 'a>;

/// Checks an in-process engine's result, calibrates its iteration count and
/// returns its sampler.
fn prepare<'a>(
    opts: &Opts,
    expect: u64,
    mut run: impl FnMut() -> u64 + 'a,
) -> Result<(Sampler<'a>, Value), String> {
    let r = run();
    if r != expect {
        return Err(format!("returned {r}, expected {expect}"));
    }
    let iters = calibrate(opts.target_ms, || {
        std::hint::black_box(run());
    });
    let sampler = move || {
        let t = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(run());
        }
        Ok(t.elapsed().as_nanos() as f64 / iters as f64)
    };
    Ok((Box::new(sampler), json!({ "iters_per_run": iters })))
}

/// Loads the handler into Linux as XDP and returns a sampler of the
/// kernel-reported time per run.
fn prepare_linux<'a>(h: &'a Handler, expect: u64) -> Result<(Sampler<'a>, Value), String> {
    let words = to_xdp(&h.words).map_err(|e| e.to_string())?;
    let prog = XdpProgram::load(&words, h.name).map_err(|e| e.to_string())?;
    match prog.test_run(&h.packet, 1) {
        Ok((r, _)) if r as u64 == expect => {}
        Ok((r, _)) => return Err(format!("returned {r}, expected {expect}")),
        Err(e) => return Err(e.to_string()),
    }
    // The syscall has a fixed cost of several milliseconds whenever repeat
    // > 1 (outside the kernel's timed loop), so the repeat count is fixed
    // rather than calibrated on wall time, and only the kernel's own
    // per-run figure is used.
    let repeat = 1_000_000u32;
    let sampler = move || {
        prog.test_run(&h.packet, repeat)
            .map(|(_, d)| d as f64)
            .map_err(|e| e.to_string())
    };
    Ok((
        Box::new(sampler),
        json!({
            "repeat": repeat,
            "note": "kernel-reported duration: whole ns per run (truncated)",
        }),
    ))
}

/// Samples every prepared engine `runs` times, interleaved (one sample of
/// each engine per round), so that machine noise hits all engines alike.
fn sample_interleaved(
    opts: &Opts,
    engines: Vec<Result<(Sampler<'_>, Value), String>>,
) -> Vec<Outcome> {
    let mut engines = engines;
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
    for _ in 0..opts.runs {
        for (i, e) in engines.iter_mut().enumerate() {
            if let Ok((f, _)) = e {
                match f() {
                    Ok(ns) => samples[i].push(ns),
                    Err(err) => *e = Err(err),
                }
            }
        }
    }
    engines
        .into_iter()
        .zip(samples)
        .map(|(e, s)| match e {
            Ok((_, extra)) => Outcome::Timed {
                ns: Summary::of(&s),
                extra: Some(extra),
            },
            Err(err) => Outcome::Failed(err),
        })
        .collect()
}

/// ns per instruction of `compile` (min, median over runs of many compiles).
fn compile_ns_per_insn(opts: &Opts, words: &[filter_lang::bpf::Insn]) -> Summary {
    let f = || {
        std::hint::black_box(compile(words, &CompileOptions::default()).expect("compiles"));
    };
    let iters = calibrate(opts.target_ms / 2.0, f);
    let s = time_per_call(opts.runs, iters, f);
    let per: Vec<f64> = s.iter().map(|ns| ns / words.len() as f64).collect();
    Summary::of(&per)
}

fn rbpf_compile_ns_per_insn(
    opts: &Opts,
    words: &[filter_lang::bpf::Insn],
) -> Result<Summary, String> {
    let mut per = Vec::new();
    for _ in 0..opts.runs {
        let mut best = f64::INFINITY;
        for _ in 0..20 {
            best = best.min(RbpfJit::compile_ns(words)?);
        }
        per.push(best / words.len() as f64);
    }
    Ok(Summary::of(&per))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let opts = opts::from_args("bench-jit");
    let hs = match handlers::all() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("bench-jit: {e}");
            std::process::exit(1);
        }
    };
    let expect = 1u64;
    let mut rows = Vec::new();
    for h in &hs {
        eprintln!(
            "bench-jit: {} ({} words, {}-byte frame)",
            h.name,
            h.words.len(),
            h.packet.len()
        );
        let mut exo_interp = ExoInterp::new(&h.words, &h.packet);
        let mut exo_jit = ExoJit::new(&h.words, &h.packet);
        let mut rbpf_interp = RbpfInterp::new(&h.words, &h.packet);
        let mut rbpf_jit = RbpfJit::new(&h.words, &h.packet);
        let mut exo_blind = ExoJit::with_options(
            &h.words,
            &h.packet,
            CompileOptions {
                blinding: Some(0x9e37_79b9_7f4a_7c15),
            },
        );
        let engines: Vec<Result<(Sampler<'_>, Value), String>> = vec![
            match &mut exo_interp {
                Ok(e) => prepare(&opts, expect, || e.run()),
                Err(e) => Err(e.clone()),
            },
            match &mut exo_jit {
                Ok(e) => prepare(&opts, expect, || e.run()),
                Err(e) => Err(e.clone()),
            },
            match &mut rbpf_interp {
                Ok(e) => prepare(&opts, expect, || e.run()),
                Err(e) => Err(e.clone()),
            },
            match &mut rbpf_jit {
                Ok(e) => prepare(&opts, expect, || e.run()),
                Err(e) => Err(e.clone()),
            },
            prepare_linux(h, expect),
            match &mut exo_blind {
                Ok(e) => prepare(&opts, expect, || e.run()),
                Err(e) => Err(e.clone()),
            },
        ];
        let out = sample_interleaved(&opts, engines);
        rows.push((h, out));
    }

    // Compile time per instruction: the handlers and generated programs.
    let mut compile_rows = Vec::new();
    for h in &hs {
        let exo = compile_ns_per_insn(&opts, &h.words);
        let rb = rbpf_compile_ns_per_insn(&opts, &h.words);
        compile_rows.push((h.name.to_string(), h.words.len(), exo, rb));
    }
    let gen_words: Vec<_> = seeded(0x2545_f491_4f6c_dd1d, 64, 2000)
        .into_iter()
        .map(|c| c.words)
        .collect();
    let total: usize = gen_words.iter().map(|w| w.len()).sum();
    let mut samples = Vec::new();
    for _ in 0..opts.runs {
        let t = Instant::now();
        for w in &gen_words {
            std::hint::black_box(compile(w, &CompileOptions::default()).expect("compiles"));
        }
        samples.push(t.elapsed().as_nanos() as f64 / total as f64);
    }
    compile_rows.push((
        format!("{} generated programs", gen_words.len()),
        total / gen_words.len(),
        Summary::of(&samples),
        Err("not measured (exo-only generator)".into()),
    ));

    report(&opts, &rows, &compile_rows);
}

fn median(o: &Outcome) -> Option<f64> {
    match o {
        Outcome::Timed { ns, .. } => Some(ns.median),
        Outcome::Failed(_) => None,
    }
}

fn minimum(o: &Outcome) -> Option<f64> {
    match o {
        Outcome::Timed { ns, .. } => Some(ns.min),
        Outcome::Failed(_) => None,
    }
}

type CompileRow = (String, usize, Summary, Result<Summary, String>);

fn report(opts: &Opts, rows: &[(&Handler, Vec<Outcome>)], compile_rows: &[CompileRow]) {
    let mut md = String::new();
    let jit = linux_bpf::jit_enabled().unwrap_or_else(|| "unreadable".into());
    let harden = std::fs::read_to_string("/proc/sys/net/core/bpf_jit_harden")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unreadable".into());
    let _ = writeln!(md, "# Handler JIT benchmark\n");
    let _ = writeln!(
        md,
        "CPU: {}; Linux {}; `bpf_jit_enable` = {jit}, `bpf_jit_harden` = {harden}; {} runs per cell, each about {} ms.\n",
        cpu_model(),
        kernel_release(),
        opts.runs,
        opts.target_ms
    );
    let _ = writeln!(
        md,
        "ns per run, median (min in parentheses). Identical bytecode in every engine; for Linux the two context loads are rewritten for `xdp_md` (32-bit data/data_end at 0/4) and the program runs as XDP under `BPF_PROG_TEST_RUN` (kernel-reported time: whole ns, truncated). Ratios (this run) are of the minimums: > 1 means exo's JIT is faster. Minimums, because Linux's kernel-reported time excludes the time its task is descheduled (the test-run timer stops when it reschedules) while the in-process samples include it, so on a loaded machine medians favour Linux; the JSON has the ratios of the medians too. `exo-jit blinded` is exo's JIT with constant blinding on (Linux's `bpf_jit_harden` is shown above). Engines are sampled in interleaved rounds.\n"
    );
    let _ = writeln!(
        md,
        "| handler | words | {} | Linux / exo-jit | rbpf-jit / exo-jit |",
        ENGINES.join(" | ")
    );
    let _ = writeln!(md, "|---|---:|{}---:|---:|", "---:|".repeat(ENGINES.len()));
    let mut json_rows = Vec::new();
    let mut groups = Vec::new();
    let (mut vs_linux_ok, mut vs_rbpf_ok) = (true, true);
    // Handlers where exo's JIT is not faster than Linux's reported figure
    // but within its 1-ns truncation, or slower; and those below 2x rbpf.
    let (mut linux_tie, mut linux_slower, mut rbpf_short) = (Vec::new(), Vec::new(), Vec::new());
    let mut failures = Vec::new();
    for (h, out) in rows {
        let mut cells = Vec::new();
        let mut engines = serde_json::Map::new();
        for (name, o) in ENGINES.iter().zip(out) {
            match o {
                Outcome::Timed { ns, extra } => {
                    cells.push(format!("{:.1} ({:.1})", ns.median, ns.min));
                    let mut v = json!({ "min_ns": ns.min, "median_ns": ns.median });
                    if let (Some(Value::Object(e)), Value::Object(m)) = (extra, &mut v) {
                        m.extend(e.clone());
                    }
                    engines.insert(name.to_string(), v);
                }
                Outcome::Failed(e) => {
                    cells.push("n/a".into());
                    failures.push(format!("{} / {name}: {e}", h.name));
                    engines.insert(name.to_string(), json!({ "error": e }));
                }
            }
        }
        // Ratios of minimums (best cases) and of medians.
        let ratio = |pick: fn(&Outcome) -> Option<f64>, o: &Outcome| match (pick(o), pick(&out[1]))
        {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let (rl, rr) = (ratio(minimum, &out[4]), ratio(minimum, &out[3]));
        let (rl_med, rr_med) = (ratio(median, &out[4]), ratio(median, &out[3]));
        vs_linux_ok &= rl.is_some_and(|r| r >= 1.0);
        vs_rbpf_ok &= rr.is_some_and(|r| r >= 2.0);
        if let (Some(l), Some(e)) = (minimum(&out[4]), minimum(&out[1])) {
            if e > l + 1.0 {
                linux_slower.push(format!("{} ({e:.1} vs {l:.0} ns)", h.name));
            } else if e > l {
                linux_tie.push(format!("{} ({e:.1} vs {l:.0} ns)", h.name));
            }
        }
        if rr.is_some_and(|r| r < 2.0) {
            rbpf_short.push(format!("{} ({:.2}x)", h.name, rr.unwrap_or(0.0)));
        }
        let f = |r: Option<f64>| r.map_or("n/a".into(), |r| format!("{r:.2}x"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            h.name,
            h.words.len(),
            cells.join(" | "),
            f(rl),
            f(rr)
        );
        json_rows.push(json!({
            "handler": h.name,
            "words": h.words.len(),
            "frame_bytes": h.packet.len(),
            "engines": engines,
            "linux_over_exo_jit": { "min": rl, "median": rl_med },
            "rbpf_jit_over_exo_jit": { "min": rr, "median": rr_med },
        }));
        groups.push(Group {
            label: h.name.to_string(),
            values: out.iter().map(median).collect(),
        });
    }
    let _ = writeln!(md, "\n## Goals (this run)\n");
    let _ = writeln!(
        md,
        "- exo's JIT no slower than Linux's JIT on every handler: **{}**{}{}",
        if vs_linux_ok { "met" } else { "not met" },
        if linux_tie.is_empty() {
            String::new()
        } else {
            format!(
                "; slower than Linux's whole-ns figure but within its 1-ns truncation on {}",
                linux_tie.join(", ")
            )
        },
        if linux_slower.is_empty() {
            String::new()
        } else {
            format!("; slower on {}", linux_slower.join(", "))
        }
    );
    let _ = writeln!(
        md,
        "- exo's JIT at least 2x faster than rbpf's JIT on every handler: **{}**{}",
        if vs_rbpf_ok { "met" } else { "not met" },
        if rbpf_short.is_empty() {
            String::new()
        } else {
            format!("; below 2x on {}", rbpf_short.join(", "))
        }
    );
    let _ = writeln!(
        md,
        "\nFor small handlers the figures are dominated by each engine's cost of one invocation (the `null` row); the checksum loops run at one iteration per cycle in all three JITs (a loop-carried add), so no 1:1 translator can be 2x faster there."
    );
    if !failures.is_empty() {
        let _ = writeln!(md, "\n## Engines that could not run\n");
        for f in &failures {
            let first = f.lines().take(3).collect::<Vec<_>>().join(" ");
            let _ = writeln!(md, "- {first}");
        }
    }
    let _ = writeln!(md, "\n## Compile time per instruction\n");
    let _ = writeln!(
        md,
        "| program | words | exo JIT ns/insn | rbpf JIT ns/insn |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    let mut json_compile = Vec::new();
    for (name, words, exo, rb) in compile_rows {
        let rbs = match rb {
            Ok(s) => format!("{:.1} ({:.1})", s.median, s.min),
            Err(e) => e.clone(),
        };
        let _ = writeln!(
            md,
            "| {name} | {words} | {:.1} ({:.1}) | {rbs} |",
            exo.median, exo.min
        );
        json_compile.push(json!({
            "program": name,
            "words": words,
            "exo_ns_per_insn": { "min": exo.min, "median": exo.median },
            "rbpf_ns_per_insn": rb.as_ref().map(|s| json!({ "min": s.min, "median": s.median })).unwrap_or(Value::Null),
        }));
    }
    let doc = json!({
        "benchmark": "jit",
        "cpu": cpu_model(),
        "kernel": kernel_release(),
        "bpf_jit_enable": jit,
        "bpf_jit_harden": harden,
        "runs": opts.runs,
        "target_ms_per_run": opts.target_ms,
        "unit": "ns per run",
        "handlers": json_rows,
        "goals": { "no_slower_than_linux_jit": vs_linux_ok, "at_least_2x_faster_than_rbpf_jit": vs_rbpf_ok },
        "compile": json_compile,
    });
    let svg = grouped_bars(
        "Handler run time (median ns per run)",
        "ns per run",
        &ENGINES,
        &groups,
    );
    let json = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    exo_bench::write_results(
        "bench-jit",
        &[("jit.json", &json), ("jit.md", &md), ("jit.svg", &svg)],
    );
    print!("{md}");
}
