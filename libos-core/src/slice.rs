//! The end-of-slice handler (visible revocation of the CPU). The upcall
//! entry has already saved the interrupted registers and FPU state on the
//! upcall stack; the default handler just yields, and when the environment
//! runs again the entry restores that state and resumes in user mode. The
//! kernel gives the handler `KernelInfo::slice_budget_ns`.

use core::sync::atomic::{AtomicU64, Ordering};

static HANDLED: AtomicU64 = AtomicU64::new(0);

/// Default end-of-slice handler: yield at once.
pub fn on_slice_end(_deadline_ns: u64) {
    HANDLED.fetch_add(1, Ordering::Relaxed);
    let _ = crate::api::yield_to(None);
}

/// Slice ends the default handler has handled.
pub fn handled() -> u64 {
    HANDLED.load(Ordering::Relaxed)
}
