//! CPU secure bindings and the kernel loop.
//!
//! The kernel loop ([`run_until`]) is the only place environments run: it
//! asks the scheduler ([`cpu`]) what to run next, arms the timer for the
//! next event, resumes the environment, and handles whatever brought it
//! back (a full-path system call, an interrupt with kernel work, a fault).
//! Between environments it runs deferred interrupt work, absorbs wake-ups
//! and enforces deadlines (blocked environments, revocation requests).
//!
//! Policy constants (also exported in `KernelInfo`): slices of
//! [`SLICE_NS`]; an end-of-slice handler has [`SLICE_BUDGET_NS`] to save
//! its state and yield; [`MAX_STRIKES`] overruns in a row abort the
//! environment.

pub mod cpu;
pub mod pct;
pub mod slices;

use exo_abi::EnvId;

use crate::env::{self, with_kernel};
use crate::{arch, irq, time};

/// Length of a time slice.
pub const SLICE_NS: u64 = 2_000_000;
/// Time an end-of-slice handler has to yield (tens of microseconds).
pub const SLICE_BUDGET_NS: u64 = 50_000;
/// Budget overruns in a row that abort an environment. The first one
/// repossesses its slots beyond the guaranteed minimum, the next-to-last
/// writes a warning to its repossession vector, the last one kills it.
pub const MAX_STRIKES: u8 = 3;

/// The scheduler's state (part of `env::Kernel`).
pub struct Scheduler {
    pub slots: slices::SliceVector,
    /// Slot whose slice runs (or ran last).
    pub current_slot: usize,
    /// When the current slice ends.
    pub slice_end: u64,
    /// Environment running in the current slice (the slot's holder, or the
    /// target of a directed yield or a protected control transfer).
    pub running: Option<EnvId>,
    /// When the environment now in ring 3 was entered.
    pub entered_at: u64,
}

impl Scheduler {
    pub fn new() -> Scheduler {
        Scheduler {
            slots: slices::SliceVector::new(),
            current_slot: exo_abi::export::SLICE_SLOTS - 1,
            slice_end: 0,
            running: None,
            entered_at: 0,
        }
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether an interrupt taken in ring 3 should hand control to the kernel
/// loop (safe in interrupt context: atomics only).
pub fn kernel_work_pending() -> bool {
    time::alarm_fired() || irq::deferred_pending() || env::wake::pending()
}

/// Why [`run_until`] stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunError {
    /// The time limit passed before the condition held.
    TimedOut { after_ns: u64 },
}

impl core::fmt::Display for RunError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TimedOut { after_ns } => write!(
                f,
                "environments still running after {} ms",
                after_ns / 1_000_000
            ),
        }
    }
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Resume `env` (its space is active) with the alarm at `alarm`.
    Run { env: EnvId, alarm: u64 },
    /// Nothing can run: sleep until an interrupt (or `until`).
    Idle { until: Option<u64> },
}

/// Runs environments until `done` (checked between steps, with the kernel
/// state) holds, or `timeout_ns` passes. Returns with the kernel's own
/// address space active.
pub fn run_until(
    mut done: impl FnMut(&mut env::Kernel) -> bool,
    timeout_ns: u64,
) -> Result<(), RunError> {
    let start = time::now_ns();
    let give_up = start.saturating_add(timeout_ns);
    let result = loop {
        irq::run_deferred();
        time::take_alarm();
        let now = time::now_ns();
        let step = with_kernel(|k| {
            k.absorb_wakes();
            k.enforce_revocations(now);
            k.expire_blocks(now);
            if done(k) { None } else { Some(k.schedule(now)) }
        });
        let Some(step) = step else {
            break Ok(());
        };
        if now >= give_up {
            break Err(RunError::TimedOut {
                after_ns: now - start,
            });
        }
        match step {
            Step::Idle { until } => {
                arch::paging::activate_kernel_tables();
                time::set_alarm(until.unwrap_or(u64::MAX).min(give_up));
                irq::idle();
            }
            Step::Run { env, alarm } => {
                time::set_alarm(alarm.min(give_up));
                let outcome = arch::user::run(env.index());
                let now = time::now_ns();
                with_kernel(|k| k.after_run(env, outcome, now));
            }
        }
    };
    time::set_alarm(u64::MAX);
    arch::paging::activate_kernel_tables();
    result
}
