//! Runtime start-up and the library OS's global state: the virtual-memory
//! manager, the upcall stack, the upcall registration, and the default
//! revocation and repossession handlers.
//!
//! Upcalls can arrive while the program's own code holds the VM lock (a
//! signal-handler situation): handlers only `try_lock`; a revocation that
//! finds the VM busy is remembered and carried out when the program's code
//! releases the lock (well before any sensible deadline).

use core::sync::atomic::{AtomicU64, Ordering};

use exo_abi::private::RepossessedKind;
use exo_abi::{Error, MapFlags, UpcallKinds};
use spin::Mutex;

use crate::vm::{KernelMmu, PageClass};
use crate::{api, export, upcall};

/// Base of the range the VM hands out.
pub const VM_BASE: u64 = 0x0000_1000_0000_0000;
/// End of that range.
pub const VM_END: u64 = 0x0000_5000_0000_0000;
/// Pages of the upcall stack.
pub const UPCALL_STACK_PAGES: usize = 16;

/// The VM type of this runtime: 1024 pages, 32 cached frames.
pub type Vm = crate::vm::Vm<1024, 32>;

static VM: Mutex<Vm> = Mutex::new(Vm::new(VM_BASE, VM_END));
static UPCALL_STACK: AtomicU64 = AtomicU64::new(0);
/// Frames a revocation asked for while the VM was busy.
static DEFERRED_GIVE_BACK: AtomicU64 = AtomicU64::new(0);
/// Frames given back on request, and repossession entries seen.
static GIVEN_BACK: AtomicU64 = AtomicU64::new(0);
static REPOSSESSIONS_SEEN: AtomicU64 = AtomicU64::new(0);

/// Runs `f` on the VM (program code, not handlers).
pub fn with_vm<R>(f: impl FnOnce(&mut Vm, &mut KernelMmu) -> R) -> R {
    let r = {
        let mut vm = VM.lock();
        f(&mut vm, &mut KernelMmu)
    };
    let owed = DEFERRED_GIVE_BACK.swap(0, Ordering::AcqRel);
    if owed > 0 {
        give_back(owed);
    }
    r
}

fn give_back(n: u64) {
    match VM.try_lock() {
        Some(mut vm) => {
            let done = vm.give_back(&mut KernelMmu, n as usize);
            GIVEN_BACK.fetch_add(done as u64, Ordering::Relaxed);
        }
        None => {
            DEFERRED_GIVE_BACK.fetch_add(n, Ordering::AcqRel);
        }
    }
}

/// Sets up the runtime: maps the upcall stack and declares the upcall entry.
pub fn init() -> Result<(), Error> {
    let lo =
        with_vm(|vm, mmu| vm.alloc(mmu, UPCALL_STACK_PAGES, MapFlags::WRITE, PageClass::Pinned))?;
    UPCALL_STACK.store(lo, Ordering::Release);
    refresh_upcalls()
}

/// (Re)declares the upcall entry with the kinds this program handles (all
/// but protected control transfers unless a handler accepts them).
pub fn refresh_upcalls() -> Result<(), Error> {
    let lo = UPCALL_STACK.load(Ordering::Acquire);
    if lo == 0 {
        return Err(Error::InvalidArgument);
    }
    let mut kinds = UpcallKinds::EXCEPTION
        | UpcallKinds::SLICE_END
        | UpcallKinds::REVOCATION
        | UpcallKinds::REPOSSESSION;
    if upcall::accepts_pct() {
        kinds |= UpcallKinds::PCT;
    }
    let hi = lo + (UPCALL_STACK_PAGES as u64) * 4096;
    // SAFETY: the entry is this library's trampoline, and the stack is a
    // pinned VM range that nothing else uses (allocated in `init`).
    unsafe { api::upcall_register(upcall::entry_point(), lo, hi, kinds) }
}

/// Default revocation handler: give back what is asked, the VM choosing
/// which frames (cache first, then reclaimable pages).
pub fn on_revocation(frames: u64, _deadline_ns: u64, _emergency: bool) {
    give_back(frames);
}

/// Default repossession handler: forget the frames the kernel took.
pub fn on_repossession(total: u64, new: u64) {
    for n in total.saturating_sub(new)..total {
        let Some(e) = export::repossession(n) else {
            continue;
        };
        if RepossessedKind::from_u32(e.kind) == Some(RepossessedKind::Frame)
            && let Some(mut vm) = VM.try_lock()
        {
            vm.forget_frame(e.resource);
        }
    }
    REPOSSESSIONS_SEEN.store(total, Ordering::Relaxed);
}

/// The upcall stack `[lo, hi)` (0, 0 before `init`).
pub fn upcall_stack() -> (u64, u64) {
    let lo = UPCALL_STACK.load(Ordering::Acquire);
    if lo == 0 {
        return (0, 0);
    }
    (lo, lo + (UPCALL_STACK_PAGES as u64) * 4096)
}

/// Frames given back on request so far.
pub fn given_back() -> u64 {
    GIVEN_BACK.load(Ordering::Relaxed)
}

/// Repossession entries the default handler has seen.
pub fn repossessions_seen() -> u64 {
    REPOSSESSIONS_SEEN.load(Ordering::Relaxed)
}
