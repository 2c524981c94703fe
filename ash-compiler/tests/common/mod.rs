//! Shared test support: a tiny program builder, and running one program in
//! the JIT (placed with the host module) and in the reference interpreter
//! over the same `memory` buffer (r1 = buffer, r2 = its length).
#![allow(dead_code)]

use ash_compiler::host::ExecBuffer;
use ash_compiler::runtime::{Region, RegionMemory};
use ash_compiler::{CompileOptions, compile};
use filter_lang::bpf::helpers::{ConformanceHelpers, HelperFault};
use filter_lang::bpf::interp::{Interpreter, RunOptions, buffer_memory};
use filter_lang::bpf::{AluOp, AtomicOp, EndKind, Insn, JmpCond, Op, Operand, Reg, Size, Width};

pub fn r(n: u8) -> Reg {
    Reg::new(n).expect("register number")
}

/// Encodes ops into words.
pub fn words(ops: &[Op]) -> Vec<Insn> {
    let mut w = Vec::new();
    for op in ops {
        let (enc, n) = op.encode();
        w.extend_from_slice(&enc[..n]);
    }
    w
}

pub fn alu(width: Width, op: AluOp, dst: u8, src: Operand) -> Op {
    Op::Alu {
        width,
        op,
        dst: r(dst),
        src,
    }
}
pub fn alu64i(op: AluOp, dst: u8, imm: i32) -> Op {
    alu(Width::W64, op, dst, Operand::Imm(imm))
}
pub fn alu64r(op: AluOp, dst: u8, src: u8) -> Op {
    alu(Width::W64, op, dst, Operand::Reg(r(src)))
}
pub fn alu32i(op: AluOp, dst: u8, imm: i32) -> Op {
    alu(Width::W32, op, dst, Operand::Imm(imm))
}
pub fn alu32r(op: AluOp, dst: u8, src: u8) -> Op {
    alu(Width::W32, op, dst, Operand::Reg(r(src)))
}
pub fn mov64(dst: u8, imm: i32) -> Op {
    alu64i(AluOp::Mov, dst, imm)
}
pub fn lddw(dst: u8, imm: u64) -> Op {
    Op::LoadImm64 { dst: r(dst), imm }
}
pub fn exit() -> Op {
    Op::Exit
}
pub fn ja(off: i32) -> Op {
    Op::Ja { off, long: false }
}
pub fn jmp(width: Width, cond: JmpCond, dst: u8, src: Operand, off: i16) -> Op {
    Op::Jmp {
        width,
        cond,
        dst: r(dst),
        src,
        off,
    }
}
pub fn ldx(size: Size, dst: u8, base: u8, off: i16) -> Op {
    Op::Load {
        size,
        sign_extend: false,
        dst: r(dst),
        base: r(base),
        off,
    }
}
pub fn ldxs(size: Size, dst: u8, base: u8, off: i16) -> Op {
    Op::Load {
        size,
        sign_extend: true,
        dst: r(dst),
        base: r(base),
        off,
    }
}
pub fn stx(size: Size, base: u8, off: i16, src: u8) -> Op {
    Op::Store {
        size,
        base: r(base),
        off,
        src: Operand::Reg(r(src)),
    }
}
pub fn st(size: Size, base: u8, off: i16, imm: i32) -> Op {
    Op::Store {
        size,
        base: r(base),
        off,
        src: Operand::Imm(imm),
    }
}
pub fn atomic(size: Size, op: AtomicOp, base: u8, off: i16, src: u8) -> Op {
    Op::Atomic {
        size,
        op,
        base: r(base),
        off,
        src: r(src),
    }
}
pub fn end(kind: EndKind, bits: u8, dst: u8) -> Op {
    Op::End {
        kind,
        bits,
        dst: r(dst),
    }
}

/// Compiles and runs `words` in the JIT over a copy of `mem`; returns r0
/// (or the helper fault) and the buffer afterwards.
pub fn jit_with(
    words: &[Insn],
    mem: &[u8],
    opts: CompileOptions,
) -> (Result<u64, HelperFault>, Vec<u8>) {
    let c = compile(words, &opts).expect("compiles");
    let x = ExecBuffer::new(&c).expect("placed");
    let mut buf = mem.to_vec();
    let (addr, len) = if buf.is_empty() {
        (0, 0)
    } else {
        (buf.as_mut_ptr() as u64, buf.len() as u64)
    };
    let regions = [Region {
        start: addr,
        len: len as usize,
        writable: true,
    }];
    // SAFETY: the region is `buf`, alive and untouched during the call.
    let mut hm = unsafe { RegionMemory::new(&regions) };
    // SAFETY: the test programs only touch the buffer and their stack, as
    // a verified `memory` program would.
    let r0 = unsafe { x.call(addr, len, &mut ConformanceHelpers, &mut hm) };
    (r0, buf)
}

/// [`jit_with`] without blinding.
pub fn jit(words: &[Insn], mem: &[u8]) -> (Result<u64, HelperFault>, Vec<u8>) {
    jit_with(words, mem, CompileOptions::default())
}

/// Runs `words` in the reference interpreter over a copy of `mem`.
pub fn interp(words: &[Insn], mem: &[u8]) -> (Result<u64, String>, Vec<u8>) {
    let i = Interpreter::new(words).expect("decodes");
    let mut buf = mem.to_vec();
    let r0 = {
        let (mut m, args) = buffer_memory(&mut buf);
        i.run(&mut m, &mut ConformanceHelpers, args, RunOptions::default())
            .map(|o| o.r0)
            .map_err(|e| e.to_string())
    };
    (r0, buf)
}

/// Runs `ops` in the JIT (plain and blinded) and the interpreter; all three
/// must give `expect` and the same memory. Returns the final memory.
pub fn check(ops: &[Op], mem: &[u8], expect: u64) -> Vec<u8> {
    let w = words(ops);
    let (j, jm) = jit(&w, mem);
    assert_eq!(j, Ok(expect), "JIT r0 for {ops:#?}");
    let (b, bm) = jit_with(
        &w,
        mem,
        CompileOptions {
            blinding: Some(0x5eed),
        },
    );
    assert_eq!(b, Ok(expect), "blinded JIT r0 for {ops:#?}");
    let (i, im) = interp(&w, mem);
    assert_eq!(i, Ok(expect), "interpreter r0 for {ops:#?}");
    assert_eq!(jm, im, "memory after JIT vs interpreter");
    assert_eq!(bm, im, "memory after blinded JIT vs interpreter");
    jm
}
