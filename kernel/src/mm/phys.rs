//! Access to physical memory through the kernel's direct map. This is the
//! one place outside `arch` that turns physical addresses into references.

use crate::arch::layout::phys_to_virt;
use crate::boot_info::{BootInfoError, PhysReader};

/// Physical memory the boot stub's tables map in the direct map (4 GiB).
pub const BOOT_MAPPED_LIMIT: u64 = 4 << 30;

/// Reads boot-loader structures, which all live below 4 GiB.
pub struct BootMemory;

impl PhysReader for BootMemory {
    fn read(&self, phys: u64, len: usize) -> Result<&[u8], BootInfoError> {
        let end = phys
            .checked_add(len as u64)
            .ok_or(BootInfoError::Unreadable { phys, len })?;
        if end > BOOT_MAPPED_LIMIT {
            return Err(BootInfoError::Unreadable { phys, len });
        }
        // SAFETY: the range lies in the first 4 GiB, which the boot page
        // tables map read-write at PHYSMAP_BASE; the loader's structures are
        // not written while the kernel parses them (it copies what it keeps
        // before allocating any memory).
        Ok(unsafe { core::slice::from_raw_parts(phys_to_virt(phys) as *const u8, len) })
    }
}

/// A `'static` mutable slice of `count` values of `T` over physical memory.
///
/// # Safety
/// `[phys, phys + count * size_of::<T>())` must be RAM reachable through the
/// direct map, owned exclusively by the caller for the rest of the kernel's
/// life, suitably aligned for `T`, and every bit pattern there must be a valid
/// `T` (the caller initializes it right away otherwise).
pub unsafe fn claim_slice<T>(phys: u64, count: usize) -> &'static mut [T] {
    // SAFETY: guaranteed by the caller.
    unsafe { core::slice::from_raw_parts_mut(phys_to_virt(phys) as *mut T, count) }
}
