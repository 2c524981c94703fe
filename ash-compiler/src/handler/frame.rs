//! The native stack frames of compiled handlers: what the main prologue
//! and each local call save and reserve, and the worst-case stack depth.

use super::analysis::Program;
use super::regmap::{CALLEE_SAVED_BPF, ENV, SCRATCH_A};
use crate::x86::Reg;
use alloc::vec;
use alloc::vec::Vec;
use filter_lang::bpf::{Op, Reg as BpfReg};

/// Bytes of each BPF frame (RFC 9669 stack: r10 points at its top).
pub const BPF_FRAME: usize = 512;

/// Local-call frames beyond the main program's that the verifier allows
/// (8 frames in all), used to bound the native stack.
pub const MAX_CALL_DEPTH: usize = filter_lang::bpf::interp::exec::DEFAULT_MAX_CALL_FRAMES - 1;

/// Frame decisions shared by every pass.
pub struct Frame {
    /// Registers the main prologue pushes, in order.
    pub main_saved: Vec<Reg>,
    /// `sub rsp` of the main prologue (BPF frame and alignment padding).
    pub main_frame: usize,
    /// Registers a local call site pushes, in order (odd count: keeps alignment).
    pub call_saved: Vec<Reg>,
}

impl Frame {
    pub fn new(p: &Program) -> Frame {
        let any_stack = p.funcs.iter().any(|f| f.uses_stack);
        let bpf_saved = [
            (BpfReg::R6, Reg::Rbx),
            (BpfReg::R7, Reg::R13),
            (BpfReg::R8, Reg::R14),
            (BpfReg::R9, Reg::R15),
        ];
        let mut saved: Vec<Reg> = bpf_saved
            .iter()
            .filter(|(b, _)| p.uses(*b))
            .map(|&(_, h)| h)
            .collect();
        if any_stack {
            saved.push(Reg::Rbp);
        }
        let mut call_saved = saved.clone();
        if call_saved.len().is_multiple_of(2) {
            // Return address plus an odd number of pushes keeps rsp 16-aligned.
            call_saved.push(SCRATCH_A);
        }
        let mut main_saved = saved;
        if p.has_helper_calls {
            main_saved.push(ENV);
        }
        let needs_align = p.has_helper_calls || p.has_local_calls;
        let mut main_frame = if p.funcs[0].uses_stack { BPF_FRAME } else { 0 };
        // At entry rsp = 8 (mod 16): the caller's return address.
        if needs_align && !(8 + 8 * main_saved.len() + main_frame).is_multiple_of(16) {
            main_frame += 8;
        }
        debug_assert!(CALLEE_SAVED_BPF.iter().all(|r| !matches!(r, Reg::R12)));
        Frame {
            main_saved,
            main_frame,
            call_saved,
        }
    }
}

/// Native stack bytes for the deepest chain of local calls.
pub fn max_native_stack(p: &Program, frame: &Frame) -> usize {
    let main = 8 + 8 * frame.main_saved.len() + frame.main_frame;
    let per_call = |f: usize| {
        8 * frame.call_saved.len() + 8 + if p.funcs[f].uses_stack { BPF_FRAME } else { 0 }
    };
    // Callees of each function.
    let nf = p.funcs.len();
    let mut callees: Vec<Vec<usize>> = vec![Vec::new(); nf];
    for (fi, f) in p.funcs.iter().enumerate() {
        for pc in f.start..f.end {
            if let Some(op @ Op::CallLocal { .. }) = p.ops[pc] {
                let t = op.branch_target(pc).unwrap_or(0) as usize;
                if let Ok(g) = p.funcs.binary_search_by_key(&t, |f| f.start) {
                    callees[fi].push(g);
                }
            }
        }
    }
    // Deepest path by bounded depth-first search (the verifier bounds depth
    // and forbids recursion; a cycle here just hits the bound).
    fn deepest(
        f: usize,
        depth: usize,
        callees: &[Vec<usize>],
        per_call: &dyn Fn(usize) -> usize,
    ) -> usize {
        if depth == MAX_CALL_DEPTH {
            return 0;
        }
        callees[f]
            .iter()
            .map(|&g| per_call(g) + deepest(g, depth + 1, callees, per_call))
            .max()
            .unwrap_or(0)
    }
    main + deepest(0, 0, &callees, &per_call)
}
