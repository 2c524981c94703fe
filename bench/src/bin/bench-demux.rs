//! `bench-demux`: demultiplexing cost with 1, 10, 100, 1,000 and 10,000
//! installed filters (UDP "connections" that differ only in their
//! destination port, behind a variable-length IPv4 header), for the merged
//! trie compiled to x86-64, the merged trie interpreted
//! (`Classifier::classify`), and a linear list of per-filter compiled
//! programs; and the cost of installing one more filter (in place in a
//! leaf table, or by recompiling). Writes
//! `bench/results/demux.{json,md,svg}`.
//!
//! Usage: `cargo xtask bench demux` (or `cargo run --release -p exo-bench
//! --bin bench-demux -- [--runs N] [--target-ms MS] [--pin]`).

#[path = "../../../filter-lang/tests/filter_support/mod.rs"]
mod filter_support;

use ash_compiler::host::ExecBuffer;
use ash_compiler::trie::{CompiledTrie, TrieOptions, compile_trie};
use exo_bench::opts::{self, Opts};
use exo_bench::packets::{ipv4_frame, udp};
use exo_bench::stats::{Summary, calibrate};
use exo_bench::svg::{Group, grouped_bars};
use filter_lang::filter::Classifier;
use filter_support::udp_dport;
use serde_json::json;
use std::fmt::Write as _;
use std::time::Instant;

const COUNTS: [usize; 5] = [1, 10, 100, 1_000, 10_000];
const ENGINES: [&str; 3] = [
    "compiled trie",
    "interpreted trie",
    "linear list (compiled)",
];
/// Frames per size (a power of two: the rotation index is masked, not divided).
const FRAMES: usize = 256;
const _: () = assert!(FRAMES.is_power_of_two());

fn port(i: usize) -> u16 {
    (2000 + i) as u16
}

/// Per-packet ns of `classify` over a rotating set of frames: `runs`
/// samples of about `target_ms` each.
fn per_packet(
    opts: &Opts,
    frames: &[Vec<u8>],
    mut classify: impl FnMut(&[u8]) -> Option<(u32, u32)>,
) -> Summary {
    let mut k = 0usize;
    let iters = calibrate(opts.target_ms, || {
        std::hint::black_box(classify(&frames[k & (FRAMES - 1)]));
        k += 1;
    });
    let samples: Vec<f64> = (0..opts.runs)
        .map(|_| {
            let t = Instant::now();
            for i in 0..iters as usize {
                std::hint::black_box(classify(&frames[i & (FRAMES - 1)]));
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    Summary::of(&samples)
}

fn main() {
    let opts = opts::from_args("bench-demux");
    let mut rows = Vec::new();
    for &n in &COUNTS {
        eprintln!("bench-demux: {n} filters");
        let mut c = Classifier::new();
        for i in 0..n {
            c.insert(udp_dport(port(i)), i as u32).expect("insert");
        }
        // Frames to installed ports, IPv4 with one option word (IHL 6).
        let mut s = 0x2545_f491u32;
        let frames: Vec<Vec<u8>> = (0..FRAMES)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let p = port(s as usize % n);
                ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], 17, 1, &udp(999, p, &[0; 18]))
            })
            .collect();
        let t = compile_trie(&c, &TrieOptions::default()).expect("compiles");
        let x = ExecBuffer::new_trie(&t).expect("placed");
        // The per-filter programs: one single-filter classifier each.
        let singles: Vec<(ExecBuffer, CompiledTrie, u32)> = (0..n)
            .map(|i| {
                let mut one = Classifier::new();
                one.insert(udp_dport(port(i)), i as u32).expect("insert");
                let code = compile_trie(&one, &TrieOptions::default()).expect("compiles");
                (ExecBuffer::new_trie(&code).expect("placed"), code, i as u32)
            })
            .collect();
        // All three agree on every frame before anything is timed.
        for f in &frames {
            let want = c.classify(f).map(|h| (h.id.0, h.owner));
            // SAFETY: `x` holds `t`'s code; `t.leaves` are its tables.
            let got = unsafe { x.classify(&t.leaves, f) };
            assert_eq!(got, want, "compiled trie disagrees");
            assert!(want.is_some(), "frames hit installed filters");
        }
        let linear = |f: &[u8]| {
            // Every filter has four atoms, so the first match (in id order) wins.
            for (prog, code, id) in &singles {
                // SAFETY: each buffer holds its compilation's code.
                if let Some((_, owner)) = unsafe { prog.classify(&code.leaves, f) } {
                    return Some((*id, owner));
                }
            }
            None
        };
        for f in &frames {
            assert_eq!(linear(f), c.classify(f).map(|h| (h.id.0, h.owner)));
        }
        // SAFETY: `x` holds `t`'s code; `t.leaves` are its tables.
        let comp = per_packet(&opts, &frames, |f| unsafe { x.classify(&t.leaves, f) });
        let interpreted = per_packet(&opts, &frames, |f| c.classify(f).map(|h| (h.id.0, h.owner)));
        let lin = per_packet(&opts, &frames, linear);
        let install = install_cost(&opts, &c, n);
        rows.push(Row {
            filters: n,
            ns: [comp, interpreted, lin],
            install,
            stats: t.stats,
        });
    }
    report(&opts, &rows);
}

/// Cost of installing one more filter into `c` (`n` filters): the
/// classifier insert, then the in-place leaf-table update when the filter
/// only adds a leaf to a table group, and (for comparison, always) a full
/// recompilation and placement in fresh W^X memory. Best of several tries.
fn install_cost(opts: &Opts, c: &Classifier, n: usize) -> Install {
    let mut best = Install {
        insert_ns: f64::INFINITY,
        in_place_ns: Some(f64::INFINITY),
        recompile_ns: f64::INFINITY,
        place_ns: f64::INFINITY,
    };
    for k in 0..opts.runs.max(3) {
        let mut c2 = c.clone();
        let mut t2 = compile_trie(&c2, &TrieOptions::default()).expect("compiles");
        let t0 = Instant::now();
        let id = c2
            .insert(udp_dport(port(n + k)), (n + k) as u32)
            .expect("insert");
        let t1 = Instant::now();
        let done = t2.leaves.insert_in_place(&c2, id);
        let t2_end = Instant::now();
        let code = compile_trie(&c2, &TrieOptions::default()).expect("compiles");
        let t3 = Instant::now();
        let placed = ExecBuffer::new_trie(&code).expect("placed");
        let t4 = Instant::now();
        std::hint::black_box((placed, &t2));
        best.insert_ns = best.insert_ns.min((t1 - t0).as_nanos() as f64);
        best.in_place_ns = match (done, best.in_place_ns) {
            (true, Some(b)) => Some(b.min((t2_end - t1).as_nanos() as f64)),
            _ => None,
        };
        best.recompile_ns = best.recompile_ns.min((t3 - t2_end).as_nanos() as f64);
        best.place_ns = best.place_ns.min((t4 - t3).as_nanos() as f64);
    }
    best
}

struct Install {
    insert_ns: f64,
    /// `None` when the insertion needed a recompilation.
    in_place_ns: Option<f64>,
    recompile_ns: f64,
    place_ns: f64,
}

struct Row {
    filters: usize,
    ns: [Summary; 3],
    install: Install,
    stats: ash_compiler::trie::TrieStats,
}

fn report(opts: &Opts, rows: &[Row]) {
    let mut md = String::new();
    let _ = writeln!(md, "# Demultiplexing benchmark\n");
    let _ = writeln!(
        md,
        "Filters: Ethernet type IPv4, protocol UDP, base += IHL * 4, UDP destination port = one value per filter (4 atoms each). Frames: {FRAMES} different IPv4 (IHL 6) / UDP frames, each to a random installed port, classified in rotation. {} runs per cell of about {} ms; ns per packet, median (min in parentheses).\n",
        opts.runs, opts.target_ms
    );
    let _ = writeln!(
        md,
        "| filters | {} | nodes compiled | port dispatch |",
        ENGINES.join(" | ")
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---|");
    let mut json_rows = Vec::new();
    for r in rows {
        let st = &r.stats;
        let cells: Vec<String> =
            r.ns.iter()
                .map(|x| format!("{:.1} ({:.1})", x.median, x.min))
                .collect();
        let dispatch = if st.leaf_groups > 0 {
            "leaf table"
        } else if st.perfect_groups > 0 {
            "perfect hash"
        } else if st.open_groups > 0 {
            "open addressing"
        } else {
            "compare chain"
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {dispatch} |",
            r.filters,
            cells.join(" | "),
            st.nodes
        );
        json_rows.push(json!({
            "filters": r.filters,
            "ns_per_packet": ENGINES.iter().zip(&r.ns).map(|(e, x)| (e.to_string(), json!({ "min": x.min, "median": x.median }))).collect::<serde_json::Map<_, _>>(),
            "trie": { "nodes": st.nodes, "linear_groups": st.linear_groups, "perfect_groups": st.perfect_groups, "open_groups": st.open_groups, "leaf_groups": st.leaf_groups, "code_bytes": st.code_bytes, "table_bytes": st.table_bytes, "leaf_table_bytes": st.leaf_table_bytes },
        }));
    }
    let first = rows.first().map(|r| r.ns[0].min).unwrap_or(0.0);
    let last = rows.last().map(|r| r.ns[0].min).unwrap_or(0.0);
    let (first_med, last_med) = (
        rows.first().map(|r| r.ns[0].median).unwrap_or(0.0),
        rows.last().map(|r| r.ns[0].median).unwrap_or(0.0),
    );
    let ratio = if first > 0.0 { last / first } else { f64::NAN };
    let _ = writeln!(
        md,
        "\nCompiled trie, 10,000 filters vs 1 (minimums, this run): **{ratio:.2}x** (medians: {:.2}x; goal: under 2x: **{}**). Within a run the cost is flat in the number of filters.\n",
        if first_med > 0.0 {
            last_med / first_med
        } else {
            f64::NAN
        },
        if ratio < 2.0 { "met" } else { "not met" }
    );
    let _ = writeln!(
        md,
        "## Installing one more filter (best of {} tries)\n",
        opts.runs.max(3)
    );
    let _ = writeln!(
        md,
        "A filter that only adds a leaf to a group served by a leaf table (here: one more port, once the port group has more than `linear_max` = {} values) is installed by updating the table in place: no code changes. Any other change recompiles the classifier from the trie and places the new code; that cost is shown for every size, for comparison.\n",
        TrieOptions::default().linear_max
    );
    let _ = writeln!(
        md,
        "| filters before | classifier insert (µs) | in-place table update (µs) | full recompile (µs) | place in W^X memory (µs) | code + tables (bytes) | leaf tables (bytes) |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|");
    let mut json_ins = Vec::new();
    for r in rows {
        let i = &r.install;
        let _ = writeln!(
            md,
            "| {} | {:.2} | {} | {:.1} | {:.1} | {} | {} |",
            r.filters,
            i.insert_ns / 1e3,
            i.in_place_ns
                .map_or("needs recompile".into(), |u| format!("{:.2}", u / 1e3)),
            i.recompile_ns / 1e3,
            i.place_ns / 1e3,
            r.stats.code_bytes + r.stats.table_bytes,
            r.stats.leaf_table_bytes
        );
        json_ins.push(json!({
            "filters_before": r.filters,
            "insert_ns": i.insert_ns,
            "in_place_update_ns": i.in_place_ns,
            "recompile_ns": i.recompile_ns,
            "place_ns": i.place_ns,
        }));
    }
    let doc = json!({
        "benchmark": "demux",
        "runs": opts.runs,
        "target_ms_per_run": opts.target_ms,
        "unit": "ns per packet",
        "rows": json_rows,
        "ten_thousand_over_one_compiled": { "min": ratio, "median": if first_med > 0.0 { last_med / first_med } else { f64::NAN } },
        "goal_under_2x_met": ratio < 2.0,
        "insertion": json_ins,
    });
    let groups: Vec<Group> = rows
        .iter()
        .map(|r| Group {
            label: match r.filters {
                1 => "1 filter".to_string(),
                n => format!("{n} filters"),
            },
            values: r.ns.iter().map(|x| Some(x.median)).collect(),
        })
        .collect();
    let svg = grouped_bars(
        "Demultiplexing (median ns per packet)",
        "ns per packet",
        &ENGINES,
        &groups,
    );
    let json = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    exo_bench::write_results(
        "bench-demux",
        &[
            ("demux.json", &json),
            ("demux.md", &md),
            ("demux.svg", &svg),
        ],
    );
    print!("{md}");
}
