//! Read-only views of what the kernel exports into every environment
//! (`exo_abi::layout`, `exo_abi::export`, `exo_abi::private`). Values can
//! change between any two reads (the kernel updates them while this
//! environment does not run), so every access is a volatile copy; nothing
//! here hands out references into the exported pages.

use exo_abi::EnvId;
use exo_abi::export::{EnvEntry, FrameEntry, KernelInfo, SLICE_SLOTS, SliceEntry};
use exo_abi::ids::MAX_ENVS;
use exo_abi::layout::{ENV_TABLE, FRAME_TABLE, KERNEL_INFO, PRIVATE_BASE, SLICE_VECTOR};
use exo_abi::private::{PrivatePage, REPOSSESSION_CAPACITY, RepossessionEntry};

use crate::sys::rdtsc;

/// Copies a `T` from exported address `addr`.
///
/// # Safety
/// `addr` must be one of the kernel's exported locations holding a `T`
/// (mapped read-only in every environment by the kernel).
unsafe fn read<T: Copy>(addr: u64) -> T {
    // SAFETY: guaranteed by the caller; the exported types are plain
    // integers, valid for any bits.
    unsafe { core::ptr::read_volatile(addr as *const T) }
}

/// The kernel information page.
pub fn kernel_info() -> KernelInfo {
    // SAFETY: KERNEL_INFO holds a KernelInfo in every environment.
    unsafe { read(KERNEL_INFO) }
}

/// The kernel clock (ns since boot), without a system call.
pub fn now_ns() -> u64 {
    kernel_info().clock_ns(rdtsc())
}

/// Entry `frame` of the frame ownership table (`None` past its end).
pub fn frame(frame: u64) -> Option<FrameEntry> {
    if frame >= kernel_info().frame_count {
        return None;
    }
    // SAFETY: the frame table has `frame_count` entries at FRAME_TABLE.
    Some(unsafe { read(FRAME_TABLE + frame * core::mem::size_of::<FrameEntry>() as u64) })
}

/// Entry `index` of the environment table.
pub fn env(index: usize) -> Option<EnvEntry> {
    if index >= MAX_ENVS {
        return None;
    }
    // SAFETY: the environment table has MAX_ENVS entries at ENV_TABLE.
    Some(unsafe { read(ENV_TABLE + (index * core::mem::size_of::<EnvEntry>()) as u64) })
}

/// The table entry of environment `id` (if it is alive).
pub fn env_by_id(id: EnvId) -> Option<EnvEntry> {
    env(id.index()).filter(|e| e.id == id.0)
}

/// Slot `pos` of the time-slice vector.
pub fn slice(pos: usize) -> Option<SliceEntry> {
    if pos >= SLICE_SLOTS {
        return None;
    }
    // SAFETY: the slice vector has SLICE_SLOTS entries at SLICE_VECTOR.
    Some(unsafe { read(SLICE_VECTOR + (pos * core::mem::size_of::<SliceEntry>()) as u64) })
}

fn private_field<T: Copy>(offset: usize) -> T {
    // SAFETY: PRIVATE_BASE holds this environment's PrivatePage; `offset`
    // comes from `offset_of!` on it.
    unsafe { read(PRIVATE_BASE + offset as u64) }
}

/// This environment's id.
pub fn self_id() -> EnvId {
    EnvId(private_field(core::mem::offset_of!(PrivatePage, id)))
}

/// Entries written to this environment's repossession vector so far.
pub fn repossessions() -> u64 {
    private_field(core::mem::offset_of!(PrivatePage, repossessions))
}

/// Repossession entry number `n` (counting over the environment's life),
/// if it is still in the ring.
pub fn repossession(n: u64) -> Option<RepossessionEntry> {
    let total = repossessions();
    let cap = REPOSSESSION_CAPACITY as u64;
    if n >= total || total - n > cap {
        return None;
    }
    let offset = core::mem::offset_of!(PrivatePage, entries)
        + (n % cap) as usize * core::mem::size_of::<RepossessionEntry>();
    Some(private_field(offset))
}
