//! Where each BPF register lives in x86-64 code, and the scratch registers.
//!
//! | BPF | x86-64 | why |
//! |-----|--------|-----|
//! | r0  | rax    | return value in both conventions |
//! | r1  | rdi    | System V argument 1 = BPF argument 1 |
//! | r2  | rsi    | argument 2 |
//! | r3  | rdx    | argument 3 |
//! | r4  | rcx    | argument 4 |
//! | r5  | r8     | argument 5 |
//! | r6  | rbx    | callee-saved in both |
//! | r7  | r13    | callee-saved in both |
//! | r8  | r14    | callee-saved in both |
//! | r9  | r15    | callee-saved in both |
//! | r10 | rbp    | frame pointer |
//!
//! r9, r10 and r11 are scratch (caller-saved, never hold a BPF value);
//! r12 holds the [`crate::runtime::JitEnv`] pointer in programs that call
//! helpers (callee-saved, so it survives the helper call).

use crate::x86::Reg;
use filter_lang::bpf::Reg as BpfReg;

const MAP: [Reg; 11] = [
    Reg::Rax,
    Reg::Rdi,
    Reg::Rsi,
    Reg::Rdx,
    Reg::Rcx,
    Reg::R8,
    Reg::Rbx,
    Reg::R13,
    Reg::R14,
    Reg::R15,
    Reg::Rbp,
];

/// The x86-64 register holding BPF register `r`.
pub fn host(r: BpfReg) -> Reg {
    MAP[r.idx()]
}

/// First scratch register (divisor, shift save, atomic new value).
pub const SCRATCH_A: Reg = Reg::R11;
/// Second scratch register (saved rdx, blinded immediates, saved r0 in atomics).
pub const SCRATCH_B: Reg = Reg::R10;
/// Third scratch register (saved rax, atomic address, helper env argument).
pub const SCRATCH_C: Reg = Reg::R9;
/// The register holding the environment pointer in programs with helper calls.
pub const ENV: Reg = Reg::R12;

/// Host registers that are callee-saved in System V and may hold BPF values,
/// in push order.
pub const CALLEE_SAVED_BPF: [Reg; 5] = [Reg::Rbx, Reg::R13, Reg::R14, Reg::R15, Reg::Rbp];
