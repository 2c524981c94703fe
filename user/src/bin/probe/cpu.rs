//! CPU behaviors: a well-behaved spinner, one that spins inside its
//! end-of-slice handler (it must be struck and aborted), a blocker, and a
//! donor that gives its slices away by directed yield.

use core::sync::atomic::{AtomicU64, Ordering};

use exo_abi::{EnvId, Error};
use exo_user::libos_core::{api, upcall};
use exo_user::println;

use crate::check::{Check, ok, refused};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Mode `Spin`: counts forever; the default end-of-slice handler yields.
pub fn spin() -> Result<(), Check> {
    loop {
        COUNTER.fetch_add(1, Ordering::Relaxed);
    }
}

fn spin_forever(_deadline: u64) {
    loop {
        COUNTER.fetch_add(1, Ordering::Relaxed);
    }
}

/// Mode `SpinInSliceEnd`: takes `extra` more slots, then never yields from
/// its end-of-slice handler.
pub fn spin_in_slice_end(extra: u64) -> Result<(), Check> {
    for _ in 0..extra {
        ok(1, "extra slot", api::slice_alloc(None))?;
    }
    upcall::set_slice_end_handler(spin_forever);
    println!(
        "probe: holding {} slots; the end-of-slice handler will not yield",
        extra + 1
    );
    spin()
}

/// Mode `Blocker`.
pub fn blocker() -> Result<(), Check> {
    let deadline = exo_user::libos_core::export::now_ns() + 2_000_000;
    refused(
        1,
        "block with a deadline",
        api::block(Some(deadline)),
        Error::TimedOut,
    )?;
    let late = exo_user::libos_core::export::now_ns().saturating_sub(deadline);
    println!("probe: deadline block returned {late} ns after its deadline");
    ok(2, "block until woken", api::block(None))?;
    println!("probe: woken");
    // The kernel test posted another wake-up while this probe was running:
    // it was kept, so this returns at once.
    ok(
        3,
        "a wake-up posted while running is kept",
        api::block(None),
    )?;
    println!("probe: the early wake-up was kept");
    Ok(())
}

/// Mode `Donor`: donates every slice to `target`.
pub fn donor(target: u64) -> Result<(), Check> {
    let target = EnvId(target as u32);
    loop {
        ok(1, "directed yield", api::yield_to(Some(target)))?;
    }
}
