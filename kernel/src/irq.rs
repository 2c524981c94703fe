//! Device interrupts: a handler table indexed by vector, deferred work run
//! at safe points, and the idle/poll primitives.
//!
//! The kernel runs with interrupts disabled. Interrupts are taken only in
//! `idle()` (`sti; hlt; cli`) and `poll()` (`sti; nop; cli`), and while an
//! environment runs in ring 3; after an interrupt from ring 3 the kernel
//! loop runs pending deferred work before resuming environments. Handlers run in interrupt context on the IRQ IST stack with
//! interrupts off: they must be short, must not take locks the interrupted
//! code may hold, and should push real work to a deferred slot with
//! [`schedule`]; [`run_deferred`] runs it at the next safe point.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::arch;

/// An interrupt handler: receives its vector.
pub type Handler = fn(u8);
/// Deferred work.
pub type Work = fn();

static HANDLERS: [AtomicUsize; 256] = [const { AtomicUsize::new(0) }; 256];
static UNHANDLED: AtomicU64 = AtomicU64::new(0);

/// Deferred-work slots.
pub const MAX_DEFERRED: usize = 64;
static DEFERRED: [AtomicUsize; MAX_DEFERRED] = [const { AtomicUsize::new(0) }; MAX_DEFERRED];
static PENDING: AtomicU64 = AtomicU64::new(0);

/// Errors registering interrupt handlers or deferred work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqError {
    /// Exceptions (0-31) and the spurious vector cannot take handlers.
    ReservedVector(u8),
    AlreadyRegistered(u8),
    /// Every device vector has a handler.
    NoFreeVector,
    NoDeferredSlot,
}

impl core::fmt::Display for IrqError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::ReservedVector(v) => {
                write!(f, "vector {v:#x} is reserved (exception or spurious)")
            }
            Self::AlreadyRegistered(v) => write!(f, "vector {v:#x} already has a handler"),
            Self::NoFreeVector => write!(f, "all device interrupt vectors are taken"),
            Self::NoDeferredSlot => write!(f, "all {MAX_DEFERRED} deferred-work slots are taken"),
        }
    }
}

/// Installs `handler` for `vector`.
pub fn register(vector: u8, handler: Handler) -> Result<(), IrqError> {
    if vector < 32 || vector == arch::trap::SPURIOUS_VECTOR {
        return Err(IrqError::ReservedVector(vector));
    }
    HANDLERS[usize::from(vector)]
        .compare_exchange(0, handler as usize, Ordering::AcqRel, Ordering::Acquire)
        .map(|_| ())
        .map_err(|_| IrqError::AlreadyRegistered(vector))
}

/// Installs `handler` on a free device vector (for drivers that program
/// MSI/MSI-X or an I/O APIC entry themselves) and returns the vector.
pub fn register_any(handler: Handler) -> Result<u8, IrqError> {
    (arch::FIRST_DEVICE_VECTOR..arch::DEVICE_VECTOR_END)
        .find(|&v| register(v, handler).is_ok())
        .ok_or(IrqError::NoFreeVector)
}

/// Removes the handler of `vector`.
pub fn unregister(vector: u8) {
    HANDLERS[usize::from(vector)].store(0, Ordering::Release);
}

/// Called by the architecture's interrupt entry (interrupts disabled).
pub fn dispatch(vector: u8) {
    let raw = HANDLERS[usize::from(vector)].load(Ordering::Acquire);
    if raw == 0 {
        UNHANDLED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    // SAFETY: non-zero entries are only ever stored by `register`, from a
    // valid `Handler` function pointer.
    let handler: Handler = unsafe { core::mem::transmute::<usize, Handler>(raw) };
    handler(vector);
}

/// Interrupts that arrived on vectors without a handler.
pub fn unhandled_count() -> u64 {
    UNHANDLED.load(Ordering::Relaxed)
}

/// Reserves a deferred-work slot running `work`; returns its id.
pub fn register_deferred(work: Work) -> Result<usize, IrqError> {
    DEFERRED
        .iter()
        .position(|slot| {
            slot.compare_exchange(0, work as usize, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
        .ok_or(IrqError::NoDeferredSlot)
}

/// Releases a deferred-work slot.
pub fn unregister_deferred(id: usize) {
    if let Some(slot) = DEFERRED.get(id) {
        slot.store(0, Ordering::Release);
        PENDING.fetch_and(!(1 << id), Ordering::AcqRel);
    }
}

/// Marks deferred work `id` as pending (safe from interrupt context).
pub fn schedule(id: usize) {
    if id < MAX_DEFERRED {
        PENDING.fetch_or(1 << id, Ordering::AcqRel);
    }
}

/// Whether deferred work is waiting for the next safe point.
pub fn deferred_pending() -> bool {
    PENDING.load(Ordering::Acquire) != 0
}

/// Runs all pending deferred work (not from interrupt context).
pub fn run_deferred() {
    loop {
        let pending = PENDING.swap(0, Ordering::AcqRel);
        if pending == 0 {
            return;
        }
        for (id, slot) in DEFERRED.iter().enumerate() {
            if pending & (1 << id) == 0 {
                continue;
            }
            let raw = slot.load(Ordering::Acquire);
            if raw != 0 {
                // SAFETY: non-zero slots hold a `Work` pointer stored by
                // `register_deferred`.
                let work: Work = unsafe { core::mem::transmute::<usize, Work>(raw) };
                work();
            }
        }
    }
}

/// Sleeps until the next interrupt, handles it, then runs deferred work.
pub fn idle() {
    arch::cpu::idle_once();
    run_deferred();
}

/// Takes already pending interrupts without sleeping, then runs deferred work.
pub fn poll() {
    arch::cpu::poll_interrupts();
    run_deferred();
}

#[cfg(feature = "qemu-tests")]
static TEST_COUNTER: AtomicU64 = AtomicU64::new(0);

crate::kernel_test! {
    fn deferred_work_runs_once_per_schedule() {
        fn bump() {
            TEST_COUNTER.fetch_add(1, Ordering::Relaxed);
        }
        let id = register_deferred(bump)?;
        let before = TEST_COUNTER.load(Ordering::Relaxed);
        schedule(id);
        schedule(id);
        poll();
        ensure_eq!(TEST_COUNTER.load(Ordering::Relaxed), before + 1);
        poll();
        ensure_eq!(TEST_COUNTER.load(Ordering::Relaxed), before + 1);
        unregister_deferred(id);
        ensure!(!arch::cpu::interrupts_enabled(), "poll left interrupts enabled");
        Ok(())
    }
}

crate::kernel_test! {
    fn exception_vectors_cannot_take_handlers() {
        fn nothing(_: u8) {}
        ensure_eq!(register(14, nothing), Err(IrqError::ReservedVector(14)));
        ensure_eq!(register(0xFF, nothing), Err(IrqError::ReservedVector(0xFF)));
        ensure_eq!(register(arch::TIMER_VECTOR, nothing), Err(IrqError::AlreadyRegistered(arch::TIMER_VECTOR)));
        Ok(())
    }
}

crate::kernel_test! {
    fn device_vectors_are_handed_out_once() {
        fn nothing(_: u8) {}
        let a = register_any(nothing)?;
        let b = register_any(nothing)?;
        ensure!(a != b, "vector {a:#x} handed out twice");
        ensure!((arch::FIRST_DEVICE_VECTOR..arch::DEVICE_VECTOR_END).contains(&a), "vector {a:#x} outside the device range");
        ensure_eq!(register(a, nothing), Err(IrqError::AlreadyRegistered(a)));
        unregister(a);
        unregister(b);
        ensure_eq!(register_any(nothing)?, a);
        unregister(a);
        Ok(())
    }
}
