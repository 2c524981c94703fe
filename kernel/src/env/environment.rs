//! One environment: a ring-3 protection domain with its own address space,
//! the frames it owns, its upcall entry, and its share of the CPU.

use alloc::collections::BTreeSet;
use core::fmt;

use arrayvec::ArrayVec;

use exo_abi::EnvId;
use exo_abi::export::EnvState;

use super::revocation::Revocation;
use super::upcall::UpcallConfig;
use crate::arch::user::MAX_CONTINUATIONS;
use crate::arch::user_space::UserSpace;
use crate::mm::frame::Frame;

/// What an environment is doing when it does not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Ready to run in its slices.
    Runnable,
    /// In `Block` until woken or `deadline` (clock ns).
    Blocked { deadline: Option<u64> },
    /// In `PctCall`, until `from` replies.
    AwaitingReply { from: EnvId },
}

impl RunState {
    /// The exported state code.
    pub fn export(self) -> EnvState {
        match self {
            Self::Runnable => EnvState::Runnable,
            Self::Blocked { .. } => EnvState::Blocked,
            Self::AwaitingReply { .. } => EnvState::AwaitingReply,
        }
    }
}

/// Resource limits of an environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Frames never repossessed except in an emergency.
    pub min_frames: u32,
    /// Most frames (owned user frames plus its page tables).
    pub max_frames: u32,
    /// Slots never repossessed except in an emergency.
    pub min_slots: u16,
    /// Most mappings in its space (each costs kernel memory in the reverse
    /// map, which is not charged as frames).
    pub max_mappings: u32,
}

impl Limits {
    /// Defaults for a program whose image and stack take `base_frames`.
    pub fn for_image(base_frames: u32) -> Limits {
        let max_frames = base_frames + 4096;
        Limits {
            min_frames: base_frames + 16,
            max_frames,
            min_slots: 1,
            max_mappings: max_frames * 4,
        }
    }
}

/// Memory held by an environment.
#[derive(Debug, Default)]
pub struct Memory {
    /// Frames it owns (usage `User`).
    pub owned: BTreeSet<Frame>,
    /// Reverse map: (frame, virtual page) of every mapping in its space.
    pub rmap: BTreeSet<(Frame, u64)>,
    /// Page-table frames of its space (charged to its quota).
    pub table_frames: u32,
    /// Where repossessed frames' contents go.
    pub dump: Option<DumpArea>,
}

/// The dump area: `pages` pages at `vaddr` in the environment's space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpArea {
    pub vaddr: u64,
    pub pages: u64,
    /// Next page to fill.
    pub next: u64,
}

/// CPU bookkeeping.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// Slots owned.
    pub slots: u16,
    /// End-of-slice budget overruns in a row.
    pub strikes: u8,
    /// In its end-of-slice handler, which must yield by this clock time.
    pub epilogue_deadline: Option<u64>,
    /// CPU time consumed.
    pub ns: u64,
    /// Slices started for it.
    pub slices: u64,
    /// Longest time it ran past the end of a slice.
    pub max_overrun_ns: u64,
    /// Upcalls delivered (all kinds).
    pub upcalls: u64,
    /// Exceptions delivered to its handler.
    pub exceptions: u64,
}

/// Why an environment was killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillReason {
    /// Its parent killed it.
    ByParent(EnvId),
    /// The kernel (a test, or shutdown) killed it.
    ByKernel,
    /// An exception it had no way to handle.
    Fault {
        vector: u64,
        error: u64,
        addr: u64,
        rip: u64,
    },
    /// Its end-of-slice handler overran the budget too many times in a row.
    SliceOverrun,
    /// Its saved context became impossible to enter.
    BadContext,
    /// Its parent died.
    Orphaned,
}

/// How an environment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(u64),
    Killed(KillReason),
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exited(c) => write!(f, "exited with code {c}"),
            Self::Killed(KillReason::ByParent(p)) => write!(f, "killed by its parent {p}"),
            Self::Killed(KillReason::ByKernel) => write!(f, "killed by the kernel"),
            Self::Killed(KillReason::Fault {
                vector,
                error,
                addr,
                rip,
            }) => write!(
                f,
                "killed: unhandled exception {vector} (error {error:#x}, address {addr:#x}) at {rip:#x}"
            ),
            Self::Killed(KillReason::SliceOverrun) => write!(
                f,
                "aborted: its end-of-slice handler overran the budget {} times in a row",
                crate::sched::MAX_STRIKES
            ),
            Self::Killed(KillReason::BadContext) => {
                write!(f, "killed: its saved context is invalid")
            }
            Self::Killed(KillReason::Orphaned) => write!(f, "killed: its parent ended"),
        }
    }
}

/// Pending upcalls (delivered before the environment next runs) and a
/// pending wake-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    pub revocation: bool,
    pub repossession: bool,
    /// A wake-up arrived while it was not blocked: its next `Block`
    /// returns at once (no wake-up is lost between checking for work and
    /// blocking).
    pub wake: bool,
}

/// An environment.
pub struct Env {
    pub id: EnvId,
    pub name: &'static str,
    /// `EnvId::NONE` when started by the kernel.
    pub parent: EnvId,
    pub state: RunState,
    pub space: UserSpace,
    pub mem: Memory,
    pub limits: Limits,
    pub upcalls: Option<UpcallConfig>,
    pub pending: Pending,
    pub revocation: Option<Revocation>,
    /// The per-environment read-only page (repossession vector).
    pub private: Frame,
    /// Entries written to the repossession vector.
    pub repossessions: u64,
    /// Entries announced by the last repossession upcall.
    pub repossessions_notified: u64,
    pub cpu: Cpu,
    /// Details of the exception that made it leave ring 3 for good.
    pub last_fault: Option<KillReason>,
    /// Callers whose `PctCall` it is serving, oldest first; the context it
    /// had before each call is saved in the matching continuation slot.
    pub serving: ArrayVec<EnvId, MAX_CONTINUATIONS>,
}

impl Env {
    /// Frames charged to its quota.
    pub fn charged_frames(&self) -> u32 {
        self.mem.owned.len() as u32 + self.mem.table_frames
    }

    /// Index of its saved user context.
    pub fn context(&self) -> usize {
        self.id.index()
    }
}
