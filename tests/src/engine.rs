//! A verified handler run on frames by two engines: the reference
//! interpreter and JIT code placed in executable memory, both with the one
//! `AshHelpers` the kernel uses. Regions and counters persist from frame to
//! frame, as in a binding; [`Effects`] is everything runs have done so far
//! (region bytes, counters, frames sent, wake-ups, clock reads) and
//! [`first_difference`] compares two engines' effects.
//!
//! The JIT side is set up the way `kernel/src/net/handler.rs` runs a
//! handler: a context describing the frame (interface 1), the helpers'
//! memory restricted to the frame, the context, a window of the handler's
//! stack and the regions. Here every one of those buffers lies against a
//! guard page (the frame ends at one), so code that reads past the proven
//! range faults instead of passing by luck.

use crate::download::Handler;
use ash_compiler::host::{ExecBuffer, Flush, GuardedBuf};
use ash_compiler::runtime::{self, Region, RegionMemory};
use ash_compiler::{CompileOptions, compile, compile_verified};
use filter_lang::bpf::ash::{AshHelpers, PacketBinding, RecordingEnv, RegionBinding};
use filter_lang::bpf::helpers::HelperFault;
use filter_lang::bpf::interp::{
    Access, Interpreter, Observer, RegionKind, RunErrorKind, RunOptions, packet_memory, run_packet,
};
use filter_lang::bpf::spec::{RegionDecl, packet_ctx};

/// The interface index the kernel puts in a handler's context.
pub const IFINDEX: u32 = 1;
/// Bytes below the caller's frame admitted for helper reads of the
/// handler's stack (the kernel's slack for the trampoline's frames).
const STACK_SLACK: usize = 4096;

/// How the JIT compiles a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codegen {
    /// `compile_verified`, with the verifier's facts, no blinding.
    Verified,
    /// `compile_verified` with constant blinding from this seed (what the
    /// kernel does, with a fresh seed per handler).
    Blinded(u64),
    /// `compile`: no verifier facts (every division check emitted).
    NoFacts,
}

/// Every way the JIT compiles, for tests that try them all.
pub const CODEGENS: [Codegen; 3] = [
    Codegen::Verified,
    Codegen::Blinded(0x005e_ed0f_b11d),
    Codegen::NoFacts,
];

/// A helper fault without addresses (the engines place memory at
/// different addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    UnknownHelper(i32),
    Memory { len: usize, write: bool },
    BadArgument { id: i32, arg: u8 },
}

impl From<HelperFault> for Fault {
    fn from(f: HelperFault) -> Fault {
        match f {
            HelperFault::UnknownHelper(id) => Fault::UnknownHelper(id),
            HelperFault::Memory(m) => Fault::Memory {
                len: m.len,
                write: m.write,
            },
            HelperFault::BadArgument { id, arg } => Fault::BadArgument { id, arg },
        }
    }
}

/// What one run returned: the verdict (r0) or the fault that stopped it.
pub type Verdict = Result<u64, Fault>;

/// What runs have done so far, as the owner and the network see it.
pub struct Effects<'a> {
    pub regions: Vec<&'a [u8]>,
    pub counters: &'a [u64],
    pub env: &'a RecordingEnv,
}

/// The first way `a` and `b` differ, described briefly (regions can be
/// large), or `None`.
pub fn first_difference(a: &Effects<'_>, b: &Effects<'_>) -> Option<String> {
    if a.counters != b.counters {
        return Some(format!("counters {:?} vs {:?}", a.counters, b.counters));
    }
    if a.env.sent.len() != b.env.sent.len() {
        return Some(format!(
            "{} frames sent vs {}",
            a.env.sent.len(),
            b.env.sent.len()
        ));
    }
    for (i, (x, y)) in a.env.sent.iter().zip(&b.env.sent).enumerate() {
        if x != y {
            return Some(format!("sent frame {i}: {x:02x?} vs {y:02x?}"));
        }
    }
    if (a.env.wakeups, a.env.clock_ns) != (b.env.wakeups, b.env.clock_ns) {
        return Some(format!(
            "wake-ups/clock reads {}/{} vs {}/{}",
            a.env.wakeups, a.env.clock_ns, b.env.wakeups, b.env.clock_ns
        ));
    }
    if a.regions.len() != b.regions.len() {
        return Some(format!(
            "{} regions vs {}",
            a.regions.len(),
            b.regions.len()
        ));
    }
    for (id, (x, y)) in a.regions.iter().zip(&b.regions).enumerate() {
        // Equal slices compare with one `memcmp`; only a difference is
        // looked for byte by byte (that loop is slow in test builds).
        if x[..] == y[..] {
            continue;
        }
        if let Some(at) = x.iter().zip(y.iter()).position(|(p, q)| p != q) {
            return Some(format!(
                "region {id} differs first at byte {at}: {:#04x} vs {:#04x}",
                x[at], y[at]
            ));
        }
        if x.len() != y.len() {
            return Some(format!("region {id}: {} bytes vs {}", x.len(), y.len()));
        }
    }
    None
}

/// Counts the bytes written into each application region.
struct RegionWrites<'w>(&'w mut [u64]);

impl Observer for RegionWrites<'_> {
    fn on_access(&mut self, a: &Access) {
        if let (true, Some(RegionKind::App(id))) = (a.write, a.region)
            && let Some(n) = self.0.get_mut(id as usize)
        {
            *n += a.len as u64;
        }
    }
}

/// One interpreter run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterpRun {
    pub verdict: Verdict,
    /// Instructions executed (at most the verifier's bound, or the run is
    /// an error).
    pub executed: u64,
}

/// The reference interpreter with a binding's state.
pub struct Interp {
    interp: Interpreter,
    bound: u64,
    decls: Vec<RegionDecl>,
    regions: Vec<Vec<u8>>,
    counters: Vec<u64>,
    pub env: RecordingEnv,
    /// Bytes written into each region by all runs (program and helpers).
    pub written: Vec<u64>,
}

impl Interp {
    /// The interpreter for `h`, regions zeroed, counters 0.
    pub fn new(h: &Handler) -> Result<Interp, String> {
        let interp =
            Interpreter::new(&h.words).map_err(|(pc, e)| format!("interpreter: word {pc}: {e}"))?;
        Ok(Interp {
            interp,
            bound: h.verified.insn_bound,
            decls: h.spec.regions.clone(),
            regions: h
                .spec
                .regions
                .iter()
                .map(|d| vec![0; d.size as usize])
                .collect(),
            counters: vec![0; h.spec.counters as usize],
            env: RecordingEnv::default(),
            written: vec![0; h.spec.regions.len()],
        })
    }

    /// Sets the first bytes of region `id` (what the owner writes before
    /// binding).
    pub fn set_region(&mut self, id: usize, bytes: &[u8]) {
        self.regions[id][..bytes.len()].copy_from_slice(bytes);
    }

    /// Runs the handler on `frame` (at most 65,535 bytes). An error is a
    /// run a verified handler cannot have: a memory fault, a bad jump, or
    /// more instructions than the verifier proved.
    pub fn run(&mut self, frame: &[u8]) -> Result<InterpRun, String> {
        let bufs: Vec<(&mut [u8], bool)> = self
            .regions
            .iter_mut()
            .zip(&self.decls)
            .map(|(r, d)| (r.as_mut_slice(), d.writable))
            .collect();
        let mut setup = packet_memory(frame, IFINDEX, bufs);
        let mut writes = RegionWrites(&mut self.written);
        let opts = RunOptions {
            // One more than proven, so a broken bound shows as an error.
            budget: Some(self.bound.saturating_add(1)),
            observer: Some(&mut writes),
            ..RunOptions::default()
        };
        match run_packet(
            &self.interp,
            &mut setup,
            &mut self.counters,
            &mut self.env,
            opts,
        ) {
            Ok(o) if o.executed <= self.bound => Ok(InterpRun {
                verdict: Ok(o.r0),
                executed: o.executed,
            }),
            Ok(o) => Err(format!(
                "{} instructions executed, the verifier proved at most {}",
                o.executed, self.bound
            )),
            Err(e) => match e.kind {
                RunErrorKind::Helper(f) => Ok(InterpRun {
                    verdict: Err(f.into()),
                    executed: e.executed,
                }),
                _ => Err(format!(
                    "a verified handler failed in the interpreter: {e:?}"
                )),
            },
        }
    }

    pub fn effects(&self) -> Effects<'_> {
        Effects {
            regions: self.regions.iter().map(Vec::as_slice).collect(),
            counters: &self.counters,
            env: &self.env,
        }
    }
}

fn host_err(e: impl std::fmt::Display) -> String {
    format!("host: {e}")
}

/// A region's memory: 8-byte aligned (the verifier assumes it for
/// atomics), against the guard page after it when its size allows that
/// alignment, else against the one before it.
fn region_buf(d: &RegionDecl) -> Result<GuardedBuf, String> {
    let flush = if d.size.is_multiple_of(8) {
        Flush::End
    } else {
        Flush::Start
    };
    GuardedBuf::new(d.size as usize, flush).map_err(host_err)
}

/// A handler compiled by the JIT and placed in executable memory, with a
/// binding's state.
pub struct Jit {
    code: ExecBuffer,
    calls_helpers: bool,
    max_native_stack: usize,
    decls: Vec<RegionDecl>,
    regions: Vec<GuardedBuf>,
    counters: Vec<u64>,
    pub env: RecordingEnv,
    /// Bytes of machine code.
    pub code_bytes: usize,
}

impl Jit {
    /// Compiles `h` as `how` says and places it (W^X); regions zeroed,
    /// counters 0.
    pub fn new(h: &Handler, how: Codegen) -> Result<Jit, String> {
        let c = match how {
            Codegen::Verified => {
                compile_verified(&h.words, &h.verified, &CompileOptions::default())
            }
            Codegen::Blinded(seed) => compile_verified(
                &h.words,
                &h.verified,
                &CompileOptions {
                    blinding: Some(seed),
                },
            ),
            Codegen::NoFacts => compile(&h.words, &CompileOptions::default()),
        }
        .map_err(|e| format!("JIT ({how:?}): {e}"))?;
        let code = ExecBuffer::new(&c).map_err(host_err)?;
        let regions = h
            .spec
            .regions
            .iter()
            .map(region_buf)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Jit {
            code,
            calls_helpers: c.calls_helpers,
            max_native_stack: c.max_native_stack,
            decls: h.spec.regions.clone(),
            regions,
            counters: vec![0; h.spec.counters as usize],
            env: RecordingEnv::default(),
            code_bytes: c.code.len(),
        })
    }

    /// Sets the first bytes of region `id`.
    pub fn set_region(&mut self, id: usize, bytes: &[u8]) {
        self.regions[id].as_mut_slice()[..bytes.len()].copy_from_slice(bytes);
    }

    /// Runs the compiled handler on `frame` (at most 65,535 bytes); an
    /// error is a host failure (memory could not be mapped).
    pub fn run(&mut self, frame: &[u8]) -> Result<Verdict, String> {
        let len = u32::try_from(frame.len())
            .ok()
            .filter(|&l| u64::from(l) <= packet_ctx::MAX_PACKET_LEN)
            .ok_or_else(|| format!("a {}-byte frame is longer than a context says", frame.len()))?;
        let pkt = GuardedBuf::from_slice(frame, Flush::End).map_err(host_err)?;
        let mut ctx = GuardedBuf::new(packet_ctx::SIZE, Flush::End).map_err(host_err)?;
        let data = pkt.addr();
        let c = ctx.as_mut_slice();
        c[0..8].copy_from_slice(&data.to_le_bytes());
        c[8..16].copy_from_slice(&(data + u64::from(len)).to_le_bytes());
        c[16..20].copy_from_slice(&len.to_le_bytes());
        c[20..24].copy_from_slice(&IFINDEX.to_le_bytes());
        if !self.calls_helpers {
            // SAFETY: the code is the JIT's output for a program the
            // verifier accepted as `packet` (`Handler` holds only such),
            // placed by `ExecBuffer`; r1 points to a context describing
            // `pkt`, and both stay alive and untouched for the call; the
            // code calls no helpers, so it never reads its third argument.
            let r0 = unsafe { runtime::call_without_helpers(self.code.entry(), ctx.addr(), 0) };
            return Ok(Ok(r0));
        }
        let bindings: Vec<RegionBinding> = self
            .regions
            .iter()
            .zip(&self.decls)
            .map(|(r, d)| RegionBinding {
                base: r.addr(),
                size: d.size,
                writable: d.writable,
            })
            .collect();
        // Helper pointer arguments may point into the handler's stack
        // frames, which lie just below this function's frame.
        let marker = 0u8;
        let top = core::ptr::addr_of!(marker) as u64;
        let stack_len = self.max_native_stack + STACK_SLACK;
        let mut areas = vec![
            pkt.region(false),
            ctx.region(false),
            Region {
                start: top - stack_len as u64,
                len: stack_len,
                writable: false,
            },
        ];
        areas.extend(
            self.regions
                .iter()
                .zip(&self.decls)
                .map(|(r, d)| r.region(d.writable)),
        );
        let mut helpers = AshHelpers {
            regions: &bindings,
            packet: PacketBinding { addr: data, len },
            counters: &mut self.counters,
            env: &mut self.env,
        };
        // SAFETY: every area is alive for the call: the frame and context
        // buffers are locals, the regions are owned by `self` and not
        // otherwise accessed while the handler runs, and the stack window
        // lies below this frame, where only the call's frames live (it is
        // read-only to helpers).
        let mut mem = unsafe { RegionMemory::new(&areas) };
        // SAFETY: as for `call_without_helpers` above; the helpers and the
        // memory describe exactly the regions the verifier was told about.
        let r = unsafe { self.code.call(ctx.addr(), 0, &mut helpers, &mut mem) };
        Ok(r.map_err(Fault::from))
    }

    pub fn effects(&self) -> Effects<'_> {
        Effects {
            regions: self.regions.iter().map(GuardedBuf::as_slice).collect(),
            counters: &self.counters,
            env: &self.env,
        }
    }
}

/// The interpreter's state and runs after [`lockstep`].
pub struct Lockstep {
    pub interp: Interp,
    /// One run per frame.
    pub runs: Vec<InterpRun>,
}

/// Runs `frames` in order through the interpreter and through the JIT
/// compiled every way ([`CODEGENS`]), each engine with its own state
/// (regions first set from `init`, sends refused when `fail_sends`), and
/// demands after every frame the same verdict, a verdict of 0 or 1 (what
/// the verifier proved for `packet` programs), and the same effects.
pub fn lockstep(
    h: &Handler,
    init: &[(usize, Vec<u8>)],
    frames: &[Vec<u8>],
    fail_sends: bool,
) -> Result<Lockstep, String> {
    use filter_lang::bpf::ash::SendError;
    let refuse = fail_sends.then_some(SendError::QueueFull);
    let mut interp = Interp::new(h)?;
    interp.env.fail_sends = refuse;
    let mut jits = Vec::with_capacity(CODEGENS.len());
    for how in CODEGENS {
        let mut j = Jit::new(h, how)?;
        j.env.fail_sends = refuse;
        jits.push((how, j));
    }
    for (id, bytes) in init {
        interp.set_region(*id, bytes);
        for (_, j) in &mut jits {
            j.set_region(*id, bytes);
        }
    }
    let mut runs = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        let at = |e: String| format!("frame {i} ({} bytes {:02x?}): {e}", f.len(), f);
        let r = interp.run(f).map_err(at)?;
        if let Ok(v) = r.verdict
            && v > 1
        {
            return Err(at(format!("verdict {v} from a verified packet program")));
        }
        for (how, j) in &mut jits {
            let v = j.run(f).map_err(at)?;
            if v != r.verdict {
                return Err(at(format!(
                    "JIT ({how:?}) returned {v:?}, the interpreter {:?}",
                    r.verdict
                )));
            }
            if let Some(d) = first_difference(&interp.effects(), &j.effects()) {
                return Err(at(format!("JIT ({how:?}) and interpreter differ: {d}")));
            }
        }
        runs.push(r);
    }
    Ok(Lockstep { interp, runs })
}
