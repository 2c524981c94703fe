//! Layouts of the read-only pages the kernel exports into every environment
//! (addresses in [`crate::layout`]). The kernel writes them only while no
//! environment runs (one CPU), so an environment never sees a torn update.
//! Readers should still read fields with volatile loads: the values change
//! between any two instructions from the environment's point of view.

use crate::ids::{EnvId, MAX_ENVS};

/// [`KernelInfo::magic`]: "EXOKINFO".
pub const KERNEL_INFO_MAGIC: u64 = u64::from_le_bytes(*b"EXOKINFO");

/// Slots of the time-slice vector.
pub const SLICE_SLOTS: usize = 32;

/// The kernel information page at [`crate::layout::KERNEL_INFO`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct KernelInfo {
    /// [`KERNEL_INFO_MAGIC`].
    pub magic: u64,
    /// [`crate::ABI_VERSION`].
    pub abi_version: u32,
    pub page_size: u32,
    /// TSC frequency; with `tsc_at_boot` it gives the kernel clock without a
    /// system call: see [`KernelInfo::clock_ns`].
    pub tsc_hz: u64,
    /// TSC value at clock zero.
    pub tsc_at_boot: u64,
    /// Timer ticks so far (100 Hz).
    pub ticks: u64,
    /// Kernel clock when the kernel last entered an environment.
    pub entered_ns: u64,
    /// Entries of the frame table ([`crate::layout::FRAME_TABLE`]).
    pub frame_count: u64,
    /// Frames free right now.
    pub frames_free: u64,
    /// Size of the environment table.
    pub max_envs: u32,
    /// Environments alive.
    pub live_envs: u32,
    /// Slots of the time-slice vector.
    pub slice_slots: u32,
    /// Slot whose slice runs now.
    pub current_slot: u32,
    /// Environment running now (the reader itself, when it reads).
    pub current_env: u32,
    /// Strikes (end-of-slice budget overruns in a row) that abort an
    /// environment.
    pub max_strikes: u32,
    /// Length of a time slice.
    pub slice_ns: u64,
    /// Time an end-of-slice handler has to yield.
    pub slice_budget_ns: u64,
    /// When the current slice ends.
    pub slice_end_ns: u64,
    /// Reserved for later kernels (zero).
    pub reserved: [u64; 16],
}

impl KernelInfo {
    /// The kernel clock (nanoseconds since boot) at TSC value `tsc`.
    pub fn clock_ns(&self, tsc: u64) -> u64 {
        if self.tsc_hz == 0 {
            return 0;
        }
        let delta = tsc.saturating_sub(self.tsc_at_boot);
        (u128::from(delta) * 1_000_000_000 / u128::from(self.tsc_hz)) as u64
    }
}

/// What a physical frame is used for (the `usage` byte of [`FrameEntry`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameUsage {
    /// Not RAM, firmware-reserved, or below 1 MiB: never allocated.
    Unusable = 0,
    Free = 1,
    KernelImage = 2,
    /// The frame table itself.
    FrameTable = 3,
    /// A page table (of the kernel, or of the environment in `owner`).
    PageTable = 4,
    KernelHeap = 5,
    KernelStack = 6,
    /// Other kernel memory (charged to `owner` when it is not 0).
    Kernel = 7,
    /// Owned by environment `owner`, which holds every capability on it.
    User = 8,
}

impl FrameUsage {
    /// Decodes the `usage` byte.
    pub fn from_u8(v: u8) -> Option<FrameUsage> {
        Some(match v {
            0 => FrameUsage::Unusable,
            1 => FrameUsage::Free,
            2 => FrameUsage::KernelImage,
            3 => FrameUsage::FrameTable,
            4 => FrameUsage::PageTable,
            5 => FrameUsage::KernelHeap,
            6 => FrameUsage::KernelStack,
            7 => FrameUsage::Kernel,
            8 => FrameUsage::User,
            _ => return None,
        })
    }
}

/// [`FrameEntry::flags`]: pinned by a kernel binding (e.g. a network ring);
/// cannot be freed or repossessed while pinned.
pub const FRAME_PINNED: u8 = 1 << 0;

/// One entry of the frame ownership table (8 bytes per 4 KiB frame).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct FrameEntry {
    /// A [`FrameUsage`].
    pub usage: u8,
    /// `FRAME_*` flags.
    pub flags: u8,
    /// Page-table entries (in all environments) that map the frame.
    pub mappings: u16,
    /// Owning environment ([`EnvId`] value), 0 for the kernel.
    pub owner: u32,
}

impl FrameEntry {
    pub fn usage(&self) -> Option<FrameUsage> {
        FrameUsage::from_u8(self.usage)
    }

    pub fn owner(&self) -> EnvId {
        EnvId(self.owner)
    }
}

/// State of an environment table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EnvState {
    /// The slot is free.
    Free = 0,
    /// Ready to run in its slices.
    Runnable = 1,
    /// Blocked until woken or a deadline.
    Blocked = 2,
    /// Waiting for the reply to a synchronous protected control transfer.
    AwaitingReply = 3,
}

impl EnvState {
    pub fn from_u8(v: u8) -> Option<EnvState> {
        Some(match v {
            0 => EnvState::Free,
            1 => EnvState::Runnable,
            2 => EnvState::Blocked,
            3 => EnvState::AwaitingReply,
            _ => return None,
        })
    }
}

/// One entry of the environment table (64 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct EnvEntry {
    /// [`EnvId`] value; 0 when the slot is free.
    pub id: u32,
    pub parent: u32,
    /// An [`EnvState`].
    pub state: u8,
    /// End-of-slice budget overruns in a row.
    pub strikes: u8,
    /// Time-slice slots owned.
    pub slots: u16,
    /// Slots guaranteed (never repossessed except in an emergency).
    pub min_slots: u16,
    pub _pad: u16,
    /// Frames owned (usage [`FrameUsage::User`]).
    pub frames: u32,
    /// Frames guaranteed (never repossessed except in an emergency).
    pub min_frames: u32,
    /// Most frames the environment may own.
    pub max_frames: u32,
    /// Resources repossessed so far (entries written to its repossession
    /// vector).
    pub repossessed: u32,
    /// CPU time consumed.
    pub cpu_ns: u64,
    /// Slices started.
    pub slices: u64,
    /// Program name, NUL padded.
    pub name: [u8; 16],
}

/// The environment table at [`crate::layout::ENV_TABLE`] (index = slot of
/// [`EnvId::index`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct EnvTable {
    pub entries: [EnvEntry; MAX_ENVS],
}

/// One slot of the time-slice vector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SliceEntry {
    /// Environment that allocated the slot (0: free).
    pub owner: u32,
    /// Environment that runs in it (differs from `owner` while a
    /// synchronous protected control transfer donates it).
    pub holder: u32,
}

/// The time-slice vector at [`crate::layout::SLICE_VECTOR`]: slots run in
/// order, round robin, one slice each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct SliceVector {
    pub entries: [SliceEntry; SLICE_SLOTS],
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn kernel_info_layout() {
        assert_eq!(offset_of!(KernelInfo, magic), 0);
        assert_eq!(offset_of!(KernelInfo, tsc_hz), 16);
        assert_eq!(offset_of!(KernelInfo, tsc_at_boot), 24);
        assert_eq!(offset_of!(KernelInfo, frame_count), 48);
        assert_eq!(offset_of!(KernelInfo, frames_free), 56);
        assert_eq!(offset_of!(KernelInfo, max_envs), 64);
        assert_eq!(offset_of!(KernelInfo, current_env), 80);
        assert_eq!(offset_of!(KernelInfo, slice_ns), 88);
        assert_eq!(offset_of!(KernelInfo, slice_end_ns), 104);
        assert_eq!(size_of::<KernelInfo>(), 240);
        assert!(size_of::<KernelInfo>() <= 4096);
    }

    #[test]
    fn table_entry_layouts() {
        assert_eq!(size_of::<FrameEntry>(), 8);
        assert_eq!(offset_of!(FrameEntry, mappings), 2);
        assert_eq!(offset_of!(FrameEntry, owner), 4);
        assert_eq!(size_of::<EnvEntry>(), 64);
        assert_eq!(offset_of!(EnvEntry, state), 8);
        assert_eq!(offset_of!(EnvEntry, frames), 16);
        assert_eq!(offset_of!(EnvEntry, cpu_ns), 32);
        assert_eq!(offset_of!(EnvEntry, name), 48);
        assert_eq!(size_of::<EnvTable>(), 4096);
        assert_eq!(size_of::<SliceEntry>(), 8);
        assert_eq!(size_of::<SliceVector>(), 8 * SLICE_SLOTS);
    }

    #[test]
    fn enums_decode() {
        for v in 0..=8 {
            assert_eq!(FrameUsage::from_u8(v).map(|u| u as u8), Some(v));
        }
        assert_eq!(FrameUsage::from_u8(9), None);
        for v in 0..=3 {
            assert_eq!(EnvState::from_u8(v).map(|s| s as u8), Some(v));
        }
        assert_eq!(EnvState::from_u8(4), None);
    }

    #[test]
    fn clock_from_tsc() {
        let info = KernelInfo {
            tsc_hz: 2_000_000_000,
            tsc_at_boot: 1000,
            ..KernelInfo::default()
        };
        assert_eq!(info.clock_ns(1000), 0);
        assert_eq!(info.clock_ns(3000), 1000);
        assert_eq!(info.clock_ns(10), 0, "TSC before boot saturates");
        assert_eq!(KernelInfo::default().clock_ns(5), 0);
    }
}
