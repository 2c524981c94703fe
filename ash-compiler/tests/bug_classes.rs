//! One focused test per bug class Jitterbug (OSDI 2020) and later audits
//! found in deployed BPF JITs, with results computed by hand from RFC 9669.
//! Each program also runs blinded and in the reference interpreter
//! (`common::check`).

mod common;

use common::*;
use filter_lang::bpf::{AluOp, AtomicOp, EndKind, JmpCond, Op, Operand, Size, Width};

const HI: u64 = 0xdead_beef_0000_0000;

/// Every 32-bit ALU operation zero-extends its result into the upper half,
/// including the ones that look like no-ops (mov to itself, add 0, shift by 0).
#[test]
fn alu32_zero_extends() {
    let cases: &[(Op, u64)] = &[
        (alu32i(AluOp::Add, 0, 0), 0x1234_5678),
        (alu32i(AluOp::Sub, 0, 1), 0x1234_5677),
        (alu32i(AluOp::Mul, 0, 2), 0x2468_acf0),
        (alu32i(AluOp::Or, 0, 0), 0x1234_5678),
        (alu32i(AluOp::And, 0, -1), 0x1234_5678),
        (alu32i(AluOp::Xor, 0, 0), 0x1234_5678),
        (alu32i(AluOp::Lsh, 0, 0), 0x1234_5678),
        (alu32i(AluOp::Rsh, 0, 0), 0x1234_5678),
        (alu32i(AluOp::Arsh, 0, 0), 0x1234_5678),
        (alu32i(AluOp::Lsh, 0, 4), 0x2345_6780),
        (alu32i(AluOp::Div, 0, 1), 0x1234_5678),
        (alu32i(AluOp::Mod, 0, 0x1000_0000), 0x0234_5678),
        (alu32i(AluOp::SDiv, 0, 1), 0x1234_5678),
        (alu32i(AluOp::SMod, 0, 0x1000_0000), 0x0234_5678),
        (alu32r(AluOp::Mov, 0, 0), 0x1234_5678),
        (
            Op::Neg {
                width: Width::W32,
                dst: r(0),
            },
            0xedcb_a988,
        ),
        (end(EndKind::ToLe, 32, 0), 0x1234_5678),
        (end(EndKind::ToBe, 32, 0), 0x7856_3412),
    ];
    for &(op, expect) in cases {
        check(&[lddw(0, HI | 0x1234_5678), op, exit()], &[], expect);
    }
    // The same through a register operand.
    for (op, expect) in [
        (AluOp::Add, 0x1234_5679u64),
        (AluOp::Lsh, 0x2468_acf0),
        (AluOp::Div, 0x1234_5678),
        (AluOp::Mod, 0),
        (AluOp::Mov, 1),
    ] {
        check(
            &[
                lddw(0, HI | 0x1234_5678),
                lddw(2, HI | 1),
                alu32r(op, 0, 2),
                exit(),
            ],
            &[],
            expect,
        );
    }
}

/// Shift counts are masked to 5 (32-bit) or 6 (64-bit) bits, for immediate
/// and register counts, whatever register holds the count (x86 needs cl:
/// BPF r4 lives in rcx).
#[test]
fn shift_counts_are_masked() {
    check(&[mov64(0, 1), alu64i(AluOp::Lsh, 0, 67), exit()], &[], 8);
    check(&[mov64(0, 1), alu32i(AluOp::Lsh, 0, 35), exit()], &[], 8);
    check(
        &[mov64(0, 1), mov64(3, 65), alu64r(AluOp::Lsh, 0, 3), exit()],
        &[],
        2,
    );
    check(
        &[mov64(0, 1), mov64(3, 33), alu32r(AluOp::Lsh, 0, 3), exit()],
        &[],
        2,
    );
    // Count in r4 (rcx), destination r4, both r4.
    check(
        &[mov64(0, 1), mov64(4, 66), alu64r(AluOp::Lsh, 0, 4), exit()],
        &[],
        4,
    );
    check(
        &[
            mov64(4, 3),
            mov64(2, 65),
            alu64r(AluOp::Lsh, 4, 2),
            alu64r(AluOp::Mov, 0, 4),
            exit(),
        ],
        &[],
        6,
    );
    check(
        &[
            mov64(4, 3),
            alu64r(AluOp::Lsh, 4, 4),
            alu64r(AluOp::Mov, 0, 4),
            exit(),
        ],
        &[],
        24,
    );
    // r4 survives a shift that borrowed rcx.
    check(
        &[
            mov64(4, 7),
            mov64(0, 16),
            mov64(3, 2),
            alu64r(AluOp::Rsh, 0, 3),
            alu64r(AluOp::Add, 0, 4),
            exit(),
        ],
        &[],
        11,
    );
    // Arithmetic shifts keep the sign; the 32-bit one within 32 bits.
    check(
        &[mov64(0, -16), alu64i(AluOp::Arsh, 0, 2), exit()],
        &[],
        (-4i64) as u64,
    );
    check(
        &[mov64(0, -16), alu32i(AluOp::Arsh, 0, 2), exit()],
        &[],
        0xffff_fffc,
    );
    check(
        &[
            mov64(0, -16),
            mov64(1, 34),
            alu32r(AluOp::Arsh, 0, 1),
            exit(),
        ],
        &[],
        0xffff_fffc,
    );
}

/// Division and modulo by zero: div gives 0, mod leaves dst (the 32-bit
/// forms truncate dst); a 32-bit divisor is zero when its low half is.
#[test]
fn division_by_zero() {
    let big = 0x1_0000_0000u64;
    check(
        &[mov64(0, 7), mov64(1, 0), alu64r(AluOp::Div, 0, 1), exit()],
        &[],
        0,
    );
    check(
        &[mov64(0, 7), mov64(1, 0), alu64r(AluOp::Mod, 0, 1), exit()],
        &[],
        7,
    );
    check(
        &[
            lddw(0, HI | 7),
            mov64(1, 0),
            alu64r(AluOp::Mod, 0, 1),
            exit(),
        ],
        &[],
        HI | 7,
    );
    check(
        &[
            lddw(0, HI | 7),
            mov64(1, 0),
            alu32r(AluOp::Mod, 0, 1),
            exit(),
        ],
        &[],
        7,
    );
    check(&[lddw(0, HI | 7), alu32i(AluOp::Mod, 0, 0), exit()], &[], 7);
    check(&[lddw(0, HI | 7), alu32i(AluOp::Div, 0, 0), exit()], &[], 0);
    check(&[lddw(0, HI | 7), alu64i(AluOp::Div, 0, 0), exit()], &[], 0);
    check(
        &[mov64(0, 7), lddw(1, big), alu32r(AluOp::Div, 0, 1), exit()],
        &[],
        0,
    );
    check(
        &[mov64(0, 7), lddw(1, big), alu32r(AluOp::Mod, 0, 1), exit()],
        &[],
        7,
    );
    check(
        &[
            mov64(0, 7),
            lddw(1, big | 2),
            alu32r(AluOp::Div, 0, 1),
            exit(),
        ],
        &[],
        3,
    );
    check(
        &[mov64(0, -7), mov64(1, 0), alu64r(AluOp::SDiv, 0, 1), exit()],
        &[],
        0,
    );
    check(
        &[mov64(0, -7), mov64(1, 0), alu64r(AluOp::SMod, 0, 1), exit()],
        &[],
        (-7i64) as u64,
    );
    check(
        &[mov64(0, -7), mov64(1, 0), alu32r(AluOp::SMod, 0, 1), exit()],
        &[],
        0xffff_fff9,
    );
}

/// Signed INT_MIN / -1 (x86 `idiv` raises #DE) and % -1.
#[test]
fn signed_division_overflow() {
    let min64 = i64::MIN as u64;
    check(
        &[
            lddw(0, min64),
            mov64(1, -1),
            alu64r(AluOp::SDiv, 0, 1),
            exit(),
        ],
        &[],
        min64,
    );
    check(
        &[lddw(0, min64), alu64i(AluOp::SDiv, 0, -1), exit()],
        &[],
        min64,
    );
    check(
        &[
            lddw(0, min64),
            mov64(1, -1),
            alu64r(AluOp::SMod, 0, 1),
            exit(),
        ],
        &[],
        0,
    );
    check(
        &[lddw(0, min64), alu64i(AluOp::SMod, 0, -1), exit()],
        &[],
        0,
    );
    check(
        &[
            lddw(0, 0x8000_0000),
            mov64(1, -1),
            alu32r(AluOp::SDiv, 0, 1),
            exit(),
        ],
        &[],
        0x8000_0000,
    );
    check(
        &[lddw(0, 0x8000_0000), alu32i(AluOp::SDiv, 0, -1), exit()],
        &[],
        0x8000_0000,
    );
    check(
        &[lddw(0, 0x8000_0000), alu32i(AluOp::SMod, 0, -1), exit()],
        &[],
        0,
    );
    // Truncating signed division and remainder (sign of the dividend).
    check(
        &[mov64(0, -7), mov64(1, 2), alu64r(AluOp::SDiv, 0, 1), exit()],
        &[],
        (-3i64) as u64,
    );
    check(
        &[mov64(0, -7), mov64(1, 2), alu64r(AluOp::SMod, 0, 1), exit()],
        &[],
        (-1i64) as u64,
    );
    check(&[mov64(0, 7), alu64i(AluOp::SMod, 0, -2), exit()], &[], 1);
    check(
        &[mov64(0, -7), alu32i(AluOp::SDiv, 0, 2), exit()],
        &[],
        0xffff_fffd,
    );
    // Unsigned division of a "negative" 64-bit value by a sign-extended immediate.
    check(&[mov64(0, -1), alu64i(AluOp::Div, 0, -1), exit()], &[], 1);
    check(&[mov64(0, -1), alu32i(AluOp::Div, 0, -1), exit()], &[], 1);
}

/// x86 division uses rax and rdx, where BPF r0 and r3 live: they survive a
/// division of other registers, and work as its destination or divisor.
#[test]
fn division_preserves_rax_and_rdx() {
    check(
        &[
            mov64(0, 5),
            mov64(3, 9),
            mov64(1, 100),
            mov64(2, 7),
            alu64r(AluOp::Div, 1, 2),
            alu64r(AluOp::Mul, 0, 3),
            alu64r(AluOp::Add, 0, 1),
            exit(),
        ],
        &[],
        45 + 14,
    );
    check(
        &[mov64(0, 100), mov64(3, 7), alu64r(AluOp::Mod, 0, 3), exit()],
        &[],
        2,
    );
    check(
        &[
            mov64(3, 100),
            mov64(0, 7),
            alu64r(AluOp::Div, 3, 0),
            alu64r(AluOp::Add, 0, 3),
            exit(),
        ],
        &[],
        7 + 14,
    );
    check(
        &[
            mov64(3, 100),
            mov64(0, 7),
            alu64r(AluOp::Mod, 3, 0),
            alu64r(AluOp::Mul, 0, 3),
            exit(),
        ],
        &[],
        14,
    );
    check(&[mov64(0, 100), alu64r(AluOp::Div, 0, 0), exit()], &[], 1);
    check(
        &[
            mov64(3, 100),
            alu64r(AluOp::Mod, 3, 3),
            alu64r(AluOp::Mov, 0, 3),
            exit(),
        ],
        &[],
        0,
    );
    check(
        &[
            mov64(0, 1000),
            mov64(3, 3),
            mov64(5, 10),
            alu32r(AluOp::SMod, 5, 3),
            alu64r(AluOp::Add, 0, 5),
            alu64r(AluOp::Add, 0, 3),
            exit(),
        ],
        &[],
        1004,
    );
}

/// Immediates are sign-extended to 64 bits in ALU64 and JMP, and taken as
/// 32 bits in ALU32/JMP32.
#[test]
fn immediate_sign_extension() {
    check(&[mov64(0, -1), exit()], &[], u64::MAX);
    check(&[alu32i(AluOp::Mov, 0, -1), exit()], &[], 0xffff_ffff);
    check(
        &[mov64(0, 0), alu64i(AluOp::Add, 0, -2), exit()],
        &[],
        (-2i64) as u64,
    );
    check(
        &[
            lddw(0, 0xffff_ffff),
            alu64i(AluOp::And, 0, -0x8000_0000),
            exit(),
        ],
        &[],
        0x8000_0000,
    );
    check(
        &[
            lddw(0, u64::MAX),
            alu64i(AluOp::Xor, 0, 0x7fff_ffff),
            exit(),
        ],
        &[],
        0xffff_ffff_8000_0000,
    );
    // jeq r1, -1: true for all-ones 64-bit, false for 0xffffffff.
    let prog = |v: u64, w: Width| {
        [
            lddw(1, v),
            mov64(0, 0),
            jmp(w, JmpCond::Eq, 1, Operand::Imm(-1), 1),
            exit(),
            mov64(0, 1),
            exit(),
        ]
    };
    check(&prog(u64::MAX, Width::W64), &[], 1);
    check(&prog(0xffff_ffff, Width::W64), &[], 0);
    check(&prog(0xffff_ffff, Width::W32), &[], 1);
    check(&prog(HI | 0xffff_ffff, Width::W32), &[], 1);
    // Unsigned compare against a negative immediate compares with 2^64 - 1.
    check(
        &[
            mov64(1, 5),
            mov64(0, 0),
            jmp(Width::W64, JmpCond::Lt, 1, Operand::Imm(-1), 1),
            exit(),
            mov64(0, 1),
            exit(),
        ],
        &[],
        1,
    );
    // jset with an immediate whose sign bit reaches the upper half.
    check(
        &[
            lddw(1, HI),
            mov64(0, 0),
            jmp(Width::W64, JmpCond::Set, 1, Operand::Imm(i32::MIN), 1),
            exit(),
            mov64(0, 1),
            exit(),
        ],
        &[],
        1,
    );
    check(
        &[
            lddw(1, HI),
            mov64(0, 0),
            jmp(Width::W32, JmpCond::Set, 1, Operand::Imm(i32::MIN), 1),
            exit(),
            mov64(0, 1),
            exit(),
        ],
        &[],
        0,
    );
    // Signed 32-bit compare looks at bit 31 only.
    check(
        &[
            lddw(1, 0x8000_0000),
            mov64(0, 0),
            jmp(Width::W32, JmpCond::Slt, 1, Operand::Imm(0), 1),
            exit(),
            mov64(0, 1),
            exit(),
        ],
        &[],
        1,
    );
    check(
        &[
            lddw(1, 0x8000_0000),
            mov64(0, 0),
            jmp(Width::W64, JmpCond::Slt, 1, Operand::Imm(0), 1),
            exit(),
            mov64(0, 1),
            exit(),
        ],
        &[],
        0,
    );
}

/// Sign-extending moves and loads.
#[test]
fn sign_extensions() {
    let v = 0x1122_3344_8899_aabbu64;
    let cases = [
        (Width::W64, 8u8, 0xffff_ffff_ffff_ffbbu64),
        (Width::W64, 16, 0xffff_ffff_ffff_aabb),
        (Width::W64, 32, 0xffff_ffff_8899_aabb),
        (Width::W32, 8, 0xffff_ffbb),
        (Width::W32, 16, 0xffff_aabb),
    ];
    for (w, bits, expect) in cases {
        for src in [1u8, 2, 6] {
            check(
                &[
                    lddw(src, v),
                    alu(w, AluOp::MovSx(bits), 0, Operand::Reg(r(src))),
                    exit(),
                ],
                &[],
                expect,
            );
        }
    }
    check(
        &[mov64(1, 0x7f), alu64r(AluOp::MovSx(8), 0, 1), exit()],
        &[],
        0x7f,
    );
    let mem = [0x80u8, 0xff, 0x01, 0x80, 0x7f];
    check(
        &[ldxs(Size::B, 0, 1, 0), exit()],
        &mem,
        0xffff_ffff_ffff_ff80,
    );
    check(&[ldxs(Size::B, 0, 1, 4), exit()], &mem, 0x7f);
    check(
        &[ldxs(Size::H, 0, 1, 0), exit()],
        &mem,
        0xffff_ffff_ffff_ff80,
    );
    check(
        &[ldxs(Size::W, 0, 1, 0), exit()],
        &mem,
        0xffff_ffff_8001_ff80,
    );
    check(&[ldx(Size::W, 0, 1, 0), exit()], &mem, 0x8001_ff80);
    // ldxs into r1 from r1 (base = destination).
    check(
        &[ldxs(Size::B, 1, 1, 0), alu64r(AluOp::Mov, 0, 1), exit()],
        &mem,
        0xffff_ffff_ffff_ff80,
    );
}

/// `lddw` loads all 64 bits, whatever the pattern.
#[test]
fn lddw_all_patterns() {
    for v in [
        0u64,
        1,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        0x8000_0000_0000_0000,
        0xffff_ffff_8000_0000,
        0xffff_ffff_ffff_ffff,
        0x0123_4567_89ab_cdef,
    ] {
        for d in [0u8, 1, 5, 6, 9] {
            check(
                &[mov64(d, -1), lddw(d, v), alu64r(AluOp::Mov, 0, d), exit()],
                &[],
                v,
            );
        }
    }
}

/// Byte swaps: be/le 16/32/64 (le16/le32 zero-extend on a little-endian
/// machine) and the unconditional bswap16/32/64.
#[test]
fn byte_swaps() {
    let v = 0x1122_3344_5566_7788u64;
    let cases = [
        (EndKind::ToBe, 16u8, 0x8877u64),
        (EndKind::ToBe, 32, 0x8877_6655),
        (EndKind::ToBe, 64, 0x8877_6655_4433_2211),
        (EndKind::ToLe, 16, 0x7788),
        (EndKind::ToLe, 32, 0x5566_7788),
        (EndKind::ToLe, 64, v),
        (EndKind::Swap, 16, 0x8877),
        (EndKind::Swap, 32, 0x8877_6655),
        (EndKind::Swap, 64, 0x8877_6655_4433_2211),
    ];
    for (kind, bits, expect) in cases {
        for d in [0u8, 1, 2, 4, 5, 7] {
            check(
                &[
                    lddw(d, v),
                    end(kind, bits, d),
                    alu64r(AluOp::Mov, 0, d),
                    exit(),
                ],
                &[],
                expect,
            );
        }
    }
}

/// 8-bit stores and moves from registers whose low byte needs a REX prefix
/// (BPF r1 = rdi, r2 = rsi: without REX the encoding means bh/dh).
#[test]
fn byte_registers() {
    let mem = [0u8; 8];
    for src in [1u8, 2, 3, 4, 6] {
        let out = check(
            &[
                mov64(7, 0),
                alu64r(AluOp::Add, 7, 1),
                lddw(src, 0x1122_3344_5566_77a5),
                stx(Size::B, 7, 3, src),
                ldx(Size::DW, 0, 7, 0),
                exit(),
            ],
            &mem,
            0xa5_00_00_00,
        );
        assert_eq!(out, [0, 0, 0, 0xa5, 0, 0, 0, 0]);
    }
    for src in [1u8, 2] {
        check(
            &[lddw(src, 0x1ff), alu64r(AluOp::MovSx(8), 0, src), exit()],
            &[],
            u64::MAX,
        );
    }
    // An 8-bit store of r2 (sil) next to 16-bit ones.
    let out = check(
        &[
            mov64(2, 0x1234),
            stx(Size::H, 1, 0, 2),
            stx(Size::B, 1, 2, 2),
            st(Size::B, 1, 3, -1),
            mov64(0, 0),
            exit(),
        ],
        &[0u8; 4],
        0,
    );
    assert_eq!(out, [0x34, 0x12, 0x34, 0xff]);
}

/// Stores of every size write exactly their bytes; `st` immediates are
/// truncated (and sign-extended for the 64-bit store).
#[test]
fn store_sizes() {
    let out = check(
        &[
            st(Size::DW, 1, 0, -2),
            st(Size::W, 1, 8, -2),
            st(Size::H, 1, 12, 0x12345),
            st(Size::B, 1, 14, 0x1ff),
            mov64(0, 0),
            exit(),
        ],
        &[0xaa; 16],
        0,
    );
    assert_eq!(
        out,
        [
            0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0x45, 0x23,
            0xff, 0xaa
        ]
    );
}

/// Atomics, including the fetch forms, xchg, and cmpxchg with its implicit
/// r0 (32-bit cmpxchg zero-extends r0 whether or not it succeeds).
#[test]
fn atomics() {
    let mem = 0x0000_0001_0000_00f0u64.to_le_bytes();
    let fetch_cases = [
        (AtomicOp::Add { fetch: true }, 0x0000_0001_0000_00ffu64),
        (AtomicOp::Or { fetch: true }, 0x0000_0001_0000_00ff),
        (AtomicOp::And { fetch: true }, 0x0000_0000_0000_0000),
        (AtomicOp::Xor { fetch: true }, 0x0000_0001_0000_00ff),
        (AtomicOp::Xchg, 0x0000_0000_0000_000f),
    ];
    for (op, new) in fetch_cases {
        for src in [2u8, 0] {
            // r_src = 0xf; the old value comes back in r_src.
            let out = check(
                &[
                    lddw(0, HI),
                    mov64(src, 0xf),
                    atomic(Size::DW, op, 1, 0, src),
                    alu64r(AluOp::Mov, 0, src),
                    exit(),
                ],
                &mem,
                0x0000_0001_0000_00f0,
            );
            assert_eq!(out, new.to_le_bytes(), "{op:?}");
            // 32-bit: only the low word changes; the old value is zero-extended.
            let out = check(
                &[
                    lddw(src, HI | 0xf),
                    atomic(Size::W, op, 1, 0, src),
                    alu64r(AluOp::Mov, 0, src),
                    exit(),
                ],
                &mem,
                0xf0,
            );
            assert_eq!(&out[..4], &(new as u32).to_le_bytes(), "{op:?}");
            assert_eq!(&out[4..], &[1, 0, 0, 0]);
        }
    }
    for op in [
        AtomicOp::Add { fetch: false },
        AtomicOp::Or { fetch: false },
        AtomicOp::Xor { fetch: false },
    ] {
        let out = check(
            &[
                mov64(2, 0xf),
                atomic(Size::DW, op, 1, 0, 2),
                mov64(0, 0),
                exit(),
            ],
            &mem,
            0,
        );
        assert_eq!(out, 0x0000_0001_0000_00ffu64.to_le_bytes());
    }
    let out = check(
        &[
            mov64(2, 0xf),
            atomic(Size::DW, AtomicOp::And { fetch: false }, 1, 0, 2),
            mov64(0, 0),
            exit(),
        ],
        &mem,
        0,
    );
    assert_eq!(out, [0; 8]);
    // Base register = r0 (rax, which the fetch loop also needs).
    let out = check(
        &[
            alu64r(AluOp::Mov, 0, 1),
            mov64(2, 1),
            atomic(Size::DW, AtomicOp::Or { fetch: true }, 0, 0, 2),
            alu64r(AluOp::Mov, 0, 2),
            exit(),
        ],
        &mem,
        0x0000_0001_0000_00f0,
    );
    assert_eq!(out, 0x0000_0001_0000_00f1u64.to_le_bytes());
    // cmpxchg success and failure, 64 and 32 bits.
    let cx = |size, r0: u64| {
        [
            lddw(0, r0),
            mov64(2, 0x55),
            atomic(size, AtomicOp::CmpXchg, 1, 0, 2),
            exit(),
        ]
    };
    let out = check(
        &cx(Size::DW, 0x0000_0001_0000_00f0),
        &mem,
        0x0000_0001_0000_00f0,
    );
    assert_eq!(out, 0x55u64.to_le_bytes());
    let out = check(&cx(Size::DW, 0xf0), &mem, 0x0000_0001_0000_00f0);
    assert_eq!(out, mem);
    let out = check(&cx(Size::W, HI | 0xf0), &mem, 0xf0);
    assert_eq!(out, 0x0000_0001_0000_0055u64.to_le_bytes());
    let out = check(&cx(Size::W, HI | 0xf1), &mem, 0xf0);
    assert_eq!(out, mem);
}

/// Jumps: to the last instruction, backwards, with zero offset, and far
/// enough to need 32-bit displacements both ways.
#[test]
fn jumps() {
    // Forward to the final exit.
    check(&[mov64(0, 1), ja(1), mov64(0, 2), exit()], &[], 1);
    check(
        &[
            mov64(0, 3),
            jmp(Width::W64, JmpCond::Eq, 0, Operand::Imm(3), 1),
            mov64(0, 2),
            exit(),
        ],
        &[],
        3,
    );
    // Offsets count words: lddw is two of them, forward and backward.
    check(
        &[
            mov64(0, 0),
            jmp(Width::W64, JmpCond::Eq, 0, Operand::Imm(0), 2),
            lddw(0, 5),
            exit(),
        ],
        &[],
        0,
    );
    check(
        &[
            mov64(0, 0),
            ja(4),
            lddw(1, 7),
            alu64r(AluOp::Add, 0, 1),
            exit(),
            lddw(1, 40),
            ja(-5),
        ],
        &[],
        40,
    );
    // Offset zero is a no-op.
    check(
        &[
            mov64(0, 1),
            ja(0),
            jmp(Width::W64, JmpCond::Ne, 0, Operand::Imm(0), 0),
            exit(),
        ],
        &[],
        1,
    );
    // A loop: sum 1..=10 counting down, backward conditional jump.
    check(
        &[
            mov64(0, 0),
            mov64(1, 10),
            alu64r(AluOp::Add, 0, 1),
            alu64i(AluOp::Sub, 1, 1),
            jmp(Width::W64, JmpCond::Ne, 1, Operand::Imm(0), -3),
            exit(),
        ],
        &[],
        55,
    );
    // Far jumps: 100 x (lddw = 10 bytes) between the jump and its target.
    let pad: Vec<Op> = (0..100)
        .map(|i| lddw(2, 0x1234_5678_9abc_0000 | i))
        .collect();
    let mut fwd = vec![
        mov64(0, 1),
        jmp(Width::W64, JmpCond::Eq, 0, Operand::Imm(1), 201),
    ];
    fwd.extend(pad.iter().copied());
    fwd.extend([mov64(0, 2), exit()]);
    check(&fwd, &[], 1);
    let mut back = vec![mov64(0, 0), ja(201)];
    back.extend(pad.iter().copied());
    back.extend([exit(), alu64i(AluOp::Add, 0, 5), ja(-203)]);
    check(&back, &[], 5);
    // Every condition, true and false, signed and unsigned, 32 and 64 bits.
    let conds = [
        (JmpCond::Eq, 5u64, 5i32, true),
        (JmpCond::Ne, 5, 5, false),
        (JmpCond::Gt, u64::MAX, 1, true),
        (JmpCond::Ge, 1, 1, true),
        (JmpCond::Lt, 1, -1, true),
        (JmpCond::Le, 2, 1, false),
        (JmpCond::Sgt, u64::MAX, 1, false),
        (JmpCond::Sge, (-1i64) as u64, -1, true),
        (JmpCond::Slt, (-2i64) as u64, -1, true),
        (JmpCond::Sle, 0, -1, false),
        (JmpCond::Set, 6, 2, true),
        (JmpCond::Set, 4, 2, false),
    ];
    for (c, v, imm, taken) in conds {
        for w in [Width::W64, Width::W32] {
            for src in [Operand::Imm(imm), Operand::Reg(r(2))] {
                let expect = taken as u64;
                check(
                    &[
                        lddw(1, v),
                        mov64(2, imm),
                        mov64(0, 0),
                        jmp(w, c, 1, src, 1),
                        exit(),
                        mov64(0, 1),
                        exit(),
                    ],
                    &[],
                    expect,
                );
            }
        }
    }
}

/// BPF-to-BPF calls: arguments in r1-r5, r6-r9 preserved, a separate stack
/// frame per call, nesting to the frame limit.
#[test]
fn local_calls() {
    // main: r6 = 6, stack[-8] = 1; call f; r0 = r0 + r6 + stack[-8]
    // f: stack[-8] = 100 (its own frame), r6 = 0, r0 = r1 * 2
    let prog = [
        mov64(6, 6),
        st(Size::DW, 10, -8, 1),
        mov64(1, 21),
        Op::CallLocal { off: 5 },
        alu64r(AluOp::Add, 0, 6),
        ldx(Size::DW, 2, 10, -8),
        alu64r(AluOp::Add, 0, 2),
        exit(),
        exit(), // unreachable padding between functions
        st(Size::DW, 10, -8, 100),
        mov64(6, 0),
        alu64r(AluOp::Mov, 0, 1),
        alu64i(AluOp::Mul, 0, 2),
        exit(),
    ];
    check(&prog, &[], 42 + 6 + 1);
    // A chain of 7 nested calls (8 frames), each adding its depth.
    let mut chain = vec![mov64(0, 0), Op::CallLocal { off: 1 }, exit()];
    for depth in 1..=7 {
        chain.push(alu64i(AluOp::Add, 0, depth));
        chain.push(st(Size::DW, 10, -512, depth));
        if depth < 7 {
            chain.push(Op::CallLocal { off: 1 });
        }
        chain.push(exit());
    }
    check(&chain, &[], 28);
}

/// Helper calls: a returned value, a helper that stops the whole program
/// (from a nested call too), and `callx` through a register.
#[test]
fn helper_calls() {
    let unwind = filter_lang::bpf::helpers::CONFORMANCE_UNWIND;
    check(
        &[mov64(1, 9), Op::CallHelper { id: unwind }, exit()],
        &[],
        9,
    );
    check(
        &[
            mov64(6, 3),
            mov64(1, 0),
            Op::CallHelper { id: unwind },
            mov64(0, 2),
            exit(),
        ],
        &[],
        0,
    );
    check(
        &[
            mov64(6, 3),
            Op::CallLocal { off: 2 },
            mov64(0, 2),
            exit(),
            st(Size::DW, 10, -8, 1),
            mov64(1, 0),
            Op::CallHelper { id: unwind },
            mov64(0, 7),
            exit(),
        ],
        &[],
        0,
    );
    check(
        &[
            mov64(1, 4),
            mov64(2, unwind),
            Op::CallReg { reg: r(2) },
            exit(),
        ],
        &[],
        4,
    );
    // An unknown helper faults in both engines.
    let w = words(&[Op::CallHelper { id: 77 }, exit()]);
    assert!(jit(&w, &[]).0.is_err());
    assert!(interp(&w, &[]).0.is_err());
    let w = words(&[
        lddw(2, 1 << 40 | unwind as u64),
        Op::CallReg { reg: r(2) },
        exit(),
    ]);
    assert_eq!(
        jit(&w, &[]).0,
        Err(filter_lang::bpf::helpers::HelperFault::UnknownHelper(
            unwind
        ))
    );
    assert!(interp(&w, &[]).0.is_err());
}

/// With the verifier's facts, a division whose register divisor is proven
/// nonzero (and not -1) compiles without the runtime checks, and computes
/// the same results.
#[test]
fn verifier_facts_remove_division_checks() {
    use ash_compiler::{CompileOptions, compile, compile_verified};
    use filter_lang::bpf::spec::{ProgramSpec, ProgramType};
    use filter_lang::bpf::verifier::verify;
    // r1 = buffer; r2 = (buf[0] | 1) (odd, nonzero, not -1); r0 = -1000 / r2.
    for op in [AluOp::Div, AluOp::SDiv, AluOp::Mod, AluOp::SMod] {
        let ops = [
            ldx(Size::B, 2, 1, 0),
            alu64i(AluOp::Or, 2, 1),
            mov64(0, -1000),
            alu64r(op, 0, 2),
            exit(),
        ];
        let w = words(&ops);
        let p = filter_lang::bpf::Program::from_words(w.clone());
        let v = verify(&p, &ProgramSpec::new(ProgramType::Memory { size: 4 })).expect("verified");
        let with = compile_verified(&w, &v, &CompileOptions::default()).expect("compiles");
        let without = compile(&w, &CompileOptions::default()).expect("compiles");
        assert!(
            with.code.len() < without.code.len(),
            "{op:?}: checks not removed"
        );
        for b in [6u8, 7, 0xff] {
            let expect = match op {
                AluOp::Div => (-1000i64 as u64) / (b | 1) as u64,
                AluOp::SDiv => (-1000i64 / (b | 1) as i64) as u64,
                AluOp::Mod => (-1000i64 as u64) % (b | 1) as u64,
                _ => (-1000i64 % (b | 1) as i64) as u64,
            };
            check(&ops, &[b, 0, 0, 0], expect);
        }
    }
}

/// Constant blinding keeps program-chosen immediates (ALU, jump, store and
/// `lddw` constants) out of the code; without blinding they are there.
#[test]
fn blinding_keeps_immediates_out_of_code() {
    use ash_compiler::{CompileOptions, compile};
    let (a, b, c, d) = (
        0x5a3c_96e1u32,
        0x3c5a_e196u32,
        0x69a5_c33cu32,
        0x0f1e_2d3c_4b5a_6978u64,
    );
    let ops = [
        mov64(0, a as i32),
        alu64i(AluOp::Xor, 0, b as i32),
        jmp(Width::W64, JmpCond::Eq, 0, Operand::Imm(c as i32), 1),
        st(Size::W, 10, -4, c as i32),
        lddw(2, d),
        alu64r(AluOp::Add, 0, 2),
        exit(),
    ];
    let w = words(&ops);
    let contains = |code: &[u8], v: &[u8]| code.windows(v.len()).any(|x| x == v);
    let plain = compile(&w, &CompileOptions::default()).expect("compiles");
    let blinded = compile(&w, &CompileOptions { blinding: Some(1) }).expect("compiles");
    for v in [a.to_le_bytes(), b.to_le_bytes(), c.to_le_bytes()] {
        assert!(contains(&plain.code, &v));
        assert!(!contains(&blinded.code, &v), "{v:02x?} in blinded code");
    }
    assert!(contains(&plain.code, &d.to_le_bytes()));
    assert!(!contains(&blinded.code, &d.to_le_bytes()[..4]));
    assert!(!contains(&blinded.code, &d.to_le_bytes()[4..]));
    // And the result is the same (checked blinded and unblinded).
    check(&ops, &[], (a ^ b) as u64 + d);
}
