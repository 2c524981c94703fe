//! Running compiled handlers: the environment block JIT'd code sees, the
//! helper trampoline, helper memory over real addresses, and the one
//! function that transfers control to placed code.
//!
//! This is the only module of the crate with `unsafe` code.
//!
//! Calling convention (details in `docs/JIT.md`): the entry is an
//! `extern "sysv64" fn(r1, r2, env: *mut JitEnv) -> u64`. A helper call
//! stores the helper id in the env, passes r1..r5 in rdi..r8 and the env in
//! r9 to [`helper_trampoline`], which dispatches to the shared
//! [`Helpers`] implementation. When the helper asks to stop the program
//! ([`HelperOutcome::Exit`]) or faults, the trampoline sets the env's
//! status; the JIT'd code tests it after the call and unwinds to the main
//! epilogue through the stack pointer saved at entry.

use core::mem::offset_of;
use filter_lang::bpf::helpers::{HelperFault, HelperMemory, HelperOutcome, Helpers, MemFault};

/// Field offsets of [`JitEnv`] that generated code uses.
pub mod env_layout {
    /// `rsp` after the main prologue, for unwinding.
    pub const SAVED_RSP: usize = 0;
    /// The helper id of the call in progress (`i32`).
    pub const HELPER_ID: usize = 8;
    /// 0 while running; non-zero once a helper stopped the program (`u32`).
    pub const STATUS: usize = 12;
    /// For `callx`: the register holding the helper id (`u64`).
    pub const CALLX_VALUE: usize = 16;
    /// Non-zero when the call in progress is a `callx` (`u32`); the
    /// trampoline clears it.
    pub const CALLX: usize = 24;
}

const STATUS_RUNNING: u32 = 0;
const STATUS_EXIT: u32 = 1;
const STATUS_FAULT: u32 = 2;

/// Per-run state shared between JIT'd code and the trampoline.
#[repr(C)]
pub struct JitEnv<'a> {
    saved_rsp: u64,
    helper_id: i32,
    status: u32,
    callx_value: u64,
    callx: u32,
    helpers: &'a mut dyn Helpers,
    mem: &'a mut dyn HelperMemory,
    fault: Option<HelperFault>,
}

const _: () = {
    assert!(offset_of!(JitEnv<'static>, saved_rsp) == env_layout::SAVED_RSP);
    assert!(offset_of!(JitEnv<'static>, helper_id) == env_layout::HELPER_ID);
    assert!(offset_of!(JitEnv<'static>, status) == env_layout::STATUS);
    assert!(offset_of!(JitEnv<'static>, callx_value) == env_layout::CALLX_VALUE);
    assert!(offset_of!(JitEnv<'static>, callx) == env_layout::CALLX);
};

impl<'a> JitEnv<'a> {
    /// A fresh environment for one run.
    #[inline]
    pub fn new(helpers: &'a mut dyn Helpers, mem: &'a mut dyn HelperMemory) -> JitEnv<'a> {
        JitEnv {
            saved_rsp: 0,
            helper_id: 0,
            status: STATUS_RUNNING,
            callx_value: 0,
            callx: 0,
            helpers,
            mem,
            fault: None,
        }
    }
}

/// The helper-call trampoline JIT'd code calls (relocation target
/// [`crate::reloc::RelocTarget::HelperTrampoline`]).
///
/// # Safety
/// `env` must point to the live [`JitEnv`] of the current run (JIT'd code
/// passes the pointer it received at entry).
pub unsafe extern "sysv64" fn helper_trampoline(
    a1: u64,
    a2: u64,
    a3: u64,
    a4: u64,
    a5: u64,
    env: *mut JitEnv<'_>,
) -> u64 {
    // SAFETY: the caller passes the env pointer the run was entered with; it
    // is valid and not otherwise borrowed while the JIT'd code runs.
    let env = unsafe { &mut *env };
    let id = if env.callx != 0 {
        env.callx = 0;
        // As the interpreter: a register value that is no i32 names no helper.
        match i32::try_from(env.callx_value) {
            Ok(id) => id,
            Err(_) => {
                env.status = STATUS_FAULT;
                env.fault = Some(HelperFault::UnknownHelper(env.callx_value as i32));
                return 0;
            }
        }
    } else {
        env.helper_id
    };
    match env.helpers.call(id, [a1, a2, a3, a4, a5], &mut *env.mem) {
        HelperOutcome::Return(v) => v,
        HelperOutcome::Exit(v) => {
            env.status = STATUS_EXIT;
            v
        }
        HelperOutcome::Fault(f) => {
            env.status = STATUS_FAULT;
            env.fault = Some(f);
            0
        }
    }
}

/// The address to resolve [`crate::reloc::RelocTarget::HelperTrampoline`] to.
pub fn helper_trampoline_address() -> u64 {
    helper_trampoline as *const () as u64
}

/// The signature of a compiled program's entry point.
pub type EntryFn = unsafe extern "sysv64" fn(u64, u64, *mut JitEnv<'_>) -> u64;

/// Runs placed code: calls `entry` with `r1`, `r2` and a fresh environment.
/// Returns r0, or the fault a helper reported.
///
/// Inlined so the per-run cost is the environment's few stores and one
/// indirect call.
///
/// # Safety
/// * `entry` is the entry of [`crate::handler::compile`]'s output for a
///   program the verifier accepted, copied into executable memory with its
///   relocations applied ([`helper_trampoline_address`] for the trampoline).
/// * `r1`/`r2` satisfy the contract of the program type the verifier checked
///   against (e.g. r1 points to a context whose regions are valid for the
///   whole run), and nothing else accesses that memory during the run.
#[inline]
pub unsafe fn call(
    entry: *const u8,
    r1: u64,
    r2: u64,
    helpers: &mut dyn Helpers,
    mem: &mut dyn HelperMemory,
) -> Result<u64, HelperFault> {
    let mut env = JitEnv::new(helpers, mem);
    // SAFETY: per this function's contract, `entry` is compiled code with the
    // `EntryFn` signature in executable memory.
    let f: EntryFn = unsafe { core::mem::transmute::<*const u8, EntryFn>(entry) };
    // SAFETY: the verifier's proofs (this function's contract) make the code
    // touch only memory reachable from r1/r2, its own stack frames and `env`.
    let r0 = unsafe { f(r1, r2, &mut env) };
    match (env.status, env.fault) {
        (STATUS_FAULT, Some(fault)) => Err(fault),
        _ => Ok(r0),
    }
}

/// Runs placed code that calls no helpers ([`crate::Compiled::calls_helpers`]
/// is false): no environment is built; r0 is returned.
///
/// # Safety
/// As [`call`], and the code must come from a program without helper calls
/// (its third argument, a null pointer here, is then never used).
#[inline]
pub unsafe fn call_without_helpers(entry: *const u8, r1: u64, r2: u64) -> u64 {
    // SAFETY: per this function's contract, `entry` is compiled code with the
    // `EntryFn` signature in executable memory.
    let f: EntryFn = unsafe { core::mem::transmute::<*const u8, EntryFn>(entry) };
    // SAFETY: the verifier's proofs make the code touch only memory reachable
    // from r1/r2 and its own stack; without helper calls it never reads the
    // environment pointer.
    unsafe { f(r1, r2, core::ptr::null_mut()) }
}

/// One memory region helpers may touch, by real address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len: usize,
    /// Whether helpers may write it.
    pub writable: bool,
}

/// [`HelperMemory`] over real addresses, restricted to a list of regions:
/// an access outside them is reported as a [`MemFault`] (defence in depth;
/// the verifier already proved helper arguments in range). It borrows the
/// list, so building one per run allocates nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegionMemory<'r> {
    regions: &'r [Region],
}

impl<'r> RegionMemory<'r> {
    /// Memory made of `regions`.
    ///
    /// # Safety
    /// Every region must be valid for reads (and for writes when
    /// `writable`) for as long as this value is used, and not be accessed
    /// through a Rust reference meanwhile.
    pub unsafe fn new(regions: &'r [Region]) -> RegionMemory<'r> {
        RegionMemory { regions }
    }

    fn check(&self, addr: u64, len: usize, write: bool) -> Result<(), MemFault> {
        let fault = MemFault { addr, len, write };
        let end = addr.checked_add(len as u64).ok_or(fault)?;
        let ok = self
            .regions
            .iter()
            .any(|r| addr >= r.start && end <= r.start + r.len as u64 && (!write || r.writable));
        if ok { Ok(()) } else { Err(fault) }
    }
}

impl HelperMemory for RegionMemory<'_> {
    fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), MemFault> {
        self.check(addr, out.len(), false)?;
        // SAFETY: the range lies in a region valid for reads (constructor contract).
        unsafe { core::ptr::copy(addr as *const u8, out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        self.check(addr, data.len(), true)?;
        // SAFETY: the range lies in a writable region (constructor contract).
        unsafe { core::ptr::copy(data.as_ptr(), addr as *mut u8, data.len()) };
        Ok(())
    }
}

/// The signature of a compiled classifier's entry point.
pub type TrieEntryFn = unsafe extern "sysv64" fn(
    *const u8,
    usize,
    *mut [u32; 2],
    *const crate::trie::TableHeader,
) -> u32;

/// Classifies `frame` with placed classifier code: the winning filter's
/// `(id, owner)`, or `None`.
///
/// # Safety
/// `entry` is the entry of a [`crate::trie::CompiledTrie`]'s code, copied
/// into executable memory (it needs no relocations), and `leaves` are that
/// same compilation's tables (possibly updated in place since).
#[inline]
pub unsafe fn classify(
    entry: *const u8,
    leaves: &crate::trie::LeafTables,
    frame: &[u8],
) -> Option<(u32, u32)> {
    let mut out = [0u32; 2];
    // SAFETY: per the contract, `entry` is compiled classifier code.
    let f: TrieEntryFn = unsafe { core::mem::transmute::<*const u8, TrieEntryFn>(entry) };
    // SAFETY: the code reads only `frame[..len]` (every load is bounds
    // checked against `len`) and the tables the headers describe, and
    // writes only `out`.
    let found = unsafe { f(frame.as_ptr(), frame.len(), &mut out, leaves.headers()) };
    (found != 0).then_some((out[0], out[1]))
}
