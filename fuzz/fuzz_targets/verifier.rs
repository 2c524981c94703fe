//! The verifier on arbitrary bytecode: it must never panic, and whatever it
//! accepts must run on the interpreter without a fault, touching only the
//! objects it may, within the proven instruction bound.
//!
//! Input: byte 0 picks the program type and limits, the rest are
//! instruction words.
#![no_main]

use ash_compiler::{CompileOptions, compile_verified};
use filter_lang::bpf::Program;
use filter_lang::bpf::ash::RecordingEnv;
use filter_lang::bpf::helpers::ConformanceHelpers;
use filter_lang::bpf::insn::Insn;
use filter_lang::bpf::interp::{Interpreter, RunOptions, buffer_memory, packet_memory, run_packet};
use filter_lang::bpf::spec::{ProgramSpec, ProgramType, RegionDecl};
use filter_lang::bpf::verifier::verify;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let words: Vec<Insn> = rest
        .chunks_exact(8)
        .map(|c| Insn::from_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let ty = if sel & 1 == 0 {
        ProgramType::Packet
    } else {
        ProgramType::Memory {
            size: (sel >> 1) as u32 % 64,
        }
    };
    let mut spec = ProgramSpec::new(ty);
    spec.regions = vec![
        RegionDecl {
            size: 32,
            writable: true,
        },
        RegionDecl {
            size: 8,
            writable: false,
        },
    ];
    spec.counters = 2;
    spec.limits.max_processed = 20_000;
    spec.limits.max_states = 512;
    let prog = Program::from_words(words);
    let Ok(v) = verify(&prog, &spec) else {
        return;
    };
    // The kernel compiles whatever it verifies: the JIT must not panic.
    for blinding in [None, Some(u64::from(sel) << 8 | 1)] {
        compile_verified(&prog.words, &v, &CompileOptions { blinding })
            .unwrap_or_else(|e| panic!("verified program does not compile: {e}"));
    }
    let interp = Interpreter::new(&prog.words).expect("verified programs decode");
    let opts = || RunOptions {
        budget: Some(v.insn_bound),
        ..RunOptions::default()
    };
    match ty {
        ProgramType::Packet => {
            for len in [0usize, 14, 60] {
                let packet: Vec<u8> = (0..len).map(|i| i as u8 ^ sel).collect();
                let (mut a, mut b) = ([0u8; 32], [0u8; 8]);
                let mut setup =
                    packet_memory(&packet, 1, vec![(&mut a[..], true), (&mut b[..], false)]);
                let out = run_packet(
                    &interp,
                    &mut setup,
                    &mut [0; 2],
                    &mut RecordingEnv::default(),
                    opts(),
                )
                .unwrap_or_else(|e| panic!("verified program failed: {e}"));
                assert!(out.r0 <= 1, "verdict {}", out.r0);
            }
        }
        ProgramType::Memory { size } => {
            let mut buf = vec![sel; size as usize];
            let (mut mem, args) = buffer_memory(&mut buf);
            interp
                .run(&mut mem, &mut ConformanceHelpers, args, opts())
                .unwrap_or_else(|e| panic!("verified program failed: {e}"));
        }
    }
});
