//! Helpers for environment tests: spawning probes, running the kernel loop
//! with a limit, reading how environments ended, and the resource census.

use alloc::format;
use alloc::vec::Vec;

use exo_abi::EnvId;
use exo_abi::probe::Mode;

use crate::env::environment::Limits;
use crate::env::{ExitStatus, Kernel, KillReason, with_kernel};
use crate::ktest::TestFailure;
use crate::mm::frame::{self, FrameUse};
use crate::sched;

/// Guest time any one wait may take.
pub const WAIT_LIMIT_NS: u64 = 2_000_000_000;

/// Spawns a probe in `mode` with `param` (default limits, or `limits`).
pub fn probe(mode: Mode, param: u64, limits: Option<Limits>) -> Result<EnvId, TestFailure> {
    with_kernel(|k| k.spawn("probe", mode.arg(param), EnvId::NONE, limits))
        .map_err(|e| TestFailure::new(format!("spawning probe {mode:?}: {e}")))
}

/// Runs environments until `done` holds (or fails after [`WAIT_LIMIT_NS`]).
pub fn run_until(what: &str, done: impl FnMut(&mut Kernel) -> bool) -> Result<(), TestFailure> {
    sched::run_until(done, WAIT_LIMIT_NS)
        .map_err(|e| TestFailure::new(format!("waiting for {what}: {e}")))
}

/// Runs environments for `ns` of guest time.
pub fn run_for(ns: u64) {
    let end = crate::time::now_ns() + ns;
    let _ = sched::run_until(|_| crate::time::now_ns() >= end, ns + 1_000_000);
}

/// Runs until every environment in `ids` has ended.
pub fn run_until_ended(ids: &[EnvId]) -> Result<(), TestFailure> {
    run_until("environments to end", |k| {
        ids.iter().all(|id| k.envs.get(*id).is_none())
    })
}

/// How `id` ended.
pub fn status(id: EnvId) -> Option<ExitStatus> {
    with_kernel(|k| k.exits.status(id))
}

/// Fails unless `id` exited with code 0.
pub fn passed(id: EnvId, what: &str) -> Result<(), TestFailure> {
    match status(id) {
        Some(ExitStatus::Exited(0)) => Ok(()),
        other => Err(TestFailure::new(format!(
            "{what}: probe {id} ended with {other:?} (exit codes above 1000 name the failed check; see its output)"
        ))),
    }
}

/// Ends every environment (cleanup between tests).
pub fn end_all() {
    with_kernel(|k| {
        let ids: Vec<EnvId> = k.envs.ids().collect();
        for id in ids {
            k.end(id, ExitStatus::Killed(KillReason::ByKernel));
        }
    });
}

/// Ends every environment when dropped, so a failing test leaves nothing
/// behind for the next one.
pub struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        end_all();
    }
}

/// What the kernel holds: frames free or in kernel memory that only grows
/// (heap, kernel page tables), frames charged to environments, slots and
/// grants in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Census {
    pub free_or_heap: usize,
    pub env_frames: usize,
    pub slots: usize,
    pub grants: usize,
    pub live: usize,
}

/// Takes the census.
pub fn census() -> Census {
    let (free_or_heap, env_frames) = frame::with_table(|t| {
        let mut heap = 0;
        let mut owned = 0;
        for i in 0..t.len() {
            let Some(info) = t.info(frame::Frame::containing(i as u64 * 4096)) else {
                continue;
            };
            let kernel_table = info.usage == FrameUse::PageTable && info.owner == frame::NO_OWNER;
            if info.usage == FrameUse::KernelHeap || kernel_table {
                heap += 1;
            }
            if info.owner != frame::NO_OWNER {
                owned += 1;
            }
        }
        (t.free_frames() + heap, owned)
    })
    .unwrap_or((0, usize::MAX));
    with_kernel(|k| Census {
        free_or_heap,
        env_frames,
        slots: (0..exo_abi::export::SLICE_SLOTS)
            .filter(|p| k.sched.slots.owner(*p).is_some())
            .count(),
        grants: k.grants.len(),
        live: k.envs.live(),
    })
}

/// Fails unless nothing is held by environments and the free frames are
/// back to `before`.
pub fn nothing_leaked(before: Census) -> Result<(), TestFailure> {
    end_all();
    let after = census();
    let want = Census {
        env_frames: 0,
        slots: 0,
        grants: 0,
        live: 0,
        ..before
    };
    if after == want {
        Ok(())
    } else {
        Err(TestFailure::new(format!(
            "resources leaked: before {before:?}, after {after:?}"
        )))
    }
}

/// Default limits of the probe program.
pub fn probe_limits() -> Result<Limits, TestFailure> {
    Kernel::default_limits("probe")
        .ok_or_else(|| TestFailure::new("no probe program embedded".into()))
}
