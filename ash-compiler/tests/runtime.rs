//! The runtime entry points: `calls_helpers` is reported correctly, and
//! helper-free code runs without an environment block.

mod common;

use ash_compiler::host::ExecBuffer;
use ash_compiler::runtime::call_without_helpers;
use ash_compiler::{CompileOptions, compile};
use common::*;
use filter_lang::bpf::helpers::CONFORMANCE_UNWIND;
use filter_lang::bpf::{AluOp, Op, Size};

#[test]
fn helper_free_code_runs_without_an_environment() {
    // r0 = buf[0] * 3 + r2, with a local call that uses its own stack.
    let ops = [
        ldx(Size::B, 0, 1, 0),
        alu64i(AluOp::Mul, 0, 3),
        Op::CallLocal { off: 2 },
        alu64r(AluOp::Add, 0, 2),
        exit(),
        st(Size::DW, 10, -8, 7),
        ldx(Size::DW, 3, 10, -8),
        alu64r(AluOp::Add, 0, 3),
        exit(),
    ];
    let w = words(&ops);
    let c = compile(&w, &CompileOptions::default()).expect("compiles");
    assert!(!c.calls_helpers);
    let x = ExecBuffer::new(&c).expect("placed");
    let mut buf = [5u8, 0, 0, 0];
    // SAFETY: the program reads only buf[0] and its own stack frames, and
    // calls no helpers.
    let r0 = unsafe { call_without_helpers(x.entry(), buf.as_mut_ptr() as u64, 4) };
    assert_eq!(r0, 5 * 3 + 7 + 4);
    assert_eq!(interp(&w, &buf).0, Ok(r0));
}

#[test]
fn calls_helpers_is_set_by_helper_calls_only() {
    let with = words(&[
        mov64(1, 1),
        Op::CallHelper {
            id: CONFORMANCE_UNWIND,
        },
        exit(),
    ]);
    let callx = words(&[
        mov64(1, 1),
        mov64(2, CONFORMANCE_UNWIND),
        Op::CallReg { reg: r(2) },
        exit(),
    ]);
    let without = words(&[mov64(0, 1), exit()]);
    let opts = CompileOptions::default();
    assert!(compile(&with, &opts).expect("compiles").calls_helpers);
    assert!(compile(&callx, &opts).expect("compiles").calls_helpers);
    assert!(!compile(&without, &opts).expect("compiles").calls_helpers);
}

/// `compile` is total: malformed structure gets an error, never a panic or code.
#[test]
fn compile_rejects_malformed_structure() {
    use ash_compiler::CompileError;
    use filter_lang::bpf::Insn;
    let opts = CompileOptions::default();
    let err = |w: &[Insn]| compile(w, &opts).err();
    assert_eq!(err(&[]), Some(CompileError::Empty));
    // Into the second word of lddw.
    assert!(matches!(
        err(&words(&[ja(1), lddw(0, 1), exit()])),
        Some(CompileError::BadJumpTarget { pc: 0, target: 2 })
    ));
    // Past the end.
    assert!(matches!(
        err(&words(&[ja(5), exit()])),
        Some(CompileError::BadJumpTarget { .. })
    ));
    // From one function into another.
    assert!(matches!(
        err(&words(&[
            Op::CallLocal { off: 1 },
            exit(),
            mov64(0, 1),
            ja(-3)
        ])),
        Some(CompileError::BadJumpTarget { .. })
    ));
    // A local call to a non-instruction.
    assert!(matches!(
        err(&words(&[Op::CallLocal { off: 5 }, exit()])),
        Some(CompileError::BadCallTarget { .. })
    ));
    // A function that can run past its end.
    assert!(matches!(
        err(&words(&[mov64(0, 1)])),
        Some(CompileError::FallsOffEnd { pc: 0 })
    ));
    // Legacy packet loads.
    assert!(matches!(
        err(&words(&[
            Op::LegacyPacketLoad {
                size: Size::W,
                index: None,
                imm: 0
            },
            exit()
        ])),
        Some(CompileError::LegacyPacketLoad { pc: 0 })
    ));
    // An undecodable word.
    assert!(matches!(
        err(&[Insn::new(0xff, 0, 0, 0, 0)]),
        Some(CompileError::Decode { pc: 0, .. })
    ));
}
