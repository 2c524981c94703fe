//! `cargo xtask bench kernel`: the cost of the exokernel's basic paths,
//! measured from ring 3 by the `bench` program (`user/src/bin/bench.rs`):
//! a null system call, an exception delivered to the environment's own
//! handler (kernel side and round trip), map + unmap, and a protected
//! control transfer round trip (split into call and reply paths).
//!
//! The release kernel boots with `exo.init=bench exo.exit`; the program
//! prints `BENCH <name> min=<c> median=<c> max=<c>` in TSC cycles over its
//! samples. Two machines: TCG with `-icount shift=0,sleep=off`, where the
//! TSC counts guest instructions (so the numbers are instruction path
//! lengths, deterministic), and plain TCG (cycles of the emulated TSC,
//! which follows host time). Each runs `RUNS` times; results go to
//! `bench/results/kernel.{json,md}`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::bench_qemu::{self, Mode, median};
use crate::error::{Error, Result};
use crate::net_report::ReportLine;
use crate::qemu::{Boot, GuestExit, Machine};
use crate::scenario::ICOUNT;
use crate::session::{self, Deadline, End, Flow};

const RUNS: usize = 3;

/// The measurements, in report order, with what each one covers.
const MEASURES: [(&str, &str); 10] = [
    ("empty", "the two `rdtsc` around a sample (bookkeeping)"),
    (
        "null_syscall",
        "`syscall` with the null call and back (short path)",
    ),
    (
        "yield_self",
        "`Yield` to itself: the full path (context save, kernel loop, `iretq`) doing nothing",
    ),
    (
        "exception_kernel",
        "`ud2` to the first instruction of the environment's handler (kernel side)",
    ),
    (
        "exception_round_trip",
        "`ud2`, a minimal handler, user-mode resume to the next instruction",
    ),
    (
        "exception_libos",
        "the same through libos-core's handler (saves, FPU, Rust dispatch)",
    ),
    (
        "map_unmap",
        "one `Map` and one `Unmap` (short path, capability checks)",
    ),
    (
        "pct_round_trip",
        "`PctCall` to a server whose handler replies at once, back to the caller",
    ),
    (
        "pct_call_path",
        "caller's `syscall` to the server's handler (in Rust)",
    ),
    (
        "pct_reply_path",
        "server's reply `syscall` back to the caller",
    ),
];

const MODES: [Mode; 2] = [
    Mode {
        name: "tcg-icount",
        what: "TCG with -icount shift=0,sleep=off: 1 cycle = 1 guest instruction",
        extra: &ICOUNT,
    },
    Mode {
        name: "tcg",
        what: "TCG: cycles of the emulated TSC (host time under emulation)",
        extra: &[],
    },
];

/// (min, median) cycles per measurement, and the TSC frequency, of one run.
struct Run {
    tsc_hz: u64,
    values: BTreeMap<&'static str, (u64, u64)>,
}

fn run_once(elf: &std::path::Path, mode: &Mode) -> Result<Run> {
    let mut m = Machine::new(Boot::Kernel {
        elf: elf.to_path_buf(),
        cmdline: "exo.init=bench exo.exit loglevel=warn".into(),
    });
    m.extra_args = mode.extra.iter().map(|s| s.to_string()).collect();
    let out = session::run(
        &m,
        Deadline::after(Duration::from_secs(120), "the bench program to finish"),
        Duration::from_secs(180),
        None,
        |_, _| Flow::Continue,
    )?;
    let done = out.lines.iter().any(|l| l.contains("BENCH done"));
    if out.end != End::Exited(GuestExit::Success) || !done {
        return Err(Error::Other(format!(
            "bench run ({}) failed: {:?}; last lines: {:?}",
            mode.name,
            out.end,
            out.lines.iter().rev().take(8).collect::<Vec<_>>()
        )));
    }
    let tsc_hz = out
        .lines
        .iter()
        .find_map(|l| {
            let rest = &l[l.find("BENCH tsc_hz ")? + "BENCH tsc_hz ".len()..];
            rest.trim().parse().ok()
        })
        .ok_or_else(|| Error::Other("no `BENCH tsc_hz` line".into()))?;
    let mut values = BTreeMap::new();
    for (name, _) in MEASURES {
        let line = out
            .lines
            .iter()
            .find_map(|l| ReportLine::parse(l, &format!("BENCH {name}")))
            .ok_or_else(|| Error::Other(format!("no `BENCH {name}` line")))?;
        let n = |k: &str| line.num(k).map_err(Error::Other);
        values.insert(name, (n("min")?, n("median")?));
    }
    Ok(Run { tsc_hz, values })
}

fn ns(cycles: u64, tsc_hz: u64) -> u64 {
    (u128::from(cycles) * 1_000_000_000 / u128::from(tsc_hz.max(1))) as u64
}

pub fn run() -> Result<()> {
    let kernel = bench_qemu::release_kernel()?;
    let mut json = String::from("{\n  \"benchmark\": \"kernel\",\n");
    let _ = writeln!(
        json,
        "  \"what\": \"cost of the exokernel's basic paths measured from ring 3 (TSC cycles; under icount, guest instructions)\",\n  \"runs\": {RUNS},\n  \"modes\": ["
    );
    let mut md = format!(
        "# Kernel paths: system call, exception to the environment, protected control transfer\n\n\
         Release kernel, QEMU `pc`, measured from ring 3 by `user/src/bin/bench.rs` \
         (1000 samples each); {RUNS} runs per machine. Per measurement: the minimum over \
         runs of the per-run minimum, and the median of the per-run medians, in TSC cycles \
         and ns.\n"
    );
    for (i, mode) in MODES.iter().enumerate() {
        let label = format!("bench kernel: {}", mode.name);
        let runs = bench_qemu::repeat(RUNS, &label, || run_once(&kernel, mode))?;
        let tsc_hz = median(runs.iter().map(|r| r.tsc_hz).collect());
        let _ = writeln!(
            md,
            "\n## {} ({})\n\nTSC {tsc_hz} Hz.\n\n| path | min cycles | median cycles | min ns | median ns | what |\n| --- | ---: | ---: | ---: | ---: | --- |",
            mode.name, mode.what
        );
        let mut entries = Vec::new();
        for (name, what) in MEASURES {
            let min = runs.iter().map(|r| r.values[name].0).min().unwrap_or(0);
            let med = median(runs.iter().map(|r| r.values[name].1).collect());
            let _ = writeln!(
                md,
                "| `{name}` | {min} | {med} | {} | {} | {what} |",
                ns(min, tsc_hz),
                ns(med, tsc_hz)
            );
            entries.push(format!(
                "\"{name}\": {{\"min_cycles\": {min}, \"median_cycles\": {med}, \"min_ns\": {}, \"median_ns\": {}}}",
                ns(min, tsc_hz),
                ns(med, tsc_hz)
            ));
            println!(
                "kernel {} {name}: min {min} cycles, median {med} cycles",
                mode.name
            );
        }
        let _ = writeln!(
            json,
            "    {{\"machine\": \"{}\", \"note\": \"{}\", \"tsc_hz\": {tsc_hz}, \"paths\": {{{}}}}}{}",
            mode.name,
            mode.what,
            entries.join(", "),
            if i + 1 < MODES.len() { "," } else { "" }
        );
    }
    json.push_str("  ]\n}\n");
    md.push_str(
        "\nUnder `-icount shift=0` the TSC counts guest instructions, so those rows are \
         instruction path lengths (each sample includes about 3 instructions of `rdtsc` \
         bookkeeping, the `empty` row). The exception path is the IST entry stub, the \
         kernel's upcall push (one page walk and a 144-byte frame), and `iretq` into the \
         handler; the round trip adds the user-mode resume (no kernel entry). The PCT round \
         trip includes both context switches through the kernel loop, the server's upcall \
         entry and its Rust handler. Plain TCG numbers are host time spent emulating these \
         paths and vary with the host.\n",
    );
    bench_qemu::write_results("kernel", &json, &md)
}
