//! Network windows: an environment's pages, bound to a handler region,
//! mapped contiguously into the kernel (read-write, no-execute) so that a
//! compiled handler reaches the region at one base address, however the
//! frames lie in physical memory.
//!
//! Each window gets a fresh range of the window region
//! (`layout::NET_WINDOW_BASE`) with an unmapped page after it; dropping
//! the window unmaps it. The frames are not the window's: they belong to
//! the environment, which the binding layer pins for as long as the
//! window exists (`net/envbind.rs`).

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::layout::{NET_WINDOW_BASE, NET_WINDOW_SIZE, PAGE_SIZE};
use crate::arch::paging::{Access, Caching, PagingError, with_kernel_space};
use crate::mm::frame::{self, Frame, FrameUse};

static NEXT: AtomicU64 = AtomicU64::new(NET_WINDOW_BASE);

/// Why a window could not be mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowError {
    /// The window region's address space is used up.
    RegionFull,
    Paging(PagingError),
}

impl core::fmt::Display for WindowError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::RegionFull => write!(f, "the network window address range is exhausted"),
            Self::Paging(e) => write!(f, "mapping a network window: {e}"),
        }
    }
}

/// `frames` mapped one after the other at `base`.
#[derive(Debug)]
pub struct Window {
    base: u64,
    frames: Vec<Frame>,
}

fn table_frame() -> Option<u64> {
    frame::alloc(FrameUse::PageTable).ok().map(|f| f.phys())
}

impl Window {
    /// Maps `frames` (RAM frames the caller keeps alive and pinned while
    /// the window exists).
    pub fn map(frames: &[Frame]) -> Result<Window, WindowError> {
        let span = (frames.len() as u64 + 1) * PAGE_SIZE;
        let base = NEXT.fetch_add(span, Ordering::Relaxed);
        if base + span > NET_WINDOW_BASE + NET_WINDOW_SIZE {
            return Err(WindowError::RegionFull);
        }
        let mut w = Window {
            base,
            frames: Vec::with_capacity(frames.len()),
        };
        for (i, f) in frames.iter().enumerate() {
            with_kernel_space(|k| {
                k.map_4k(
                    base + i as u64 * PAGE_SIZE,
                    f.phys(),
                    PAGE_SIZE,
                    Access::ReadWrite,
                    Caching::WriteBack,
                    &mut table_frame,
                )
            })
            .map_err(WindowError::Paging)?
            .map_err(WindowError::Paging)?;
            w.frames.push(*f);
        }
        Ok(w)
    }

    /// Kernel address of the first byte.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.frames.len() * PAGE_SIZE as usize
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        for i in 0..self.frames.len() {
            let _ = with_kernel_space(|k| k.unmap_4k(self.base + i as u64 * PAGE_SIZE));
        }
    }
}

crate::kernel_test! {
    fn windows_map_scattered_frames_contiguously_and_unmap_on_drop() {
        let a = frame::alloc(FrameUse::Kernel)?;
        let b = frame::alloc(FrameUse::Kernel)?;
        crate::mm::phys::write_frame(a, 4095, &[0xAA]);
        crate::mm::phys::write_frame(b, 0, &[0xBB]);
        let w = Window::map(&[a, b])?;
        let t = with_kernel_space(|k| k.translate(w.base() + PAGE_SIZE))?.ok_or("second page unmapped")?;
        ensure!(t.writable && !t.executable, "window page mapped {t:?}");
        ensure_eq!(t.phys & !(PAGE_SIZE - 1), b.phys());
        ensure!(with_kernel_space(|k| k.translate(w.base() + 2 * PAGE_SIZE))?.is_none(), "no guard page after the window");
        let base = w.base();
        drop(w);
        ensure!(with_kernel_space(|k| k.translate(base))?.is_none(), "window still mapped after drop");
        frame::free(a)?;
        frame::free(b)?;
        Ok(())
    }
}
