//! Environments and the exokernel's state: who owns which frame, which
//! capabilities were granted, which time slices exist, and what every
//! environment is doing.
//!
//! All of it lives in one [`Kernel`] behind one lock ([`with_kernel`]): the
//! kernel runs on one CPU with interrupts off, so the lock is never
//! contended; it exists so that interrupt-time code can detect misuse. The
//! lock is never held while an environment runs, while the kernel idles, or
//! across `irq::poll`; interrupt handlers must not take it (they use
//! [`wake::wake`], which is lock-free).
//!
//! Files: `environment.rs` (one environment), `table.rs` (ids and slots),
//! `lifecycle.rs` (spawn, exit, kill: every resource returns),
//! `loader.rs` (ELF images into a fresh address space), `memory.rs`
//! (secure bindings of frames: allocation by name, capabilities, mapping),
//! `grants.rs`, `upcall.rs` (pushing upcall frames), `exception.rs`
//! (exceptions straight to the environment), `revocation.rs` (visible
//! revocation of memory and repossession), `exports.rs` (the read-only
//! pages), `wake.rs`.

pub mod boot;
pub mod environment;
pub mod exception;
pub mod exports;
pub mod grants;
pub mod lifecycle;
pub mod loader;
pub mod memory;
pub mod revocation;
pub mod table;
pub mod upcall;
pub mod wake;

use spin::Mutex;

pub use environment::{Env, ExitStatus, KillReason, RunState};
pub use exo_abi::EnvId;

use crate::sched::Scheduler;

/// The exokernel's state.
pub struct Kernel {
    pub envs: table::EnvTable,
    pub grants: grants::Grants,
    pub sched: Scheduler,
    pub exports: exports::Exports,
    pub exits: table::ExitLog,
    /// PML4 of the kernel's own address space (copied into every space).
    pub kernel_pml4: u64,
}

static KERNEL: Mutex<Option<Kernel>> = Mutex::new(None);

/// Errors setting up the environment layer.
#[derive(Clone, Copy, Debug)]
pub enum InitError {
    Paging(crate::arch::paging::PagingError),
    Frame(crate::mm::frame::FrameError),
}

impl core::fmt::Display for InitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Paging(e) => write!(f, "environment page tables: {e}"),
            Self::Frame(e) => write!(f, "environment exports: {e}"),
        }
    }
}

/// Builds the kernel state: export pages, shared export tables, and the
/// next-level tables of every kernel PML4 slot (so that every address
/// space sees kernel mappings added later). Call once after `mm::init` and
/// `time::init`.
pub fn init() -> Result<(), InitError> {
    use crate::arch::layout::{
        CODE_BASE, HEAP_BASE, KERNEL_BASE, NET_WINDOW_BASE, PHYSMAP_BASE, STACKS_BASE,
    };
    let kernel_pml4 =
        crate::arch::paging::with_kernel_space(|k| k.pml4_phys()).map_err(InitError::Paging)?;
    // Compiled handlers and their windows run from deferred work while an
    // environment's space may be active: their slots must exist in every
    // space from the start.
    let slots = [
        PHYSMAP_BASE,
        HEAP_BASE,
        CODE_BASE,
        NET_WINDOW_BASE,
        STACKS_BASE,
        KERNEL_BASE,
    ]
    .map(|a| ((a >> 39) & 0x1FF) as usize);
    let mut tables = kernel_table_frame;
    crate::arch::user_space::prepare_kernel_slots(kernel_pml4, &slots, &mut tables)
        .map_err(InitError::Paging)?;
    let exports = exports::Exports::new()?;
    let kernel = Kernel {
        envs: table::EnvTable::new(),
        grants: grants::Grants::default(),
        sched: Scheduler::new(),
        exports,
        exits: table::ExitLog::default(),
        kernel_pml4,
    };
    *KERNEL.lock() = Some(kernel);
    crate::net::hooks::set_hooks(&NetHooks);
    Ok(())
}

/// What the network path asks of environments (lock-free: it may ask with
/// its own locks held or from interrupt context).
struct NetHooks;

impl crate::net::hooks::EnvHooks for NetHooks {
    fn wake(&self, owner: crate::net::hooks::OwnerId) {
        wake::wake(EnvId(owner.0));
    }

    fn owner_alive(&self, owner: crate::net::hooks::OwnerId) -> bool {
        owner == crate::net::hooks::KERNEL_OWNER || table::is_alive(EnvId(owner.0))
    }
}

/// A zeroed frame for kernel page tables.
fn kernel_table_frame() -> Option<u64> {
    crate::mm::frame::alloc(crate::mm::frame::FrameUse::PageTable)
        .ok()
        .map(|f| f.phys())
}

/// Runs `f` on the kernel state. Panics before [`init`].
pub fn with_kernel<R>(f: impl FnOnce(&mut Kernel) -> R) -> R {
    let mut guard = KERNEL.lock();
    let k = guard
        .as_mut()
        .expect("env::init has not run (environments used before boot finished)");
    f(k)
}

/// Whether [`init`] has run.
pub fn initialized() -> bool {
    KERNEL.lock().is_some()
}
