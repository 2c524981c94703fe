//! The accept/reject corpus: every `verifier_corpus/*.s` file states in its
//! header comments the program type and the expected verdict (and for
//! rejections the reason and, optionally, the instruction; for acceptances
//! optionally the proven instruction bound). Accepted programs are also run
//! on the interpreter over a few packets, checking the bound.
//!
//! Header keys: `expect: accept | reject <VerifyErrorKind variant>`,
//! `at: <insn>`, `type: packet | memory:SIZE`, `regions: SIZE:rw|ro ...`,
//! `counters: N`, `limits: insns=N states=N processed=N frames=N work=N
//! cells=N`,
//! `bound: N`.

use filter_lang::bpf::ash::RecordingEnv;
use filter_lang::bpf::asm::assemble;
use filter_lang::bpf::helpers::ConformanceHelpers;
use filter_lang::bpf::interp::{Interpreter, RunOptions, buffer_memory, packet_memory, run_packet};
use filter_lang::bpf::spec::{ProgramSpec, ProgramType, RegionDecl};
use filter_lang::bpf::verifier::verify;
use std::path::PathBuf;

struct Case {
    name: String,
    text: String,
    spec: ProgramSpec,
    expect: Result<(), String>,
    at: Option<usize>,
    bound: Option<u64>,
}

fn header(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix('#'))
        .find_map(|l| {
            l.trim()
                .strip_prefix(key)?
                .strip_prefix(':')
                .map(|v| v.trim().to_string())
        })
}

fn parse(path: &PathBuf) -> Case {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    let ty: ProgramType = header(&text, "type")
        .unwrap_or_else(|| panic!("{name}: no `# type:`"))
        .parse()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut spec = ProgramSpec::new(ty);
    if let Some(r) = header(&text, "regions") {
        for decl in r.split_whitespace() {
            let (size, mode) = decl.split_once(':').expect("SIZE:rw|ro");
            spec.regions.push(RegionDecl {
                size: size.parse().unwrap(),
                writable: mode == "rw",
            });
        }
    }
    if let Some(c) = header(&text, "counters") {
        spec.counters = c.parse().unwrap();
    }
    if let Some(l) = header(&text, "limits") {
        for kv in l.split_whitespace() {
            let (k, v) = kv.split_once('=').expect("key=value");
            let v: usize = v.parse().unwrap();
            match k {
                "insns" => spec.limits.max_insns = v,
                "states" => spec.limits.max_states = v,
                "processed" => spec.limits.max_processed = v,
                "frames" => spec.limits.max_call_frames = v,
                "work" => spec.limits.max_work = v as u64,
                "cells" => spec.limits.max_state_cells = v,
                _ => panic!("{name}: unknown limit {k}"),
            }
        }
    }
    let expect = header(&text, "expect").unwrap_or_else(|| panic!("{name}: no `# expect:`"));
    let expect = match expect.strip_prefix("reject") {
        Some(reason) => Err(reason.trim().to_string()),
        None if expect == "accept" => Ok(()),
        None => panic!("{name}: bad expect `{expect}`"),
    };
    Case {
        at: header(&text, "at").map(|v| v.parse().unwrap()),
        bound: header(&text, "bound").map(|v| v.parse().unwrap()),
        name,
        text,
        spec,
        expect,
    }
}

fn cases() -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/verifier_corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    files.sort();
    files.iter().map(parse).collect()
}

/// Runs an accepted program over a few packets; every run must end within
/// the bound (the interpreter's budget is the bound).
fn run_accepted(c: &Case, words: &[filter_lang::bpf::Insn], bound: u64) {
    let interp = Interpreter::new(words).unwrap();
    let opts = || RunOptions {
        budget: Some(bound),
        ..RunOptions::default()
    };
    match c.spec.ty {
        ProgramType::Packet => {
            for len in [0usize, 1, 13, 14, 18, 34, 60, 100, 1514] {
                let packet: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
                let mut regions: Vec<Vec<u8>> = c
                    .spec
                    .regions
                    .iter()
                    .map(|r| vec![0; r.size as usize])
                    .collect();
                let bindings = regions
                    .iter_mut()
                    .zip(&c.spec.regions)
                    .map(|(b, d)| (&mut b[..], d.writable))
                    .collect();
                let mut setup = packet_memory(&packet, 1, bindings);
                let mut counters = vec![0; c.spec.counters as usize];
                let out = run_packet(
                    &interp,
                    &mut setup,
                    &mut counters,
                    &mut RecordingEnv::default(),
                    opts(),
                )
                .unwrap_or_else(|e| panic!("{}: run on {len}-byte packet: {e}", c.name));
                assert!(out.r0 <= 1, "{}: verdict {}", c.name, out.r0);
            }
        }
        ProgramType::Memory { size } => {
            let mut buf: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let (mut mem, args) = buffer_memory(&mut buf);
            interp
                .run(&mut mem, &mut ConformanceHelpers, args, opts())
                .unwrap_or_else(|e| panic!("{}: run: {e}", c.name));
        }
    }
}

#[test]
fn corpus_verdicts_reasons_and_bounds() {
    let cases = cases();
    assert!(
        cases.len() >= 60,
        "corpus has only {} programs",
        cases.len()
    );
    let mut failures = Vec::new();
    for c in &cases {
        let prog = match assemble(&c.text) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{}: assembly: {e}", c.name));
                continue;
            }
        };
        match (verify(&prog, &c.spec), &c.expect) {
            (Ok(v), Ok(())) => {
                if let Some(b) = c.bound
                    && v.insn_bound != b
                {
                    failures.push(format!("{}: bound {} (expected {b})", c.name, v.insn_bound));
                }
                run_accepted(c, &prog.words, v.insn_bound);
            }
            (Ok(_), Err(reason)) => {
                failures.push(format!("{}: accepted, expected {reason}", c.name))
            }
            (Err(e), Ok(())) => failures.push(format!("{}: rejected: {e}", c.name)),
            (Err(e), Err(reason)) => {
                let got = format!("{:?}", e.kind);
                if !got.starts_with(reason.as_str()) {
                    failures.push(format!(
                        "{}: rejected with {got}, expected {reason}: {e}",
                        c.name
                    ));
                } else if c.at.is_some_and(|at| at != e.pc) {
                    failures.push(format!(
                        "{}: rejected at insn {}, expected {:?}: {e}",
                        c.name, e.pc, c.at
                    ));
                }
                // The message names the instruction and carries its source line.
                let msg = e.to_string();
                assert!(msg.starts_with(&format!("insn {}: ", e.pc)), "{msg}");
                if e.pc < prog.words.len() {
                    assert!(
                        msg.contains("(at line "),
                        "{}: no source line in {msg}",
                        c.name
                    );
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every rule the issue names has at least one rejecting program.
#[test]
fn corpus_covers_every_rule() {
    let cases = cases();
    let reasons: Vec<&str> = cases
        .iter()
        .filter_map(|c| c.expect.as_ref().err().map(|s| s.as_str()))
        .collect();
    for rule in [
        "UninitRegister",
        "UninitStack",
        "ReadOnly",
        "ContextAccess",
        "FramePointerWrite",
        "PointerLeak",
        "ReturnsPointer",
        "PointerComparison",
        "JumpOutOfRange",
        "JumpIntoLddw",
        "FallThrough",
        "Decode",
        "UnknownHelper",
        "R0Uninit",
        "UnboundedLoop",
        "PacketUnchecked",
        "PointerOverflow",
        "OutOfBounds",
        "PartialPointerRead",
        "MisalignedPointerSpill",
        "SpilledPointerCorrupted",
        "HelperArg",
        "CallDepth",
        "TooLong",
        "TooManyStates",
        "TooComplex",
        "TooMuchWork",
        "StateMemory",
        "BadVerdict",
    ] {
        assert!(
            reasons.contains(&rule),
            "no corpus program is rejected for {rule}"
        );
    }
    assert!(cases.iter().filter(|c| c.expect.is_ok()).count() >= 10);
}
