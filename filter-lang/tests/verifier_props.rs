//! Property tests of the verifier against the interpreter.
//!
//! * The verifier never panics, on arbitrary words and on random programs
//!   built from valid instructions.
//! * Programs it accepts, run by the instrumented interpreter over random
//!   packets, never fault, touch only memory the verifier allowed (context
//!   fields read-only, packet read-only, stack, declared regions with their
//!   write permission) and finish within the proven instruction bound with
//!   a valid verdict.
//!
//! The program generator assembles random bodies between a fixed prologue
//! (packet pointers in r6/r7, a packet-length check of random size, some
//! initialized stack) and epilogue, from a menu of packet loads, stack and
//! region accesses, ALU operations, forward branches, bounded loops, helper
//! calls and a local call; a good share of what it builds is accepted.

use filter_lang::bpf::Program;
use filter_lang::bpf::ash::RecordingEnv;
use filter_lang::bpf::asm::assemble;
use filter_lang::bpf::insn::Insn;
use filter_lang::bpf::interp::{
    Access, Interpreter, Observer, RegionKind, RunOptions, layout, packet_memory, run_packet,
};
use filter_lang::bpf::spec::{ProgramSpec, ProgramType, RegionDecl};
use filter_lang::bpf::verifier::verify;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::cell::Cell;
use std::fmt::Write;

fn packet_spec() -> ProgramSpec {
    let mut spec = ProgramSpec::new(ProgramType::Packet);
    spec.regions = vec![
        RegionDecl {
            size: 64,
            writable: true,
        },
        RegionDecl {
            size: 16,
            writable: false,
        },
    ];
    spec.counters = 2;
    spec
}

const SCALARS: [&str; 6] = ["%r0", "%r2", "%r3", "%r4", "%r5", "%r8"];
const ALU: [&str; 13] = [
    "add", "sub", "mul", "div", "sdiv", "mod", "smod", "or", "and", "lsh", "rsh", "arsh", "xor",
];
const JMP: [&str; 11] = [
    "jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle", "jset",
];
const SIZES: [(&str, i64); 4] = [("b", 1), ("h", 2), ("w", 4), ("dw", 8)];

/// Builds a program from random genes.
fn program(check: u8, genes: &[u64]) -> String {
    let mut s = String::new();
    let check = check % 48;
    let _ = writeln!(
        s,
        "ldxdw %r6, [%r1+0]\nldxdw %r7, [%r1+8]\nmov %r0, 0\nmov %r2, 1\nmov %r3, 2\n\
         mov %r4, 3\nmov %r5, 4\nmov %r8, 5\nmov %r9, 0\nstdw [%r10-8], 0\nstdw [%r10-16], 0\n\
         stdw [%r10-24], 0\nstdw [%r10-32], 0\nmov %r1, %r6\nadd %r1, {check}\njgt %r1, %r7, out"
    );
    let mut label = 0;
    for &g in genes {
        let pick = |shift: u32, n: usize| ((g >> shift) as usize) % n;
        let r = SCALARS[pick(8, SCALARS.len())];
        let r2 = SCALARS[pick(12, SCALARS.len())];
        let imm = ((g >> 32) as i32) >> pick(16, 31);
        let small = (g >> 40) % 64;
        let (sz, szn) = SIZES[pick(20, 4)];
        let reinit = "mov %r2, 1\nmov %r3, 2\nmov %r4, 3\nmov %r5, 4";
        let mask = [7, 15, 31, 63, 255][pick(44, 5)];
        let alu = ALU[pick(24, ALU.len())];
        match g % 21 {
            0 => _ = writeln!(s, "mov {r}, {imm}"),
            1 => _ = writeln!(s, "{} {r}, {imm}", ALU[pick(24, ALU.len())]),
            2 => _ = writeln!(s, "{} {r}, {r2}", ALU[pick(24, ALU.len())]),
            3 => _ = writeln!(s, "{}32 {r}, {r2}", ALU[pick(24, ALU.len())]),
            4 | 5 => _ = writeln!(s, "ldx{sz} {r}, [%r6+{}]", small % 48),
            6 => {
                let off =
                    -8 * (1 + (small % 4) as i64) + (small as i64 / 4 % 8) % (8 / szn.min(8)) * szn;
                _ = writeln!(s, "stx{sz} [%r10{off:+}], {r}");
            }
            7 => _ = writeln!(s, "ldx{sz} {r}, [%r10-{}]", 8 * (1 + small % 4)),
            8 | 9 => _ = writeln!(s, "{} {r}, {imm}, +{}", JMP[pick(24, JMP.len())], small % 4),
            10 => {
                let (id, off) = (pick(28, 2), small);
                let load = if g >> 60 & 1 == 0 {
                    format!("ldx{sz} {r}, [%r0+{off}]")
                } else {
                    format!("mov %r1, {r}\nstx{sz} [%r0+{off}], %r1")
                };
                _ = writeln!(s, "mov %r1, {id}\ncall 3\n{load}\nmov %r0, 0\n{reinit}");
            }
            11 => _ = writeln!(s, "mov %r1, {}\nmov %r2, {r}\ncall 2\n{reinit}", small % 3),
            12 => {
                _ = writeln!(
                    s,
                    "mov %r1, %r10\nadd %r1, -32\nmov %r2, {}\ncall 6\nmov %r0, 0\n{reinit}",
                    small % 40
                )
            }
            13 => {
                _ = writeln!(
                    s,
                    "mov %r1, 0\nmov %r2, {}\nmov %r3, {}\nmov %r4, {}\nmov %r5, 0\ncall {}\n{reinit}",
                    small,
                    (g >> 48) % 64,
                    (g >> 54) % 16,
                    4 + pick(28, 2)
                )
            }
            14 => {
                label += 1;
                _ = writeln!(
                    s,
                    "mov %r9, {}\nL{label}:\nadd {r}, {imm}\nxor {r2}, {r}\nsub %r9, 1\njne %r9, 0, L{label}",
                    1 + small % 6
                );
            }
            15 => _ = writeln!(s, "stxdw [%r10-40], %r6\nldxdw %r6, [%r10-40]"),
            16 => _ = writeln!(s, "lddw {r}, {:#x}", g.rotate_left(17)),
            17 => _ = writeln!(s, "mov %r1, {r}\ncall local sub\nmov {r2}, %r0\n{reinit}"),
            // A computed, masked index into the initialized stack bytes.
            18 => {
                _ = writeln!(
                    s,
                    "mov %r1, {r}\n{alu} %r1, {imm}\nand %r1, {mask}\nmov %r9, %r10\nadd %r9, -32\n\
                 add %r9, %r1\nldx{sz} {r2}, [%r9+0]\nmov %r9, 0"
                )
            }
            // A computed pointer with a variable part and a negative
            // constant part (data + var + k - k2), read at or below it,
            // checked against data_end only sometimes.
            19 => {
                let k = small % 16;
                let below = (g >> 50) % 24;
                let check = if g >> 61 & 1 == 0 {
                    format!(
                        "mov %r1, %r9\nadd %r1, {}\njgt %r1, %r7, +1\n",
                        (g >> 56) % 8
                    )
                } else {
                    String::new()
                };
                // The packet length (data_end - data) as the variable
                // part: accesses land right at the end of the packet.
                _ = writeln!(
                    s,
                    "mov %r1, %r7\nsub %r1, %r6\nand %r1, {mask}\nadd %r1, {k}\nmov %r9, %r6\n\
                 add %r9, %r1\nsub %r9, {below}\n{check}ldx{sz} {r2}, [%r9+0]\nmov %r9, 0"
                )
            }
            // A computed index into the packet, checked against data_end.
            _ => {
                _ = writeln!(
                    s,
                    "mov %r1, {r}\n{alu} %r1, {imm}\nand %r1, {mask}\nmov %r9, %r6\nadd %r9, %r1\n\
                 mov %r1, %r9\nadd %r1, {szn}\njgt %r1, %r7, +1\nldx{sz} {r2}, [%r9+0]\nmov %r9, 0"
                )
            }
        }
    }
    s.push_str(
        "mov %r8, 0\nmov %r8, 1\nmov %r8, 2\nand %r0, 1\nexit\n\
         out:\nmov %r0, 0\nexit\n\
         sub:\nmov %r0, %r1\nand %r0, 7\nexit\n",
    );
    s
}

/// Records every access and checks it against what the verifier allows.
struct Checker {
    violations: Vec<String>,
    regions: Vec<RegionDecl>,
}

impl Observer for Checker {
    fn on_access(&mut self, a: &Access) {
        let bad = match a.region {
            None => Some("outside every object"),
            Some(RegionKind::Context) => {
                let ok_field = matches!(
                    (a.addr - layout::CONTEXT_BASE, a.len),
                    (0, 8) | (8, 8) | (16, 4) | (20, 4)
                );
                (a.write || a.by_helper || !ok_field)
                    .then_some("context access other than a field load")
            }
            Some(RegionKind::Packet) => a.write.then_some("packet write"),
            Some(RegionKind::App(id)) => (a.write && !self.regions[id as usize].writable)
                .then_some("write to a read-only region"),
            Some(RegionKind::Stack(_)) => None,
            Some(RegionKind::Buffer) => Some("buffer access in a packet program"),
        };
        if let Some(why) = bad {
            self.violations.push(format!("insn {}: {why}: {a:?}", a.pc));
        }
    }
}

fn run_checked(
    words: &[Insn],
    spec: &ProgramSpec,
    bound: u64,
    packet: &[u8],
) -> Result<(), String> {
    let interp = Interpreter::new(words).map_err(|e| format!("{e:?}"))?;
    let mut r0 = [0xa5u8; 64];
    let mut r1 = [0x5au8; 16];
    let mut setup = packet_memory(packet, 2, vec![(&mut r0[..], true), (&mut r1[..], false)]);
    let mut counters = [0u64; 2];
    let mut checker = Checker {
        violations: Vec::new(),
        regions: spec.regions.clone(),
    };
    let out = run_packet(
        &interp,
        &mut setup,
        &mut counters,
        &mut RecordingEnv::default(),
        RunOptions {
            budget: Some(bound),
            observer: Some(&mut checker),
            ..RunOptions::default()
        },
    )
    .map_err(|e| format!("run failed on a {}-byte packet: {e}", packet.len()))?;
    if !checker.violations.is_empty() {
        return Err(checker.violations.join("\n"));
    }
    if out.executed > bound || out.r0 > 1 {
        return Err(format!(
            "executed {} (bound {bound}), r0 {}",
            out.executed, out.r0
        ));
    }
    Ok(())
}

#[test]
fn accepted_programs_stay_inside_what_the_verifier_allowed() {
    let spec = packet_spec();
    let accepted = Cell::new(0usize);
    let total = Cell::new(0usize);
    let mut runner = TestRunner::new(Config {
        cases: 600,
        ..Config::default()
    });
    let strategy = (
        any::<u8>(),
        prop::collection::vec(any::<u64>(), 1..14),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 1..5),
    );
    runner
        .run(&strategy, |(check, genes, packets)| {
            let text = program(check, &genes);
            let prog = assemble(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            total.set(total.get() + 1);
            if let Ok(v) = verify(&prog, &spec) {
                accepted.set(accepted.get() + 1);
                for p in &packets {
                    run_checked(&prog.words, &spec, v.insn_bound, p)
                        .map_err(|e| TestCaseError::fail(format!("{e}\nprogram:\n{text}")))?;
                }
            }
            Ok(())
        })
        .unwrap();
    // The generator must exercise accepted programs, not only rejections.
    assert!(
        accepted.get() * 5 >= total.get(),
        "only {} of {} generated programs were accepted",
        accepted.get(),
        total.get()
    );
}

/// Valid-opcode instruction words with small register numbers, so the
/// analysis (not only the decoder) sees them.
fn structured_word() -> impl Strategy<Value = u64> {
    const OPS: [u8; 40] = [
        0x07, 0x0f, 0x17, 0x1f, 0x27, 0x37, 0x3f, 0x47, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f, 0x87,
        0x97, 0xa7, 0xb7, 0xbf, 0xc7, 0xd4, 0xdc, 0x04, 0xb4, 0x61, 0x69, 0x71, 0x79, 0x62, 0x63,
        0x7a, 0x7b, 0x05, 0x15, 0x1d, 0x25, 0xa5, 0x85, 0x95, 0xdb,
    ];
    (
        0..OPS.len(),
        0u8..11,
        0u8..11,
        -64i16..64,
        prop_oneof![-70i32..70, any::<i32>()],
    )
        .prop_map(|(o, d, s, off, imm)| {
            let code = OPS[o];
            let src = if code == 0x85 { s % 2 } else { s };
            let imm = match code {
                0xd4 | 0xdc => [16, 32, 64][(imm.unsigned_abs() % 3) as usize],
                0xdb => 0,
                _ => imm,
            };
            Insn::new(code, d, src, off, imm).to_u64()
        })
}

proptest! {
    #![proptest_config(Config { cases: 2000, ..Config::default() })]

    #[test]
    fn verifier_never_panics_on_arbitrary_words(words in prop::collection::vec(any::<u64>(), 0..48), size in 0u32..64) {
        let prog = Program::from_words(words.into_iter().map(Insn::from_u64).collect());
        let _ = verify(&prog, &packet_spec());
        let _ = verify(&prog, &ProgramSpec::new(ProgramType::Memory { size }));
    }

    #[test]
    fn verifier_never_panics_on_valid_instructions(words in prop::collection::vec(structured_word(), 1..40), size in 0u32..64) {
        let mut words: Vec<Insn> = words.into_iter().map(Insn::from_u64).collect();
        words.push(Insn::from_u64(0x95));
        let prog = Program::from_words(words);
        for spec in [packet_spec(), ProgramSpec::new(ProgramType::Memory { size })] {
            if let Ok(v) = verify(&prog, &spec) {
                // Anything accepted runs within its bound without faults.
                if spec.ty == ProgramType::Packet {
                    for p in [&[][..], &[1u8; 60][..]] {
                        run_checked(&prog.words, &spec, v.insn_bound, p).map_err(TestCaseError::fail)?;
                    }
                }
            }
        }
    }
}
