//! Handlers (ASHs) in the kernel: verified by `filter_lang::bpf::verifier`,
//! compiled by `ash-compiler` (with constant blinding), placed in
//! executable memory ([`super::code`]), and run on a frame with the shared
//! `AshHelpers` over kernel-allocated regions.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use ash_compiler::reloc::RelocTarget;
use ash_compiler::runtime::{self, Region, RegionMemory};
use filter_lang::bpf::ash::{AshEnv, AshHelpers, PacketBinding, RegionBinding};
use filter_lang::bpf::helpers::HelperFault;
use filter_lang::bpf::spec::{ProgramSpec, ProgramType, RegionDecl};
use filter_lang::bpf::verifier::{self, VerifyError};
use filter_lang::bpf::{Insn, Program};

use super::code::{CodeBlock, CodeError};

/// Region bytes one handler may have in all (kernel memory, for now).
pub const MAX_REGION_BYTES: usize = 1 << 20;
/// The interface index handlers see in their context.
pub const IFINDEX: u32 = 1;
/// Slack below the caller's frame admitted for helper reads of the
/// handler's stack (the trampoline's and helper's frames lie below it).
const STACK_SLACK: usize = 4096;

/// Why a handler was refused.
#[derive(Debug)]
pub enum HandlerError {
    /// Only `packet` programs can be handlers.
    WrongType(ProgramType),
    /// The verifier rejected it (with its report).
    Verify(Box<VerifyError>),
    Compile(ash_compiler::CompileError),
    Code(CodeError),
    /// Its regions add up to more than [`MAX_REGION_BYTES`].
    RegionsTooLarge(usize),
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType(t) => write!(f, "a handler must be a `packet` program, not `{t}`"),
            Self::Verify(e) => write!(f, "verifier: {e}"),
            Self::Compile(e) => write!(f, "JIT: {e}"),
            Self::Code(e) => write!(f, "{e}"),
            Self::RegionsTooLarge(n) => write!(
                f,
                "the handler's regions need {n} bytes; at most {MAX_REGION_BYTES} are allowed"
            ),
        }
    }
}

/// The context r1 points to (layout of `filter_lang::bpf::spec::packet_ctx`).
#[repr(C)]
struct PacketCtx {
    data: u64,
    data_end: u64,
    len: u32,
    ifindex: u32,
}

const _: () =
    assert!(core::mem::size_of::<PacketCtx>() == filter_lang::bpf::spec::packet_ctx::SIZE);

/// A region's memory: 8-byte aligned, zeroed at load.
struct RegionMem {
    words: Box<[u64]>,
    decl: RegionDecl,
}

impl RegionMem {
    fn base(&self) -> u64 {
        self.words.as_ptr() as u64
    }
}

/// A verified, compiled, placed handler with its regions and counters.
pub struct Handler {
    code: CodeBlock,
    entry: usize,
    calls_helpers: bool,
    max_native_stack: usize,
    /// Proven bound on executed instructions per run.
    pub insn_bound: u64,
    regions: Vec<RegionMem>,
    /// The handler's own counters (`counter_add`).
    pub counters: Vec<u64>,
}

/// Seeds constant blinding (fresh per handler).
fn blinding_seed() -> u64 {
    let t = crate::arch::cpu::rdtsc();
    t ^ (t << 29) ^ 0x9E37_79B9_7F4A_7C15
}

impl Handler {
    /// Verifies, compiles and places `words` for `spec`.
    pub fn load(words: &[Insn], spec: &ProgramSpec) -> Result<Handler, HandlerError> {
        if spec.ty != ProgramType::Packet {
            return Err(HandlerError::WrongType(spec.ty));
        }
        let total: usize = spec.regions.iter().map(|r| r.size as usize).sum();
        if total > MAX_REGION_BYTES {
            return Err(HandlerError::RegionsTooLarge(total));
        }
        let program = Program::from_words(words.to_vec());
        let verified =
            verifier::verify(&program, spec).map_err(|e| HandlerError::Verify(Box::new(e)))?;
        let opts = ash_compiler::CompileOptions {
            blinding: Some(blinding_seed()),
        };
        let compiled = ash_compiler::compile_verified(words, &verified, &opts)
            .map_err(HandlerError::Compile)?;
        let code = CodeBlock::place(&compiled.code, &compiled.relocations, |t| match t {
            RelocTarget::HelperTrampoline => runtime::helper_trampoline_address(),
        })
        .map_err(HandlerError::Code)?;
        let regions = spec
            .regions
            .iter()
            .map(|&decl| RegionMem {
                words: alloc::vec![0u64; (decl.size as usize).div_ceil(8)].into_boxed_slice(),
                decl,
            })
            .collect();
        Ok(Handler {
            code,
            entry: compiled.entry,
            calls_helpers: compiled.calls_helpers,
            max_native_stack: compiled.max_native_stack,
            insn_bound: verified.insn_bound,
            regions,
            counters: alloc::vec![0; spec.counters as usize],
        })
    }

    /// Bytes of placed machine code.
    pub fn code_bytes(&self) -> usize {
        self.code.len()
    }

    /// Runs the handler on `frame`; returns its verdict (r0) or the fault
    /// that stopped it.
    pub fn run(&mut self, frame: &[u8], env: &mut dyn AshEnv) -> Result<u64, HelperFault> {
        let ctx = PacketCtx {
            data: frame.as_ptr() as u64,
            data_end: frame.as_ptr() as u64 + frame.len() as u64,
            len: frame.len() as u32,
            ifindex: IFINDEX,
        };
        let ctx_addr = &ctx as *const PacketCtx as u64;
        let entry = self.code.addr(self.entry);
        if !self.calls_helpers {
            // SAFETY: `entry` is the placed output of `compile_verified` for
            // a program the verifier accepted as `packet` with these regions;
            // r1 points to a context describing `frame`, which stays borrowed
            // (read-only) for the call; the code calls no helpers.
            return Ok(unsafe { runtime::call_without_helpers(entry, ctx_addr, 0) });
        }
        let bindings: Vec<RegionBinding> = self
            .regions
            .iter()
            .map(|r| RegionBinding {
                base: r.base(),
                size: r.decl.size,
                writable: r.decl.writable,
            })
            .collect();
        // Helper pointer arguments may point into the handler's own stack
        // frames, which lie just below this function's frame.
        let marker = 0u8;
        let top = core::ptr::addr_of!(marker) as u64;
        let stack_len = self.max_native_stack + STACK_SLACK;
        let mut areas: Vec<Region> = Vec::with_capacity(self.regions.len() + 3);
        areas.push(Region {
            start: ctx.data,
            len: frame.len(),
            writable: false,
        });
        areas.push(Region {
            start: ctx_addr,
            len: core::mem::size_of::<PacketCtx>(),
            writable: false,
        });
        areas.push(Region {
            start: top - stack_len as u64,
            len: stack_len,
            writable: false,
        });
        areas.extend(self.regions.iter().map(|r| Region {
            start: r.base(),
            len: r.decl.size as usize,
            writable: r.decl.writable,
        }));
        let mut helpers = AshHelpers {
            regions: &bindings,
            packet: PacketBinding {
                addr: ctx.data,
                len: frame.len() as u32,
            },
            counters: &mut self.counters,
            env,
        };
        // SAFETY: every area is live for the call: the frame and the context
        // are borrowed, the regions are owned by `self` (borrowed mutably
        // here, so nothing else touches them), and the stack window lies
        // below this frame, where only the handler's frames live.
        let mut mem = unsafe { RegionMemory::new(&areas) };
        // SAFETY: as for `call_without_helpers` above; the helpers and the
        // memory describe exactly the regions the verifier was told about.
        unsafe { runtime::call(entry, ctx_addr, 0, &mut helpers, &mut mem) }
    }

    /// Read-only view of region `id` (tests, diagnostics).
    pub fn region_bytes(&self, id: usize) -> Option<&[u8]> {
        let r = self.regions.get(id)?;
        let bytes: &[u8] = bytemuck_bytes(&r.words);
        Some(&bytes[..r.decl.size as usize])
    }
}

fn bytemuck_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: any u64 slice is a valid byte slice of 8x its length with the
    // same lifetime; u8 has no alignment or validity requirements.
    unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 8) }
}
