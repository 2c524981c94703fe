//! Differential testing of the JIT against the reference interpreter
//! (feature `host`): used by the property tests, the cargo-fuzz target and
//! the guard-page harness.
//!
//! * [`generate`]: programs that are safe by construction, from a byte
//!   [`source`].
//! * [`trie`]: the filter-trie compiler against the merged classifier.
//! * [`check`]: verifies a case (the generator must only produce programs
//!   the verifier accepts), runs it in the interpreter, then in the JIT
//!   (plain, blinded, and with every region fenced by guard pages) and
//!   demands the same r0 (or helper fault), the same memory and the same
//!   helper effects.

pub mod generate;
pub mod source;
pub mod trie;

use crate::handler::{CompileOptions, compile, compile_verified};
use crate::host::{ExecBuffer, Flush, GuardedBuf};
use crate::runtime::{Region, RegionMemory};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use filter_lang::bpf::Program;
use filter_lang::bpf::ash::{AshHelpers, PacketBinding, RecordingEnv, RegionBinding};
use filter_lang::bpf::helpers::{
    ConformanceHelpers, HelperFault, HelperMemory, HelperOutcome, Helpers,
};
use filter_lang::bpf::interp::{
    Interpreter, RunErrorKind, RunOptions, buffer_memory, packet_memory, run_packet,
};
use filter_lang::bpf::spec::{ProgramSpec, ProgramType, RegionDecl, packet_ctx};
use filter_lang::bpf::verifier::{Verified, verify};
use generate::{AREA_LEN, COUNTERS, Case, Kind};

/// Interface index given to packet programs.
pub const IFINDEX: u32 = 3;

/// Where the JIT run puts its memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Ordinary heap buffers.
    Heap,
    /// Every region (buffer, context, packet, application region) against an
    /// inaccessible page on the given side: a stray access kills the process.
    Guarded(Flush),
}

/// What one run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// r0, or the fault a helper reported.
    pub result: Result<u64, HelperFault>,
    /// The buffer (memory programs) or application region afterwards.
    pub area: Vec<u8>,
    /// Helper calls with their arguments (memory programs, whose helper
    /// arguments are all scalars).
    pub calls: Vec<(i32, [u64; 5])>,
    /// Counters afterwards (packet programs).
    pub counters: Vec<u64>,
    /// Frames sent, wake-ups, clock reads (packet programs).
    pub sent: Vec<Vec<u8>>,
    pub wakeups: u32,
    pub clock_ns: u64,
}

impl Observed {
    /// Before the run: r0 = 0, no effects.
    fn nothing() -> Observed {
        Observed {
            result: Ok(0),
            area: Vec::new(),
            calls: Vec::new(),
            counters: Vec::new(),
            sent: Vec::new(),
            wakeups: 0,
            clock_ns: 0,
        }
    }
}

/// Records every call, then defers to the inner helper set.
struct Recording<H> {
    inner: H,
    calls: Vec<(i32, [u64; 5])>,
}

impl<H: Helpers> Helpers for Recording<H> {
    fn call(&mut self, id: i32, args: [u64; 5], mem: &mut dyn HelperMemory) -> HelperOutcome {
        self.calls.push((id, args));
        self.inner.call(id, args, mem)
    }
}

/// Why a case failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The verifier rejected a generated program (the generator must stay
    /// within what the verifier accepts).
    Rejected(String),
    /// The interpreter hit an error a safe program cannot: the generator (or
    /// the interpreter) is wrong; the JIT was not run.
    UnsafeCase(String),
    /// The JIT refused the program.
    Compile(String),
    /// Placing the code or guard pages failed.
    Host(String),
    /// The engines disagree.
    Divergence {
        what: &'static str,
        interp: String,
        jit: String,
    },
}

/// The verifier's view of a case's program type.
pub fn spec(kind: Kind) -> ProgramSpec {
    match kind {
        Kind::Memory => ProgramSpec::new(ProgramType::Memory {
            size: AREA_LEN as u32,
        }),
        Kind::Packet => {
            let mut s = ProgramSpec::new(ProgramType::Packet);
            s.regions = vec![RegionDecl {
                size: AREA_LEN as u32,
                writable: true,
            }];
            s.counters = COUNTERS as u32;
            s
        }
    }
}

/// Verifies `case`'s program for its kind.
pub fn verify_case(case: &Case) -> Result<Verified, Failure> {
    verify(&Program::from_words(case.words.clone()), &spec(case.kind))
        .map_err(|e| Failure::Rejected(format!("{e}")))
}

fn initial_counters() -> Vec<u64> {
    (0..COUNTERS as u64).map(|i| i * 1000).collect()
}

/// Runs `case` in the reference interpreter.
pub fn run_interp(case: &Case) -> Result<Observed, Failure> {
    let interp = Interpreter::new(&case.words)
        .map_err(|(pc, e)| Failure::UnsafeCase(format!("{pc}: {e}")))?;
    let mut area = case.area.clone();
    let mut obs = Observed::nothing();
    let r = match case.kind {
        Kind::Memory => {
            let mut h = Recording {
                inner: ConformanceHelpers,
                calls: Vec::new(),
            };
            let r = {
                let (mut mem, args) = buffer_memory(&mut area);
                interp.run(&mut mem, &mut h, args, RunOptions::default())
            };
            obs.calls = h.calls;
            r
        }
        Kind::Packet => {
            let mut counters = initial_counters();
            let mut env = RecordingEnv::default();
            let r = {
                let mut setup = packet_memory(&case.packet, IFINDEX, vec![(&mut area[..], true)]);
                run_packet(
                    &interp,
                    &mut setup,
                    &mut counters,
                    &mut env,
                    RunOptions::default(),
                )
            };
            obs.counters = counters;
            obs.sent = env.sent;
            obs.wakeups = env.wakeups;
            obs.clock_ns = env.clock_ns;
            r
        }
    };
    obs.result = match r {
        Ok(o) => Ok(o.r0),
        Err(e) => match e.kind {
            RunErrorKind::Helper(f) => Err(f),
            _ => return Err(Failure::UnsafeCase(format!("{e}"))),
        },
    };
    obs.area = area;
    Ok(obs)
}

/// A byte area in the requested placement.
enum Area {
    Heap(Vec<u8>),
    Guarded(GuardedBuf),
}

impl Area {
    fn new(data: &[u8], p: Placement) -> Result<Area, Failure> {
        match p {
            Placement::Heap => Ok(Area::Heap(data.to_vec())),
            Placement::Guarded(f) => GuardedBuf::from_slice(data, f)
                .map(Area::Guarded)
                .map_err(|e| Failure::Host(format!("{e}"))),
        }
    }

    fn addr(&mut self) -> u64 {
        match self {
            Area::Heap(v) => v.as_mut_ptr() as u64,
            Area::Guarded(g) => g.addr(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            Area::Heap(v) => v.clone(),
            Area::Guarded(g) => g.as_slice().to_vec(),
        }
    }

    fn region(&mut self, writable: bool) -> Region {
        let len = match self {
            Area::Heap(v) => v.len(),
            Area::Guarded(g) => g.len(),
        };
        Region {
            start: self.addr(),
            len,
            writable,
        }
    }
}

/// Runs `case` in the JIT.
///
/// # Safety
/// `case` must be a safe program for its kind (the interpreter ran it to
/// completion without a memory error, and it comes from [`generate::generate`] or
/// the verifier accepted it): JIT'd code has no bounds checks.
pub unsafe fn run_jit(
    case: &Case,
    opts: CompileOptions,
    facts: Option<&Verified>,
    placement: Placement,
) -> Result<Observed, Failure> {
    let c = match facts {
        Some(v) => compile_verified(&case.words, v, &opts),
        None => compile(&case.words, &opts),
    }
    .map_err(|e| Failure::Compile(format!("{e}")))?;
    let x = ExecBuffer::new(&c).map_err(|e| Failure::Host(format!("{e}")))?;
    let mut area = Area::new(&case.area, placement)?;
    let mut obs = Observed::nothing();
    match case.kind {
        Kind::Memory => {
            let region = area.region(true);
            let mut h = Recording {
                inner: ConformanceHelpers,
                calls: Vec::new(),
            };
            let regions = [region];
            // SAFETY: the region is `area`, alive and not otherwise accessed
            // during the call.
            let mut mem = unsafe { RegionMemory::new(&regions) };
            // SAFETY: the caller guarantees a safe program; r1/r2 describe `area`.
            obs.result = unsafe { x.call(region.start, region.len as u64, &mut h, &mut mem) };
            obs.calls = h.calls;
        }
        Kind::Packet => {
            let mut packet = Area::new(&case.packet, placement)?;
            let pkt = packet.region(false);
            let mut ctx_bytes = vec![0u8; packet_ctx::SIZE];
            ctx_bytes[0..8].copy_from_slice(&pkt.start.to_le_bytes());
            ctx_bytes[8..16].copy_from_slice(&(pkt.start + pkt.len as u64).to_le_bytes());
            ctx_bytes[16..20].copy_from_slice(&(pkt.len as u32).to_le_bytes());
            ctx_bytes[20..24].copy_from_slice(&IFINDEX.to_le_bytes());
            let mut ctx = Area::new(&ctx_bytes, placement)?;
            let ctx_region = ctx.region(false);
            let region = area.region(true);
            let bindings = [RegionBinding {
                base: region.start,
                size: region.len as u32,
                writable: true,
            }];
            let mut counters = initial_counters();
            let mut env = RecordingEnv::default();
            let mut h = AshHelpers {
                regions: &bindings,
                packet: PacketBinding {
                    addr: pkt.start,
                    len: pkt.len as u32,
                },
                counters: &mut counters,
                env: &mut env,
            };
            let regions = [pkt, region, ctx_region];
            // SAFETY: the three regions are alive and not otherwise accessed
            // during the call.
            let mut mem = unsafe { RegionMemory::new(&regions) };
            // SAFETY: the caller guarantees a safe program; r1 is a context
            // describing live packet memory.
            obs.result = unsafe { x.call(ctx_region.start, 0, &mut h, &mut mem) };
            obs.counters = counters;
            obs.sent = env.sent;
            obs.wakeups = env.wakeups;
            obs.clock_ns = env.clock_ns;
        }
    }
    obs.area = area.bytes();
    Ok(obs)
}

fn compare(i: &Observed, j: &Observed) -> Result<(), Failure> {
    let diff = |what, a: String, b: String| Failure::Divergence {
        what,
        interp: a,
        jit: b,
    };
    if i.result != j.result {
        return Err(diff(
            "r0",
            format!("{:x?}", i.result),
            format!("{:x?}", j.result),
        ));
    }
    if i.area != j.area {
        return Err(diff(
            "memory",
            format!("{:02x?}", i.area),
            format!("{:02x?}", j.area),
        ));
    }
    if i.calls != j.calls {
        return Err(diff(
            "helper calls",
            format!("{:x?}", i.calls),
            format!("{:x?}", j.calls),
        ));
    }
    if (&i.counters, &i.sent, i.wakeups, i.clock_ns)
        != (&j.counters, &j.sent, j.wakeups, j.clock_ns)
    {
        return Err(diff(
            "helper effects",
            format!("{:?} {:?} {} {}", i.counters, i.sent, i.wakeups, i.clock_ns),
            format!("{:?} {:?} {} {}", j.counters, j.sent, j.wakeups, j.clock_ns),
        ));
    }
    Ok(())
}

/// Verifies `case`, runs it in the interpreter and then in the JIT (plain,
/// blinded, and compiled with the verifier's facts) with the given
/// placements; the first failure is returned.
pub fn check(case: &Case, placements: &[Placement], blinding_seed: u64) -> Result<(), Failure> {
    let verified = verify_case(case)?;
    let expect = run_interp(case)?;
    let blinded = CompileOptions {
        blinding: Some(blinding_seed),
    };
    for &p in placements {
        // Without the verifier's facts, blinded, and with the facts.
        for (opts, facts) in [
            (CompileOptions::default(), None),
            (blinded, None),
            (CompileOptions::default(), Some(&verified)),
        ] {
            // SAFETY: the verifier accepted `case` for its program type and
            // `run_jit` sets up exactly that type's memory.
            let got = unsafe { run_jit(case, opts, facts, p)? };
            compare(&expect, &got)?;
        }
    }
    Ok(())
}
