//! `exo-filter run FILE CAPTURE.pcap`: runs a filter and its handler over
//! an Ethernet capture the way the kernel would: each frame is classified
//! by the filters (or the filter program); the handler runs on the frames
//! that match, with the reference interpreter and the real ASH helpers.
//! Application regions start zeroed and persist across frames, like an
//! environment's memory. Prints frame and verdict counts, the helpers'
//! effects (frames sent, region bytes written, counters, wake-ups) and the
//! instructions executed against the verifier's proven bound.
//!
//! `--sent OUT.pcap` writes the frames the handler sent; `--region-out
//! NAME=PATH` writes a region's final bytes. Exit 1 when the program is
//! rejected, 2 on any other failure (including a handler fault, which the
//! verifier should have made impossible).

use crate::artifact::{AsmDecls, load_verified};
use crate::input::fail;
use filter_lang::bpf::Program;
use filter_lang::bpf::ash::RecordingEnv;
use filter_lang::bpf::interp::{
    Access, Interpreter, Observer, RegionKind, RunOptions, packet_memory, run_packet,
};
use filter_lang::bpf::spec::{packet_ctx, verdict};
use filter_lang::pcap::bytecode;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// A handler-language file (`.exo`), a `.s` handler or an object.
    file: PathBuf,
    /// An Ethernet capture in pcap format.
    capture: PathBuf,
    /// Write the frames the handler sent to this pcap file.
    #[arg(long, value_name = "OUT.pcap")]
    sent: Option<PathBuf>,
    /// Write the final bytes of region NAME (or its id) to PATH (repeatable).
    #[arg(long = "region-out", value_name = "NAME=PATH")]
    region_out: Vec<String>,
    /// Print one line per frame: match, verdict, instructions.
    #[arg(long)]
    trace: bool,
    #[command(flatten)]
    decls: AsmDecls,
}

/// Bytes written into each application region.
struct RegionWrites(Vec<u64>);

impl Observer for RegionWrites {
    fn on_access(&mut self, a: &Access) {
        if let (true, Some(RegionKind::App(id))) = (a.write, a.region)
            && let Some(n) = self.0.get_mut(id as usize)
        {
            *n += a.len as u64;
        }
    }
}

#[derive(Default)]
struct Totals {
    frames: u64,
    matched: u64,
    runs: u64,
    consumed: u64,
    delivered: u64,
    faults: u64,
    insns: u64,
    max_insns: u64,
}

pub fn run(a: Args) -> ExitCode {
    let (l, proofs) = match load_verified(&a.file, &a.decls) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let filter_interp = match l.object.filter_program.as_deref().map(Interpreter::new) {
        Some(Ok(i)) => Some(i),
        Some(Err((pc, e))) => return fail(format_args!("filter program: insn {pc}: {e}")),
        None => None,
    };
    let handler = l.handler.as_ref();
    let program: Option<&Program> = handler.and_then(|h| h.program.as_ref());
    if handler.is_some() && program.is_none() {
        return fail(
            "WebAssembly handlers run in the kernel's wasmi engine; `run` cannot run them",
        );
    }
    let interp = match program.map(|p| Interpreter::new(&p.words)) {
        Some(Ok(i)) => Some(i),
        Some(Err((pc, e))) => return fail(format_args!("handler: insn {pc}: {e}")),
        None => None,
    };
    let bound = proofs.handler.as_ref().map(|v| v.insn_bound);
    let (mut regions, mut counters) = match handler {
        Some(h) => (
            h.spec
                .regions
                .iter()
                .map(|r| vec![0u8; r.size as usize])
                .collect::<Vec<_>>(),
            vec![0u64; h.spec.counters as usize],
        ),
        None => (Vec::new(), Vec::new()),
    };
    let writable: Vec<bool> = handler.map_or(Vec::new(), |h| {
        h.spec.regions.iter().map(|r| r.writable).collect()
    });
    let mut writes = RegionWrites(vec![0; regions.len()]);
    let mut env = RecordingEnv::default();
    let mut t = Totals::default();

    let cap_err = |e: &dyn std::fmt::Display| fail(format_args!("{}: {e}", a.capture.display()));
    let file = match std::fs::File::open(&a.capture) {
        Ok(f) => f,
        Err(e) => return cap_err(&e),
    };
    let mut reader = match PcapReader::new(file) {
        Ok(r) => r,
        Err(e) => return cap_err(&e),
    };
    if reader.header().datalink != DataLink::ETHERNET {
        return fail(format_args!(
            "{}: link type {:?} is not supported; capture on an Ethernet interface",
            a.capture.display(),
            reader.header().datalink
        ));
    }
    while let Some(p) = reader.next_packet() {
        let p = match p {
            Ok(p) => p,
            Err(e) => return cap_err(&e),
        };
        t.frames += 1;
        // The kernel never hands a handler more than 65,535 bytes.
        let data = &p.data[..p.data.len().min(packet_ctx::MAX_PACKET_LEN as usize)];
        let hit = if l.object.filters.iter().any(|f| f.matches(data)) {
            true
        } else if let Some(fi) = &filter_interp {
            match bytecode::run(fi, data, p.orig_len) {
                Ok(m) => m,
                Err(e) => return fail(format_args!("frame {}: filter program: {e}", t.frames)),
            }
        } else {
            false
        };
        if !hit {
            if a.trace {
                println!("frame {}: no match", t.frames);
            }
            continue;
        }
        t.matched += 1;
        let Some(interp) = &interp else {
            if a.trace {
                println!("frame {}: match", t.frames);
            }
            continue;
        };
        t.runs += 1;
        let bufs: Vec<(&mut [u8], bool)> = regions
            .iter_mut()
            .zip(&writable)
            .map(|(r, &w)| (r.as_mut_slice(), w))
            .collect();
        let mut setup = packet_memory(data, 1, bufs);
        let opts = RunOptions {
            // One more than proven, so a broken bound shows as a fault.
            budget: bound.map(|b| b + 1),
            observer: Some(&mut writes),
            ..RunOptions::default()
        };
        match run_packet(interp, &mut setup, &mut counters, &mut env, opts) {
            Ok(out) => {
                t.insns += out.executed;
                t.max_insns = t.max_insns.max(out.executed);
                let v = match out.r0 {
                    verdict::CONSUMED => {
                        t.consumed += 1;
                        "consume"
                    }
                    verdict::DELIVER => {
                        t.delivered += 1;
                        "deliver"
                    }
                    _ => "invalid verdict",
                };
                if a.trace {
                    println!(
                        "frame {}: match, {v}, {} instructions",
                        t.frames, out.executed
                    );
                }
            }
            Err(e) => {
                t.faults += 1;
                println!("frame {}: handler fault: {e}", t.frames);
            }
        }
    }
    report(&t, &env, &writes, &counters, handler, bound);
    if let Some(path) = &a.sent
        && let Err(e) = write_sent(path, &env.sent)
    {
        return fail(format_args!("{}: {e}", path.display()));
    }
    for spec in &a.region_out {
        let Some((name, path)) = spec.split_once('=') else {
            return fail(format_args!("--region-out {spec}: expected NAME=PATH"));
        };
        let names = handler.map_or(&[][..], |h| &h.region_names[..]);
        let idx = names
            .iter()
            .position(|n| n == name)
            .or_else(|| name.parse().ok().filter(|&i: &usize| i < regions.len()));
        let Some(i) = idx else {
            return fail(if names.is_empty() {
                format!("--region-out: no region `{name}`: the handler has no regions")
            } else {
                format!(
                    "--region-out: no region `{name}`; the handler's regions are {} (or ids 0 to {})",
                    names.join(", "),
                    names.len() - 1
                )
            });
        };
        if let Err(e) = std::fs::write(path, &regions[i]) {
            return fail(format_args!("{path}: {e}"));
        }
    }
    if t.faults > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn report(
    t: &Totals,
    env: &RecordingEnv,
    writes: &RegionWrites,
    counters: &[u64],
    handler: Option<&crate::artifact::Handler>,
    bound: Option<u64>,
) {
    println!("frames: {}", t.frames);
    println!(
        "filter: {} matched, {} not matched",
        t.matched,
        t.frames - t.matched
    );
    let Some(h) = handler else {
        return;
    };
    println!(
        "handler runs: {} (consume {}, deliver {}, faults {})",
        t.runs, t.consumed, t.delivered, t.faults
    );
    let bytes: usize = env.sent.iter().map(Vec::len).sum();
    println!("frames sent: {} ({bytes} bytes)", env.sent.len());
    println!("wakeups: {}", env.wakeups);
    for (i, n) in writes.0.iter().enumerate() {
        println!(
            "region {}: {n} bytes written (size {})",
            h.region_names[i], h.spec.regions[i].size
        );
    }
    for (i, v) in counters.iter().enumerate() {
        println!("counter {}: {v}", h.counter_names[i]);
    }
    println!(
        "instructions: {} total, {} max per frame, verifier bound {}",
        t.insns,
        t.max_insns,
        bound.unwrap_or(0)
    );
}

fn write_sent(path: &PathBuf, frames: &[Vec<u8>]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut w = PcapWriter::new(file).map_err(|e| e.to_string())?;
    for (i, f) in frames.iter().enumerate() {
        let p = PcapPacket::new(Duration::from_micros(i as u64), f.len() as u32, f);
        w.write_packet(&p).map_err(|e| e.to_string())?;
    }
    Ok(())
}
