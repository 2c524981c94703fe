//! The second handler engine: WebAssembly modules run by `wasmi` with fuel
//! metering, for handlers the BPF verifier cannot prove (an unbounded
//! loop becomes fuel exhaustion, a handler fault).
//!
//! The handler ABI (`docs/NET.md`, "WebAssembly handlers"):
//!
//! * exports `memory` (at least one 64 KiB page) and `handle(len: i32) ->
//!   i32`; imports only the helper functions of module `exo` below;
//! * before each run the kernel copies the frame to linear memory offset
//!   0 ([`PACKET_AREA`] bytes are reserved there) and calls `handle(len)`;
//!   the result is the verdict: 0 consume, 1 deliver, anything else a
//!   fault;
//! * helpers are `AshHelpers`, the one definition every engine uses,
//!   imported with every argument and result as `i64`; pointer arguments
//!   are *helper addresses*: a linear-memory offset, [`PACKET_ADDR`] + k
//!   for byte k of the original (unmodified) frame, or what `region_ptr`
//!   returns ([`region_addr`]) plus an offset;
//! * a run gets the binding's fuel; running out, a trap, a helper fault or
//!   a bad verdict is a handler fault: counted, and the frame is dropped.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use filter_lang::bpf::ash::{AshEnv, AshHelpers, PacketBinding, RegionBinding, id};
use filter_lang::bpf::helpers::{HelperFault, HelperMemory, HelperOutcome, Helpers, MemFault};
use spin::Once;
use wasmi::{
    Caller, Config, Engine, Extern, Instance, Linker, Memory, Module, Store, StoreLimits,
    StoreLimitsBuilder, TypedFunc,
};

use super::handler::HandlerFault;
use super::regions::RegionMem;

/// Linear-memory bytes at offset 0 that the kernel overwrites with the
/// frame before each run.
pub const PACKET_AREA: usize = 2048;
/// Helper address of the first byte of the original frame.
pub const PACKET_ADDR: u64 = 1 << 40;
/// Most linear memory a handler may grow to.
pub const MAX_MEMORY: usize = 4 << 20;
/// Name of the import module.
pub const IMPORT_MODULE: &str = "exo";

/// Helper address of region `id`'s first byte.
pub const fn region_addr(id: usize) -> u64 {
    (2 + id as u64) << 40
}

/// Why a module was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WasmError {
    /// wasmi refused to decode, validate or translate it.
    Invalid(String),
    /// Instantiation failed: an import the kernel does not provide (or with
    /// the wrong type), or the start function trapped or ran out of fuel.
    Instantiate(String),
    /// No exported `memory`, or smaller than [`PACKET_AREA`].
    NoMemory,
    /// No exported `handle: (i32) -> i32`.
    NoEntry(String),
    /// Fuel of 0 or above the ABI's maximum.
    BadFuel(u64),
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "invalid module: {e}"),
            Self::Instantiate(e) => write!(f, "cannot instantiate: {e}"),
            Self::NoMemory => write!(
                f,
                "the module must export `memory` with at least one 64 KiB page"
            ),
            Self::NoEntry(e) => write!(f, "the module must export `handle: (i32) -> i32`: {e}"),
            Self::BadFuel(n) => write!(
                f,
                "fuel {n} per run: give 1..={} (0 in the request means the default)",
                exo_abi::net::MAX_FUEL
            ),
        }
    }
}

/// The engine every handler shares (fuel metering on).
fn engine() -> &'static Engine {
    static ENGINE: Once<Engine> = Once::new();
    ENGINE.call_once(|| {
        let mut config = Config::default();
        config.consume_fuel(true);
        Engine::new(&config)
    })
}

/// The environment of the run in progress: set by [`WasmHandler::run`]
/// just before it calls into the module and cleared right after.
struct EnvSlot(Option<*mut (dyn AshEnv + 'static)>);

// SAFETY: the pointer is only set for the duration of one synchronous call
// on this CPU (the kernel runs on one CPU with interrupts off), and only
// dereferenced by host functions during that call.
unsafe impl Send for EnvSlot {}
// SAFETY: as above; no two contexts ever see the slot at once.
unsafe impl Sync for EnvSlot {}

/// What the module's store holds: everything the helpers reach.
struct HostData {
    env: EnvSlot,
    /// The frame being handled (read-only to helpers at `PACKET_ADDR`).
    frame: Vec<u8>,
    regions: Vec<RegionMem>,
    /// The regions as `AshHelpers` sees them (helper addresses).
    bindings: Vec<RegionBinding>,
    counters: Vec<u64>,
    memory: Option<Memory>,
    /// The helper fault that stopped the run.
    fault: Option<HelperFault>,
    limits: StoreLimits,
}

/// Helper memory of one call: linear memory, the frame, the regions.
struct WasmMemory<'a> {
    linear: &'a mut [u8],
    frame: &'a [u8],
    regions: &'a mut [RegionMem],
}

/// `[addr, addr + len)` inside `[base, base + size)`: the offset.
fn within(addr: u64, len: usize, base: u64, size: usize) -> Option<usize> {
    let off = addr.checked_sub(base)?;
    let end = off.checked_add(len as u64)?;
    (end <= size as u64).then_some(off as usize)
}

impl HelperMemory for WasmMemory<'_> {
    fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), MemFault> {
        let fault = MemFault {
            addr,
            len: out.len(),
            write: false,
        };
        let src = if let Some(o) = within(addr, out.len(), 0, self.linear.len()) {
            &self.linear[o..]
        } else if let Some(o) = within(addr, out.len(), PACKET_ADDR, self.frame.len()) {
            &self.frame[o..]
        } else {
            let (i, o) = self
                .regions
                .iter()
                .enumerate()
                .find_map(|(i, r)| {
                    within(addr, out.len(), region_addr(i), r.decl.size as usize).map(|o| (i, o))
                })
                .ok_or(fault)?;
            &self.regions[i].bytes()[o..]
        };
        out.copy_from_slice(&src[..out.len()]);
        Ok(())
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        let fault = MemFault {
            addr,
            len: data.len(),
            write: true,
        };
        if let Some(o) = within(addr, data.len(), 0, self.linear.len()) {
            self.linear[o..o + data.len()].copy_from_slice(data);
            return Ok(());
        }
        let (i, o) = self
            .regions
            .iter()
            .enumerate()
            .find_map(|(i, r)| {
                let ok = r.decl.writable;
                within(addr, data.len(), region_addr(i), r.decl.size as usize)
                    .filter(|_| ok)
                    .map(|o| (i, o))
            })
            .ok_or(fault)?;
        self.regions[i].bytes_mut()[o..o + data.len()].copy_from_slice(data);
        Ok(())
    }
}

/// Runs helper `helper` for the module with `args`.
fn call_helper(
    mut caller: Caller<'_, HostData>,
    helper: i32,
    args: [u64; 5],
) -> Result<i64, wasmi::Error> {
    let Some(memory) = caller.data().memory else {
        return Err(wasmi::Error::new(
            "helper called before the module was set up",
        ));
    };
    let (linear, data) = memory.data_and_store_mut(&mut caller);
    let Some(env) = data.env.0 else {
        return Err(wasmi::Error::new("helper called outside a handler run"));
    };
    // SAFETY: `env` was set by `WasmHandler::run` from a `&mut dyn AshEnv`
    // it holds exclusively for the whole call, during which this host
    // function runs; nothing else uses that reference meanwhile.
    let env = unsafe { &mut *env };
    let mut mem = WasmMemory {
        linear,
        frame: &data.frame,
        regions: &mut data.regions,
    };
    let mut helpers = AshHelpers {
        regions: &data.bindings,
        packet: PacketBinding {
            addr: PACKET_ADDR,
            len: data.frame.len() as u32,
        },
        counters: &mut data.counters,
        env,
    };
    match helpers.call(helper, args, &mut mem) {
        HelperOutcome::Return(v) => Ok(v as i64),
        HelperOutcome::Exit(_) => {
            data.fault = Some(HelperFault::UnknownHelper(helper));
            Err(wasmi::Error::new("helper asked to exit"))
        }
        HelperOutcome::Fault(f) => {
            data.fault = Some(f);
            Err(wasmi::Error::new("helper fault"))
        }
    }
}

/// Defines every ASH helper as an import of module `exo`.
fn linker() -> Result<Linker<HostData>, wasmi::Error> {
    let mut l = Linker::<HostData>::new(engine());
    let m = IMPORT_MODULE;
    let a = |x: i64| x as u64;
    l.func_wrap(m, "ktime_ns", |c: Caller<'_, HostData>| {
        call_helper(c, id::KTIME_NS, [0; 5])
    })?;
    l.func_wrap(
        m,
        "counter_add",
        move |c: Caller<'_, HostData>, i: i64, d: i64| {
            call_helper(c, id::COUNTER_ADD, [a(i), a(d), 0, 0, 0])
        },
    )?;
    l.func_wrap(m, "region_ptr", move |c: Caller<'_, HostData>, i: i64| {
        call_helper(c, id::REGION_PTR, [a(i), 0, 0, 0, 0])
    })?;
    l.func_wrap(
        m,
        "copy_to_region",
        move |c: Caller<'_, HostData>, i: i64, ro: i64, po: i64, n: i64| {
            call_helper(c, id::COPY_TO_REGION, [a(i), a(ro), a(po), a(n), 0])
        },
    )?;
    l.func_wrap(
        m,
        "copy_to_region_csum",
        move |c: Caller<'_, HostData>, i: i64, ro: i64, po: i64, n: i64, s: i64| {
            call_helper(c, id::COPY_TO_REGION_CSUM, [a(i), a(ro), a(po), a(n), a(s)])
        },
    )?;
    l.func_wrap(
        m,
        "send_frame",
        move |c: Caller<'_, HostData>, b: i64, n: i64| {
            call_helper(c, id::SEND_FRAME, [a(b), a(n), 0, 0, 0])
        },
    )?;
    l.func_wrap(m, "wake_owner", |c: Caller<'_, HostData>| {
        call_helper(c, id::WAKE_OWNER, [0; 5])
    })?;
    l.func_wrap(
        m,
        "checksum",
        move |c: Caller<'_, HostData>, b: i64, n: i64, s: i64| {
            call_helper(c, id::CHECKSUM, [a(b), a(n), a(s), 0, 0])
        },
    )?;
    Ok(l)
}

/// A loaded WebAssembly handler: its store (instance, linear memory,
/// regions, counters) and entry.
pub struct WasmHandler {
    store: Store<HostData>,
    handle: TypedFunc<i32, i32>,
    memory: Memory,
    fuel: u64,
    module_bytes: usize,
}

impl WasmHandler {
    /// Validates and instantiates `module` (its start function runs with
    /// `fuel`), checks its exports, and binds `regions` and `counters`.
    pub fn load(
        module: &[u8],
        regions: Vec<RegionMem>,
        counters: u32,
        fuel: u64,
    ) -> Result<WasmHandler, WasmError> {
        if fuel == 0 || fuel > exo_abi::net::MAX_FUEL {
            return Err(WasmError::BadFuel(fuel));
        }
        let compiled =
            Module::new(engine(), module).map_err(|e| WasmError::Invalid(e.to_string()))?;
        let bindings = regions
            .iter()
            .enumerate()
            .map(|(i, r)| RegionBinding {
                base: region_addr(i),
                size: r.decl.size,
                writable: r.decl.writable,
            })
            .collect();
        let data = HostData {
            env: EnvSlot(None),
            frame: Vec::with_capacity(exo_abi::net::MAX_TX_FRAME as usize),
            regions,
            bindings,
            counters: alloc::vec![0; counters as usize],
            memory: None,
            fault: None,
            limits: StoreLimitsBuilder::new()
                .memory_size(MAX_MEMORY)
                .memories(1)
                .tables(4)
                .instances(1)
                .build(),
        };
        let mut store = Store::new(engine(), data);
        store.limiter(|d| &mut d.limits);
        store
            .set_fuel(fuel)
            .map_err(|e| WasmError::Instantiate(e.to_string()))?;
        let linker = linker().map_err(|e| WasmError::Instantiate(e.to_string()))?;
        let instance: Instance = linker
            .instantiate_and_start(&mut store, &compiled)
            .map_err(|e| WasmError::Instantiate(e.to_string()))?;
        let memory = match instance.get_export(&store, "memory") {
            Some(Extern::Memory(m)) if m.data_size(&store) >= PACKET_AREA => m,
            _ => return Err(WasmError::NoMemory),
        };
        let handle = instance
            .get_typed_func::<i32, i32>(&store, "handle")
            .map_err(|e| WasmError::NoEntry(e.to_string()))?;
        store.data_mut().memory = Some(memory);
        Ok(WasmHandler {
            store,
            handle,
            memory,
            fuel,
            module_bytes: module.len(),
        })
    }

    /// Runs the handler on `frame` with a full tank of fuel.
    pub fn run(&mut self, frame: &[u8], env: &mut dyn AshEnv) -> Result<u64, HandlerFault> {
        let len = frame.len().min(PACKET_AREA);
        {
            let (linear, data) = self.memory.data_and_store_mut(&mut self.store);
            // The memory never shrinks below the checked minimum.
            linear[..len].copy_from_slice(&frame[..len]);
            data.frame.clear();
            data.frame.extend_from_slice(frame);
            data.fault = None;
            let env: *mut (dyn AshEnv + '_) = env;
            // SAFETY: only the lifetime bound of the trait object changes
            // (same layout); the pointer is cleared below, before `env`'s
            // borrow ends, and used only during the call (see `EnvSlot`).
            data.env.0 = Some(unsafe {
                core::mem::transmute::<*mut (dyn AshEnv + '_), *mut (dyn AshEnv + 'static)>(env)
            });
        }
        self.store
            .set_fuel(self.fuel)
            .map_err(|e| HandlerFault::Trap(e.to_string()))?;
        let result = self.handle.call(&mut self.store, len as i32);
        let data = self.store.data_mut();
        data.env.0 = None;
        match result {
            Ok(v @ (0 | 1)) => Ok(v as u64),
            Ok(v) => Err(HandlerFault::BadVerdict(i64::from(v))),
            Err(e) => Err(match (data.fault.take(), e.as_trap_code()) {
                (Some(f), _) => HandlerFault::Helper(f),
                (None, Some(wasmi::TrapCode::OutOfFuel)) => HandlerFault::OutOfFuel,
                (None, _) => HandlerFault::Trap(e.to_string()),
            }),
        }
    }

    pub fn counters(&self) -> &[u64] {
        &self.store.data().counters
    }

    pub fn region_bytes(&self, id: usize) -> Option<&[u8]> {
        self.store.data().regions.get(id).map(RegionMem::bytes)
    }

    pub fn fuel(&self) -> u64 {
        self.fuel
    }

    pub fn module_bytes(&self) -> usize {
        self.module_bytes
    }
}
