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

/// Plain-old-data types the kernel keeps in whole frames it exports to
/// environments (every bit pattern is a valid value).
///
/// # Safety
/// Implement only for `#[repr(C)]` types made of integers and arrays of
/// them, no larger than a frame.
pub unsafe trait FramePod: Sized {}

// SAFETY: integer-only `#[repr(C)]` ABI structures, each at most 4 KiB
// (checked by exo-abi's layout tests and the assertion in `with_frame`).
unsafe impl FramePod for exo_abi::export::KernelInfo {}
// SAFETY: as above.
unsafe impl FramePod for exo_abi::export::EnvTable {}
// SAFETY: as above.
unsafe impl FramePod for exo_abi::export::SliceVector {}
// SAFETY: as above.
unsafe impl FramePod for exo_abi::private::PrivatePage {}
// SAFETY: as above (the network export header and a page of binding
// entries, and a receive ring's header).
unsafe impl FramePod for exo_abi::net::export::NetExportHeader {}
// SAFETY: as above: 32 entries of 128 bytes fill one page exactly.
unsafe impl FramePod for [exo_abi::net::export::BindingEntry; 32] {}
// SAFETY: as above.
unsafe impl FramePod for exo_abi::net::ring::RingHeader {}

/// Runs `f` on the contents of `frame` viewed as a `T`. The frame must be
/// RAM the caller owns (a kernel frame it allocated).
pub fn with_frame<T: FramePod, R>(frame: super::frame::Frame, f: impl FnOnce(&mut T) -> R) -> R {
    const { assert!(core::mem::size_of::<T>() <= 4096) };
    // SAFETY: the frame is page aligned (so aligned for T), lies in RAM
    // covered by the direct map, is owned by the caller, and any bit
    // pattern is a valid T (FramePod). One CPU, interrupts off: no other
    // reference to it is live during `f`.
    let value = unsafe { &mut *(phys_to_virt(frame.phys()) as *mut T) };
    f(value)
}

/// Fills a frame with zeros.
pub fn zero_frame(frame: super::frame::Frame) {
    // SAFETY: the frame is RAM covered by the direct map and the caller
    // owns it (it is being handed out or taken back).
    unsafe { core::ptr::write_bytes(phys_to_virt(frame.phys()) as *mut u8, 0, 4096) };
}

/// Copies the contents of frame `src` into frame `dst`.
pub fn copy_frame(src: super::frame::Frame, dst: super::frame::Frame) {
    if src == dst {
        return;
    }
    // SAFETY: two distinct RAM frames in the direct map, both held by the
    // caller for the duration of the copy.
    unsafe {
        core::ptr::copy_nonoverlapping(
            phys_to_virt(src.phys()) as *const u8,
            phys_to_virt(dst.phys()) as *mut u8,
            4096,
        )
    };
}

/// Copies `data` into `frame` at byte `offset` (`offset + data.len()` must
/// fit in the frame).
pub fn write_frame(frame: super::frame::Frame, offset: usize, data: &[u8]) {
    assert!(
        offset
            .checked_add(data.len())
            .is_some_and(|end| end <= 4096),
        "write past the end of a frame"
    );
    // SAFETY: the range lies inside one RAM frame in the direct map that the
    // caller owns; `data` is kernel memory and cannot overlap it.
    unsafe {
        core::ptr::copy_nonoverlapping(
            data.as_ptr(),
            (phys_to_virt(frame.phys()) as *mut u8).add(offset),
            data.len(),
        )
    };
}

/// Copies bytes of `frame` from byte `offset` into `out` (`offset +
/// out.len()` must fit in the frame).
pub fn read_frame(frame: super::frame::Frame, offset: usize, out: &mut [u8]) {
    assert!(
        offset.checked_add(out.len()).is_some_and(|end| end <= 4096),
        "read past the end of a frame"
    );
    // SAFETY: the range lies inside one RAM frame in the direct map that the
    // caller holds; `out` is kernel memory and cannot overlap it.
    unsafe {
        core::ptr::copy_nonoverlapping(
            (phys_to_virt(frame.phys()) as *const u8).add(offset),
            out.as_mut_ptr(),
            out.len(),
        )
    };
}
