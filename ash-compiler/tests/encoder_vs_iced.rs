//! Every instruction form the encoder emits, over all registers and a spread
//! of displacements and immediates, decoded by iced-x86 and compared with
//! the instruction it was meant to be (written out independently here).

use ash_compiler::x86::{AluRR, Asm, Cond, Mem, OpSize, Reg, ShiftOp};
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

const R64: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];
const R32: [&str; 16] = [
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d",
    "r13d", "r14d", "r15d",
];
const R16: [&str; 16] = [
    "ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w",
    "r14w", "r15w",
];
const R8: [&str; 16] = [
    "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b",
    "r13b", "r14b", "r15b",
];

fn name(size: OpSize, r: Reg) -> &'static str {
    let i = r.num() as usize;
    match size {
        OpSize::B8 => R8[i],
        OpSize::B16 => R16[i],
        OpSize::B32 => R32[i],
        OpSize::B64 => R64[i],
    }
}

fn ptr(size: OpSize) -> &'static str {
    match size {
        OpSize::B8 => "byte",
        OpSize::B16 => "word",
        OpSize::B32 => "dword",
        OpSize::B64 => "qword",
    }
}

fn hex(v: i64) -> String {
    if v < 0 {
        format!("-0x{:x}", (v as i128).unsigned_abs())
    } else {
        format!("0x{v:x}")
    }
}

fn mem(size: OpSize, m: Mem) -> String {
    let d = if m.disp == 0 {
        String::new()
    } else if m.disp < 0 {
        format!("-0x{:x}", (m.disp as i64).unsigned_abs())
    } else {
        format!("+0x{:x}", m.disp)
    };
    format!("{} ptr [{}{}]", ptr(size), R64[m.base.num() as usize], d)
}

/// Decodes exactly one instruction from `bytes` (all of them) and formats it.
fn disasm(bytes: &[u8]) -> String {
    let mut dec = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE);
    let insn = dec.decode();
    assert!(!insn.is_invalid(), "invalid encoding {bytes:02x?}");
    assert_eq!(
        insn.len(),
        bytes.len(),
        "{bytes:02x?} decodes to a {}-byte instruction",
        insn.len()
    );
    let mut f = IntelFormatter::new();
    let o = f.options_mut();
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_space_after_operand_separator(true);
    o.set_small_hex_numbers_in_decimal(false);
    o.set_signed_immediate_operands(true);
    o.set_memory_size_options(iced_x86::MemorySizeOptions::Always);
    o.set_branch_leading_zeros(false);
    o.set_leading_zeros(false);
    let mut s = String::new();
    f.format(&insn, &mut s);
    s
}

fn check(emit: impl FnOnce(&mut Asm), expect: &str) {
    let mut a = Asm::new();
    emit(&mut a);
    let got = disasm(a.bytes());
    assert_eq!(got, expect, "bytes {:02x?}", a.bytes());
}

const SIZES: [OpSize; 4] = [OpSize::B8, OpSize::B16, OpSize::B32, OpSize::B64];
const DISPS: [i32; 7] = [0, 1, -1, 127, -128, 0x1234, -0x8000];
const IMMS: [i32; 7] = [0, 1, -1, 127, -128, 0x7fff_ffff, i32::MIN];

fn mems() -> Vec<Mem> {
    Reg::ALL
        .iter()
        .flat_map(|&b| DISPS.iter().map(move |&d| Mem::new(b, d)))
        .collect()
}

#[test]
fn alu_register_register() {
    let ops = [
        (AluRR::Add, "add"),
        (AluRR::Or, "or"),
        (AluRR::And, "and"),
        (AluRR::Sub, "sub"),
        (AluRR::Xor, "xor"),
        (AluRR::Cmp, "cmp"),
        (AluRR::Test, "test"),
        (AluRR::Mov, "mov"),
    ];
    for (op, mn) in ops {
        for size in SIZES {
            for d in Reg::ALL {
                for s in Reg::ALL {
                    check(
                        |a| a.alu_rr(op, size, d, s),
                        &format!("{mn} {}, {}", name(size, d), name(size, s)),
                    );
                }
            }
        }
    }
}

#[test]
fn alu_register_immediate() {
    let ops = [
        (AluRR::Add, "add"),
        (AluRR::Or, "or"),
        (AluRR::And, "and"),
        (AluRR::Sub, "sub"),
        (AluRR::Xor, "xor"),
        (AluRR::Cmp, "cmp"),
        (AluRR::Test, "test"),
    ];
    for (op, mn) in ops {
        for size in [OpSize::B32, OpSize::B64] {
            for d in Reg::ALL {
                for imm in IMMS {
                    // iced shows 32-bit immediates as the 32-bit value and
                    // 64-bit ones sign-extended; both signed.
                    check(
                        |a| a.alu_ri(op, size, d, imm),
                        &format!("{mn} {}, {}", name(size, d), hex(imm as i64)),
                    );
                }
            }
        }
    }
}

#[test]
fn moves_of_constants() {
    for d in Reg::ALL {
        for imm in [0u32, 1, 0x8000_0000, u32::MAX] {
            check(
                |a| a.mov_ri32(d, imm),
                &format!("mov {}, {}", name(OpSize::B32, d), hex(imm as i32 as i64)),
            );
        }
        for imm in IMMS {
            check(
                |a| a.mov_ri64_sx(d, imm),
                &format!("mov {}, {}", name(OpSize::B64, d), hex(imm as i64)),
            );
        }
        for imm in [0u64, 1, 0x1_0000_0000, u64::MAX, 0x8000_0000_0000_0000] {
            check(
                |a| a.mov_ri64(d, imm),
                &format!("mov {}, {}", name(OpSize::B64, d), hex(imm as i64)),
            );
        }
    }
}

#[test]
fn load_imm64_picks_an_equivalent_short_form() {
    for d in Reg::ALL {
        for (imm, expect) in [
            (0u64, format!("xor {0}, {0}", name(OpSize::B32, d))),
            (5, format!("mov {}, 0x5", name(OpSize::B32, d))),
            (0xffff_ffff, format!("mov {}, -0x1", name(OpSize::B32, d))),
            (u64::MAX, format!("mov {}, -0x1", name(OpSize::B64, d))),
            (
                0x1234_5678_9abc,
                format!("mov {}, 0x123456789abc", name(OpSize::B64, d)),
            ),
        ] {
            check(|a| a.load_imm64(d, imm), &expect);
        }
    }
}

#[test]
fn multiply_shift_unary() {
    for size in [OpSize::B32, OpSize::B64] {
        for d in Reg::ALL {
            for s in Reg::ALL {
                check(
                    |a| a.imul_rr(size, d, s),
                    &format!("imul {}, {}", name(size, d), name(size, s)),
                );
                for imm in IMMS {
                    // iced prints the two-operand alias when source = destination.
                    let expect = if d == s {
                        format!("imul {}, {}", name(size, d), hex(imm as i64))
                    } else {
                        format!(
                            "imul {}, {}, {}",
                            name(size, d),
                            name(size, s),
                            hex(imm as i64)
                        )
                    };
                    check(|a| a.imul_rri(size, d, s, imm), &expect);
                }
            }
            for (op, mn) in [
                (ShiftOp::Shl, "shl"),
                (ShiftOp::Shr, "shr"),
                (ShiftOp::Sar, "sar"),
                (ShiftOp::Rol, "rol"),
            ] {
                check(
                    |a| a.shift_cl(op, size, d),
                    &format!("{mn} {}, cl", name(size, d)),
                );
                for c in [1u8, 8, 31, 63] {
                    check(
                        |a| a.shift_ri(op, size, d, c),
                        &format!("{mn} {}, 0x{c:x}", name(size, d)),
                    );
                }
            }
            check(|a| a.neg(size, d), &format!("neg {}", name(size, d)));
            check(|a| a.div(size, d), &format!("div {}", name(size, d)));
            check(|a| a.idiv(size, d), &format!("idiv {}", name(size, d)));
            check(|a| a.bswap(size, d), &format!("bswap {}", name(size, d)));
        }
        check(
            |a| a.sign_extend_acc(size),
            if size == OpSize::B64 { "cqo" } else { "cdq" },
        );
    }
    for d in Reg::ALL {
        check(
            |a| a.shift_ri(ShiftOp::Rol, OpSize::B16, d, 8),
            &format!("rol {}, 0x8", name(OpSize::B16, d)),
        );
    }
}

#[test]
fn register_extensions() {
    for d in Reg::ALL {
        for s in Reg::ALL {
            for from in [OpSize::B8, OpSize::B16] {
                check(
                    |a| a.movzx_rr(from, d, s),
                    &format!("movzx {}, {}", name(OpSize::B32, d), name(from, s)),
                );
                for to in [OpSize::B32, OpSize::B64] {
                    check(
                        |a| a.movsx_rr(to, from, d, s),
                        &format!("movsx {}, {}", name(to, d), name(from, s)),
                    );
                }
            }
            check(
                |a| a.movsx_rr(OpSize::B64, OpSize::B32, d, s),
                &format!("movsxd {}, {}", name(OpSize::B64, d), name(OpSize::B32, s)),
            );
        }
    }
}

#[test]
fn loads_and_stores() {
    for m in mems() {
        for r in Reg::ALL {
            for size in SIZES {
                let load = match size {
                    OpSize::B8 | OpSize::B16 => {
                        format!("movzx {}, {}", name(OpSize::B32, r), mem(size, m))
                    }
                    _ => format!("mov {}, {}", name(size, r), mem(size, m)),
                };
                check(|a| a.load(size, r, m), &load);
                check(
                    |a| a.store(size, m, r),
                    &format!("mov {}, {}", mem(size, m), name(size, r)),
                );
            }
            for from in [OpSize::B8, OpSize::B16] {
                check(
                    |a| a.load_sx(from, r, m),
                    &format!("movsx {}, {}", name(OpSize::B64, r), mem(from, m)),
                );
            }
            check(
                |a| a.load_sx(OpSize::B32, r, m),
                &format!("movsxd {}, {}", name(OpSize::B64, r), mem(OpSize::B32, m)),
            );
            check(
                |a| a.lea(r, m),
                &format!(
                    "lea {}, {}",
                    R64[r.num() as usize],
                    mem(OpSize::B64, m).replace("qword ptr ", "")
                ),
            );
        }
        for size in SIZES {
            for imm in IMMS {
                let shown = match size {
                    OpSize::B8 => imm as i8 as i64,
                    OpSize::B16 => imm as i16 as i64,
                    _ => imm as i64,
                };
                check(
                    |a| a.store_imm(size, m, imm),
                    &format!("mov {}, {}", mem(size, m), hex(shown)),
                );
            }
        }
        check(
            |a| a.cmp_mi8(OpSize::B32, m, 0),
            &format!("cmp {}, 0x0", mem(OpSize::B32, m)),
        );
    }
}

#[test]
fn atomics() {
    for m in mems() {
        for r in Reg::ALL {
            for size in [OpSize::B32, OpSize::B64] {
                for (op, mn) in [
                    (AluRR::Add, "add"),
                    (AluRR::Or, "or"),
                    (AluRR::And, "and"),
                    (AluRR::Xor, "xor"),
                ] {
                    check(
                        |a| a.lock_alu_mr(op, size, m, r),
                        &format!("lock {mn} {}, {}", mem(size, m), name(size, r)),
                    );
                }
                check(
                    |a| a.lock_xadd(size, m, r),
                    &format!("lock xadd {}, {}", mem(size, m), name(size, r)),
                );
                check(
                    |a| a.xchg_mr(size, m, r),
                    &format!("xchg {}, {}", mem(size, m), name(size, r)),
                );
                check(
                    |a| a.lock_cmpxchg(size, m, r),
                    &format!("lock cmpxchg {}, {}", mem(size, m), name(size, r)),
                );
            }
        }
    }
}

#[test]
fn trie_compiler_forms() {
    for r in Reg::ALL {
        check(
            |a| {
                a.lea_rip(r, 0x100);
            },
            &format!("lea {}, [0x107]", R64[r.num() as usize]),
        );
        check(|a| a.jmp_r(r), &format!("jmp {}", R64[r.num() as usize]));
        for m in mems() {
            for size in [OpSize::B32, OpSize::B64] {
                check(
                    |a| a.cmp_rm(size, r, m),
                    &format!("cmp {}, {}", name(size, r), mem(size, m)),
                );
            }
        }
    }
}

#[test]
fn nops() {
    for n in 1..=9 {
        let mut a = Asm::new();
        a.nop(n);
        assert_eq!(a.len(), n);
        // `66 90` is the architectural 2-byte NOP, which iced prints as `xchg ax, ax`.
        let text = disasm(a.bytes());
        assert!(
            text.starts_with("nop") || text == "xchg ax, ax",
            "{n}: {text}"
        );
    }
    let mut a = Asm::new();
    a.nop(15);
    assert_eq!(a.len(), 15);
}

#[test]
fn control_flow() {
    for r in Reg::ALL {
        check(|a| a.push(r), &format!("push {}", R64[r.num() as usize]));
        check(|a| a.pop(r), &format!("pop {}", R64[r.num() as usize]));
        check(|a| a.call_r(r), &format!("call {}", R64[r.num() as usize]));
    }
    check(|a| a.ret(), "ret");
    check(|a| a.ud2(), "ud2");
    // Branch targets print as absolute addresses from ip 0.
    check(|a| a.jmp_rel8(0x10), "jmp short 0x12");
    check(|a| a.jmp_rel32(0x1000), "jmp 0x1005");
    check(|a| a.call_rel32(0x1000), "call 0x1005");
    let conds = [
        (Cond::B, "jb"),
        (Cond::Ae, "jae"),
        (Cond::E, "je"),
        (Cond::Ne, "jne"),
        (Cond::Be, "jbe"),
        (Cond::A, "ja"),
        (Cond::L, "jl"),
        (Cond::Ge, "jge"),
        (Cond::Le, "jle"),
        (Cond::G, "jg"),
    ];
    for (c, mn) in conds {
        check(|a| a.jcc_rel8(c, 0x10), &format!("{mn} short 0x12"));
        check(|a| a.jcc_rel32(c, 0x1000), &format!("{mn} 0x1006"));
        assert_eq!(c.negate().negate(), c);
    }
}
