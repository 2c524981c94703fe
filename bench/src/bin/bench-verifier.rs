//! `cargo xtask bench verifier`: how long the verifier takes.
//!
//! * a 4096-instruction straight-line `packet` program (the target:
//!   well under a millisecond);
//! * a realistic handler with packet checks and helper calls;
//! * a bounded loop (one state per iteration);
//! * the hostile programs of the verifier audit (`docs/VERIFIER-AUDIT.md`,
//!   shared with `filter-lang/tests/verifier_resources.rs`): the worst
//!   cases a program can force on the verifier's time and memory, accepted
//!   or rejected when a budget (`max_work`, `max_state_cells`, states,
//!   instructions) runs out.
//!
//! Each case: minimum and median over several runs, and the most heap the
//! verifier held at once (counted by the global allocator). Results:
//! `bench/results/verifier.json` and `verifier.md`.

#[path = "../../../filter-lang/tests/verifier_cost/mod.rs"]
mod verifier_cost;

use exo_bench::stats::{Summary, time_per_call};
use filter_lang::bpf::Program;
use filter_lang::bpf::asm::assemble;
use filter_lang::bpf::spec::{ProgramSpec, ProgramType, RegionDecl};
use filter_lang::bpf::verifier::{Stats, verify};
use std::fmt::Write;
use verifier_cost::{Counting, hostile, peak_heap};

#[global_allocator]
static ALLOC: Counting = Counting;

/// 4096 words, no branches: ALU work, context loads, stack spills and fills.
fn straight_line() -> String {
    let mut s = String::from("mov %r0, 0\nmov %r2, 1\nmov %r3, 2\nmov %r6, %r1\n");
    let mut words = 4;
    let body = [
        "add %r2, 7",
        "xor %r3, %r2",
        "lsh %r2, 3",
        "and %r3, 0xffff",
        "stxdw [%r10-8], %r2",
        "ldxdw %r4, [%r10-8]",
        "ldxw %r5, [%r6+16]",
        "add %r3, %r5",
        "stxw [%r10-16], %r3",
        "ldxw %r0, [%r10-16]",
        "mul %r4, 3",
        "rsh %r2, 1",
    ];
    let mut i = 0;
    while words < 4096 - 2 {
        s.push_str(body[i % body.len()]);
        s.push('\n');
        i += 1;
        words += 1;
    }
    s.push_str("and %r0, 1\nexit\n");
    s
}

const HANDLER: &str = "
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r0, 1
mov %r4, %r2
add %r4, 42
jgt %r4, %r3, out
ldxh %r5, [%r2+12]
jne %r5, 0x0008, out
ldxb %r5, [%r2+23]
jne %r5, 17, out
ldxb %r5, [%r2+14]
and %r5, 15
lsh %r5, 2
mov %r6, %r2
add %r6, %r5
add %r6, 14
mov %r7, %r6
add %r7, 8
jgt %r7, %r3, out
ldxh %r8, [%r6+2]
jne %r8, 0x3500, out
mov %r1, 0
mov %r2, 0
mov %r3, 14
mov %r4, 28
mov %r5, 0
call 5
jslt %r0, 0, err
stdw [%r10-16], 0
stdw [%r10-8], 0
stxh [%r10-4], %r0
mov %r1, %r10
add %r1, -16
mov %r2, 14
call 6
call 7
mov %r1, 0
mov %r2, 1
call 2
mov %r0, 0
exit
err:
mov %r0, 1
out:
exit
";

const LOOP: &str = "
ldxdw %r2, [%r1+0]
ldxdw %r3, [%r1+8]
mov %r4, 0
mov %r5, 0
loop:
mov %r6, %r2
add %r6, 1
jgt %r6, %r3, done
ldxb %r7, [%r2+0]
add %r5, %r7
add %r2, 1
add %r4, 1
jlt %r4, 64, loop
done:
mov %r0, %r5
and %r0, 1
exit
";

struct Case {
    name: String,
    words: usize,
    accepted: bool,
    /// Instructions analysed (accepted) or the rejection reason.
    detail: String,
    /// Most heap bytes the verifier held at once.
    peak_heap: usize,
    /// The verifier's own account (accepted programs only).
    stats: Option<Stats>,
    summary: Summary,
}

fn measure(name: &str, text: &str, runs: usize, iters: u64) -> Case {
    let prog: Program = assemble(text).expect("benchmark programs assemble");
    let mut spec = ProgramSpec::new(ProgramType::Packet);
    spec.regions = vec![RegionDecl {
        size: 64,
        writable: true,
    }];
    spec.counters = 1;
    let (first, peak_heap) = peak_heap(|| verify(&prog, &spec));
    let detail = match &first {
        Ok(v) => format!("{} insns analysed", v.stats.processed),
        Err(e) => {
            let kind = format!("{:?}", e.kind);
            kind.split([' ', '{', '('])
                .next()
                .unwrap_or_default()
                .to_string()
        }
    };
    let samples = time_per_call(runs, iters, || {
        std::hint::black_box(verify(std::hint::black_box(&prog), &spec)).ok();
    });
    Case {
        name: name.to_string(),
        words: prog.words.len(),
        accepted: first.is_ok(),
        detail,
        peak_heap,
        stats: first.as_ref().ok().map(|v| v.stats),
        summary: Summary::of(&samples),
    }
}

fn main() {
    let straight = straight_line();
    let mut cases = vec![
        measure("straight-line 4096", &straight, 15, 50),
        measure("UDP/53 ASH with helpers", HANDLER, 15, 2000),
        measure("bounded loop (64 iterations)", LOOP, 15, 200),
    ];
    for (name, text) in hostile() {
        cases.push(measure(&format!("hostile: {name}"), &text, 5, 1));
    }
    let mut md = String::from(
        "# Verifier speed\n\n`cargo xtask bench verifier`: time to verify one program \
         (minimum and median over runs of repeated verifications) and the most heap \
         the verifier held at once. The hostile programs are the audit's worst cases \
         (`docs/VERIFIER-AUDIT.md`); default limits.\n\n\
         | program | words | verdict | analysis / reason | peak heap (KiB) | min (us) | median (us) |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut json_cases = Vec::new();
    for c in &cases {
        let (min, med) = (c.summary.min / 1000.0, c.summary.median / 1000.0);
        let verdict = if c.accepted { "accepted" } else { "rejected" };
        let _ = writeln!(
            md,
            "| {} | {} | {verdict} | {} | {} | {min:.1} | {med:.1} |",
            c.name,
            c.words,
            c.detail,
            c.peak_heap.div_ceil(1024)
        );
        json_cases.push(serde_json::json!({
            "name": c.name,
            "words": c.words,
            "verdict": verdict,
            "detail": c.detail,
            "peak_heap_bytes": c.peak_heap,
            "work": c.stats.map(|s| s.work),
            "peak_state_cells": c.stats.map(|s| s.peak_cells),
            "min_us": min,
            "median_us": med,
        }));
        println!(
            "{:<45} {:>5} words {verdict:>8}  heap {:>6} KiB  min {min:>9.1} us  median {med:>9.1} us",
            c.name,
            c.words,
            c.peak_heap.div_ceil(1024)
        );
    }
    let json = serde_json::json!({
        "benchmark": "verifier",
        "unit": "microseconds",
        "cases": json_cases,
    });
    let json = serde_json::to_string_pretty(&json).expect("serializable") + "\n";
    exo_bench::write_results(
        "bench-verifier",
        &[("verifier.json", &json), ("verifier.md", &md)],
    );
}
