//! Handlers (ASHs) in the kernel, in two engines behind one [`Handler`]:
//!
//! * BPF: verified by `filter_lang::bpf::verifier`, compiled by
//!   `ash-compiler` (with constant blinding), placed in executable memory
//!   ([`super::code`]), and run on a frame with the shared `AshHelpers`;
//! * WebAssembly ([`super::wasm`]): run by wasmi with fuel metering, the
//!   same `AshHelpers` as host functions.
//!
//! Regions are kernel memory for kernel bindings and the owner's own
//! pages for environment bindings ([`super::regions`]).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use ash_compiler::reloc::RelocTarget;
use ash_compiler::runtime::{self, Region, RegionMemory};
use filter_lang::bpf::ash::{AshEnv, AshHelpers, PacketBinding, RegionBinding};
use filter_lang::bpf::helpers::{HelperFault, MemFault};
use filter_lang::bpf::spec::{ProgramSpec, ProgramType, packet_ctx};
use filter_lang::bpf::verifier::{self, VerifyError};
use filter_lang::bpf::{Insn, Program};

use super::code::{CodeBlock, CodeError};
use super::regions::{self, RegionError, RegionMem, RegionSource};
use super::wasm::{WasmError, WasmHandler};
/// The interface index handlers see in their context.
pub const IFINDEX: u32 = 1;
/// Slack below the caller's frame admitted for helper reads of the
/// handler's stack (the trampoline's and helper's frames lie below it).
const STACK_SLACK: usize = 4096;
/// Memory areas every run has besides the regions: packet, context, stack.
const FIXED_AREAS: usize = 3;

/// Why a handler was refused.
#[derive(Debug)]
pub enum HandlerError {
    /// Only `packet` programs can be handlers.
    WrongType(ProgramType),
    /// The verifier rejected it (with its report).
    Verify(Box<VerifyError>),
    Compile(ash_compiler::CompileError),
    Code(CodeError),
    Regions(RegionError),
    /// The WebAssembly module was refused.
    Wasm(WasmError),
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType(t) => write!(f, "a handler must be a `packet` program, not `{t}`"),
            Self::Verify(e) => write!(f, "verifier: {e}"),
            Self::Compile(e) => write!(f, "JIT: {e}"),
            Self::Code(e) => write!(f, "{e}"),
            Self::Regions(e) => write!(f, "regions: {e}"),
            Self::Wasm(e) => write!(f, "WebAssembly handler: {e}"),
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

/// Why a handler run did not produce a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandlerFault {
    /// A helper refused to go on (memory outside the handler's objects, an
    /// argument it cannot act on).
    Helper(HelperFault),
    /// The WebAssembly module trapped (unreachable, out-of-bounds memory,
    /// division by zero, ...).
    Trap(String),
    /// The WebAssembly module used up its fuel for this frame.
    OutOfFuel,
    /// The WebAssembly module returned a verdict other than 0 or 1.
    BadVerdict(i64),
}

impl fmt::Display for HandlerFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Helper(h) => write!(f, "{h}"),
            Self::Trap(t) => write!(f, "trap: {t}"),
            Self::OutOfFuel => write!(f, "out of fuel"),
            Self::BadVerdict(v) => write!(f, "verdict {v} is neither 0 (consume) nor 1 (deliver)"),
        }
    }
}

/// A handler's code as a binding request carries it.
pub enum HandlerCode {
    /// BPF words, verified and compiled at load.
    Bpf(Vec<Insn>),
    /// A WebAssembly module and the fuel each run gets.
    Wasm { module: Vec<u8>, fuel: u64 },
}

/// Which engine runs a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Bpf,
    Wasm,
}

/// A loaded handler.
pub enum Handler {
    Bpf(BpfHandler),
    Wasm(Box<WasmHandler>),
}

impl Handler {
    /// Loads `code` for `spec` with regions from `source`.
    pub fn load(
        code: &HandlerCode,
        spec: &ProgramSpec,
        source: RegionSource,
    ) -> Result<Handler, HandlerError> {
        if spec.ty != ProgramType::Packet {
            return Err(HandlerError::WrongType(spec.ty));
        }
        match code {
            HandlerCode::Bpf(words) => BpfHandler::load(words, spec, source).map(Handler::Bpf),
            HandlerCode::Wasm { module, fuel } => {
                let regions =
                    regions::build(&spec.regions, source).map_err(HandlerError::Regions)?;
                WasmHandler::load(module, regions, spec.counters, *fuel)
                    .map(|h| Handler::Wasm(Box::new(h)))
                    .map_err(HandlerError::Wasm)
            }
        }
    }

    /// Loads BPF `words` with kernel regions (kernel bindings, tests).
    pub fn load_bpf(words: &[Insn], spec: &ProgramSpec) -> Result<Handler, HandlerError> {
        Self::load(
            &HandlerCode::Bpf(words.to_vec()),
            spec,
            RegionSource::Kernel,
        )
    }

    /// Runs the handler on `frame`: its verdict (`verdict::CONSUMED` or
    /// `verdict::DELIVER`) or the fault that stopped it.
    pub fn run(&mut self, frame: &[u8], env: &mut dyn AshEnv) -> Result<u64, HandlerFault> {
        match self {
            Handler::Bpf(h) => h.run(frame, env).map_err(HandlerFault::Helper),
            Handler::Wasm(h) => h.run(frame, env),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Handler::Bpf(_) => Engine::Bpf,
            Handler::Wasm(_) => Engine::Wasm,
        }
    }

    /// The handler's own counters (`counter_add`).
    pub fn counters(&self) -> &[u64] {
        match self {
            Handler::Bpf(h) => &h.counters,
            Handler::Wasm(h) => h.counters(),
        }
    }

    /// Read-only view of region `id` (tests, diagnostics).
    pub fn region_bytes(&self, id: usize) -> Option<&[u8]> {
        match self {
            Handler::Bpf(h) => h.regions.get(id).map(RegionMem::bytes),
            Handler::Wasm(h) => h.region_bytes(id),
        }
    }

    /// Bytes of placed machine code (BPF) or of the module (WebAssembly).
    pub fn code_bytes(&self) -> usize {
        match self {
            Handler::Bpf(h) => h.code.len(),
            Handler::Wasm(h) => h.module_bytes(),
        }
    }

    /// Fuel per run (WebAssembly; 0 for BPF, whose run time the verifier
    /// bounds).
    pub fn fuel(&self) -> u64 {
        match self {
            Handler::Bpf(_) => 0,
            Handler::Wasm(h) => h.fuel(),
        }
    }
}

/// A verified, compiled, placed BPF handler with its regions and counters.
pub struct BpfHandler {
    code: CodeBlock,
    entry: usize,
    calls_helpers: bool,
    max_native_stack: usize,
    /// Proven bound on executed instructions per run.
    pub insn_bound: u64,
    regions: Vec<RegionMem>,
    /// The helpers' view of `regions` (fixed once the regions are built).
    bindings: Vec<RegionBinding>,
    /// Reused per run for the memory areas helpers may touch (its capacity
    /// is reserved at load, so a run allocates nothing).
    areas: Vec<Region>,
    /// The handler's own counters (`counter_add`).
    pub counters: Vec<u64>,
}

/// Seeds constant blinding (fresh per handler).
fn blinding_seed() -> u64 {
    let t = crate::arch::cpu::rdtsc();
    t ^ (t << 29) ^ 0x9E37_79B9_7F4A_7C15
}

impl BpfHandler {
    /// Verifies, compiles and places `words` for `spec`, then sets up its
    /// regions.
    fn load(
        words: &[Insn],
        spec: &ProgramSpec,
        source: RegionSource,
    ) -> Result<BpfHandler, HandlerError> {
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
        let regions = regions::build(&spec.regions, source).map_err(HandlerError::Regions)?;
        let bindings = regions
            .iter()
            .map(|r| RegionBinding {
                base: r.base(),
                size: r.decl.size,
                writable: r.decl.writable,
            })
            .collect();
        let areas = Vec::with_capacity(regions.len() + FIXED_AREAS);
        Ok(BpfHandler {
            code,
            entry: compiled.entry,
            calls_helpers: compiled.calls_helpers,
            max_native_stack: compiled.max_native_stack,
            insn_bound: verified.insn_bound,
            regions,
            bindings,
            areas,
            counters: alloc::vec![0; spec.counters as usize],
        })
    }

    /// Runs the handler on `frame`; returns its verdict (r0) or the fault
    /// that stopped it.
    fn run(&mut self, frame: &[u8], env: &mut dyn AshEnv) -> Result<u64, HelperFault> {
        // The verifier's proofs assume packets of at most MAX_PACKET_LEN
        // bytes (frame checks already cap them far lower; keep the
        // assumption explicit where the context is built).
        if frame.len() as u64 > packet_ctx::MAX_PACKET_LEN {
            return Err(HelperFault::Memory(MemFault {
                addr: frame.as_ptr() as u64,
                len: frame.len(),
                write: false,
            }));
        }
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
        // Helper pointer arguments may point into the handler's own stack
        // frames, which lie just below this function's frame.
        let marker = 0u8;
        let top = core::ptr::addr_of!(marker) as u64;
        let stack_len = self.max_native_stack + STACK_SLACK;
        let areas = &mut self.areas;
        areas.clear();
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
            regions: &self.bindings,
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
        let mut mem = unsafe { RegionMemory::new(areas) };
        // SAFETY: as for `call_without_helpers` above; the helpers and the
        // memory describe exactly the regions the verifier was told about.
        unsafe { runtime::call(entry, ctx_addr, 0, &mut helpers, &mut mem) }
    }
}
