//! Waking blocked environments from any context.
//!
//! [`wake`] is lock-free and safe in interrupt handlers and deferred work
//! (the network path calls it from an ASH to wake a filter's owner): it
//! records the id in a small table and returns. The kernel loop absorbs
//! the table at its next decision ([`take`]): a blocked environment whose
//! id is there becomes runnable (its `Block` returns 0); one that is not
//! blocked keeps the wake-up, so its next `Block` returns at once (nothing
//! is lost between checking for work and blocking); wake-ups of
//! environments that no longer exist are dropped.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use exo_abi::EnvId;
use exo_abi::ids::MAX_ENVS;

/// Pending wake-ups by table slot (the full id, so a stale id is ignored).
static PENDING: [AtomicU32; MAX_ENVS] = [const { AtomicU32::new(0) }; MAX_ENVS];
static ANY: AtomicBool = AtomicBool::new(false);

/// Asks the kernel to wake `env` if it is blocked.
pub fn wake(env: EnvId) {
    if let Some(slot) = PENDING.get(env.index()) {
        slot.store(env.0, Ordering::Release);
        ANY.store(true, Ordering::Release);
    }
}

/// Whether a wake-up waits for the kernel loop.
pub fn pending() -> bool {
    ANY.load(Ordering::Acquire)
}

/// Takes every pending wake-up, calling `f` with each id.
pub fn take(mut f: impl FnMut(EnvId)) {
    if !ANY.swap(false, Ordering::AcqRel) {
        return;
    }
    for slot in &PENDING {
        let v = slot.swap(0, Ordering::AcqRel);
        if v != 0 {
            f(EnvId(v));
        }
    }
}

crate::kernel_test! {
    fn wakeups_are_collected_once() {
        let a = EnvId::new(3, 7).ok_or("bad id")?;
        let b = EnvId::new(5, 1).ok_or("bad id")?;
        take(|_| {});
        wake(a);
        wake(b);
        wake(a);
        ensure!(pending(), "no wake-up pending");
        let mut seen = alloc::vec::Vec::new();
        take(|id| seen.push(id));
        ensure_eq!(seen, alloc::vec![a, b]);
        ensure!(!pending(), "wake-ups left after take");
        take(|_| panic!("taken twice"));
        Ok(())
    }
}
