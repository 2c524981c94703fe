//! Memory shared with devices: whole 4 KiB frames from the frame allocator,
//! reached through the direct map, so the physical address a device needs is
//! the frame's and the kernel address is `phys_to_virt(phys)`.
//!
//! The device may write a page at any time, so every access is volatile and
//! bounds checked; bulk copies go through [`DmaPage::read_into`] /
//! [`DmaPage::write_from`] (never a Rust reference into device memory that
//! could be observed changing).

use core::fmt;

use crate::arch::layout::phys_to_virt;
use crate::mm::frame::{self, Frame, FrameUse};

/// Size of one DMA page.
pub const PAGE: usize = 4096;

/// Why DMA memory could not be had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaError {
    OutOfMemory,
}

impl fmt::Display for DmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfMemory => write!(f, "no free physical frame for device memory"),
        }
    }
}

/// One zeroed frame owned by a driver; freed on drop.
#[derive(Debug)]
pub struct DmaPage {
    frame: Frame,
}

impl DmaPage {
    /// A fresh zeroed page.
    pub fn new() -> Result<DmaPage, DmaError> {
        let frame = frame::alloc(FrameUse::Kernel).map_err(|_| DmaError::OutOfMemory)?;
        let page = DmaPage { frame };
        page.fill(0, PAGE, 0);
        Ok(page)
    }

    /// Physical address of byte 0 (what the device is told).
    pub fn phys(&self) -> u64 {
        self.frame.phys()
    }

    fn ptr(&self, off: usize, len: usize) -> *mut u8 {
        assert!(
            off.checked_add(len).is_some_and(|end| end <= PAGE),
            "DMA access [{off}, +{len}) outside the page"
        );
        (phys_to_virt(self.frame.phys()) + off as u64) as *mut u8
    }

    fn fill(&self, off: usize, len: usize, byte: u8) {
        let p = self.ptr(off, len);
        // SAFETY: `ptr` checked the range lies in this page, a frame this
        // value owns, mapped by the direct map.
        unsafe { core::ptr::write_bytes(p, byte, len) };
    }

    pub fn read16(&self, off: usize) -> u16 {
        let p = self.ptr(off, 2) as *const u16;
        debug_assert!(off.is_multiple_of(2));
        // SAFETY: in bounds (checked by `ptr`) of an owned, mapped frame;
        // volatile because the device writes it.
        unsafe { core::ptr::read_volatile(p) }
    }

    pub fn read32(&self, off: usize) -> u32 {
        let p = self.ptr(off, 4) as *const u32;
        debug_assert!(off.is_multiple_of(4));
        // SAFETY: as in `read16`.
        unsafe { core::ptr::read_volatile(p) }
    }

    pub fn write16(&self, off: usize, v: u16) {
        let p = self.ptr(off, 2) as *mut u16;
        debug_assert!(off.is_multiple_of(2));
        // SAFETY: as in `read16`; nothing else holds a reference into the page.
        unsafe { core::ptr::write_volatile(p, v) };
    }

    pub fn write32(&self, off: usize, v: u32) {
        let p = self.ptr(off, 4) as *mut u32;
        debug_assert!(off.is_multiple_of(4));
        // SAFETY: as in `write16`.
        unsafe { core::ptr::write_volatile(p, v) };
    }

    pub fn write64(&self, off: usize, v: u64) {
        let p = self.ptr(off, 8) as *mut u64;
        debug_assert!(off.is_multiple_of(8));
        // SAFETY: as in `write16`.
        unsafe { core::ptr::write_volatile(p, v) };
    }

    /// Copies `out.len()` bytes from offset `off` into `out`.
    pub fn read_into(&self, off: usize, out: &mut [u8]) {
        let p = self.ptr(off, out.len());
        // SAFETY: the source range is in bounds of the owned frame (checked by
        // `ptr`) and `out` is a distinct kernel buffer.
        unsafe { core::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), out.len()) };
    }

    /// Copies `data` to offset `off`.
    pub fn write_from(&self, off: usize, data: &[u8]) {
        let p = self.ptr(off, data.len());
        // SAFETY: as in `read_into`, in the other direction.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
    }

    /// The bytes `[off, off + len)` as a slice, for handing a received frame
    /// to the dispatch without copying.
    ///
    /// Only for bytes the device has finished with (a buffer it returned in
    /// the used ring and that is not posted again while the slice lives):
    /// the borrow of `self` ties the slice to the page, and the RX path
    /// re-posts a buffer only after the slice is gone.
    pub fn settled_bytes(&self, off: usize, len: usize) -> &[u8] {
        let p = self.ptr(off, len);
        // SAFETY: in bounds of the owned frame; the device no longer writes
        // these bytes until the caller posts the buffer again, which it does
        // only after this borrow ends (see the doc comment).
        unsafe { core::slice::from_raw_parts(p, len) }
    }
}

impl Drop for DmaPage {
    fn drop(&mut self) {
        // A driver drops pages only after resetting its device, so no DMA
        // can hit the frame once it is free.
        if let Err(e) = frame::free(self.frame) {
            log::error!("dma: cannot free {}: {e:?}", self.frame);
        }
    }
}
