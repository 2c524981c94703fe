//! The seam between the network path and the environments (exokernel
//! core): who owns a binding, how an owner is woken, and where frames go
//! when a binding delivers them.
//!
//! The environment layer installs an [`EnvHooks`] with [`set_hooks`] at
//! boot (waking an environment, telling whether it exists); environment
//! bindings deliver into receive rings in their owner's pages
//! (`super::ring::Ring`, a [`FrameSink`]), kernel tests into in-kernel
//! queues. Bindings the kernel installs for itself are owned by
//! [`KERNEL_OWNER`].

use core::sync::atomic::{AtomicU64, Ordering};

use spin::Once;

/// Who owns a binding: an environment id, or [`KERNEL_OWNER`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnerId(pub u32);

/// Bindings the kernel installs for itself (tests, boot-time services).
pub const KERNEL_OWNER: OwnerId = OwnerId(0);

impl core::fmt::Display for OwnerId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if *self == KERNEL_OWNER {
            write!(f, "kernel")
        } else {
            write!(f, "env {}", self.0)
        }
    }
}

/// What the network path needs from the environment side.
pub trait EnvHooks: Sync {
    /// Makes `owner` runnable (a handler's `wake_owner`, or a frame
    /// delivered to its ring). Called with the dispatch locked: must not
    /// call back into `crate::net`.
    fn wake(&self, owner: OwnerId);
    /// Whether `owner` still exists (bindings of a dead owner are refused).
    fn owner_alive(&self, owner: OwnerId) -> bool;
}

/// Where a binding's delivered frames go (a receive ring in the owner's
/// pages; kernel tests use an in-kernel queue).
pub trait FrameSink: Send {
    /// Takes a copy of `frame`; `Err(())` when there is no room (counted
    /// as a ring overflow and a `no_buffer` drop).
    #[allow(clippy::result_unit_err)]
    fn deliver(&mut self, frame: &[u8], arrival_ns: u64) -> Result<(), ()>;
}

/// The hooks used until an environment layer installs its own: only the
/// kernel owns bindings; wake-ups are counted.
pub struct KernelOnly;

static KERNEL_WAKEUPS: AtomicU64 = AtomicU64::new(0);

impl EnvHooks for KernelOnly {
    fn wake(&self, _owner: OwnerId) {
        KERNEL_WAKEUPS.fetch_add(1, Ordering::Relaxed);
    }

    fn owner_alive(&self, owner: OwnerId) -> bool {
        owner == KERNEL_OWNER
    }
}

/// Wake-ups that went to [`KernelOnly`].
pub fn kernel_wakeups() -> u64 {
    KERNEL_WAKEUPS.load(Ordering::Relaxed)
}

static HOOKS: Once<&'static dyn EnvHooks> = Once::new();

/// Installs the environment layer's hooks (once; later calls are ignored
/// and return false).
pub fn set_hooks(h: &'static dyn EnvHooks) -> bool {
    let mut installed = false;
    HOOKS.call_once(|| {
        installed = true;
        h
    });
    installed
}

/// The hooks in force.
pub fn hooks() -> &'static dyn EnvHooks {
    HOOKS.get().copied().unwrap_or(&KernelOnly)
}
