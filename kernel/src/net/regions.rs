//! Handler regions: the memory a handler's `region_ptr` and
//! `copy_to_region` reach. Kernel bindings get zeroed kernel memory;
//! environment bindings get the environment's own pages (pinned by the
//! binding layer) mapped contiguously through a [`Window`], so the owner
//! reads what its handler wrote without any copy or system call.

use alloc::boxed::Box;
use alloc::vec::Vec;

use filter_lang::bpf::spec::RegionDecl;

use super::window::{Window, WindowError};
use crate::mm::frame::Frame;

/// Region bytes one kernel binding's handler may have in all.
pub const MAX_KERNEL_REGION_BYTES: usize = 1 << 20;

/// Where a binding's regions come from.
pub enum RegionSource {
    /// Fresh zeroed kernel memory (kernel bindings).
    Kernel,
    /// One list of environment frames per declared region, in id order.
    Pages(Vec<Vec<Frame>>),
}

/// Why regions could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionError {
    /// Kernel regions adding up to more than [`MAX_KERNEL_REGION_BYTES`].
    TooLarge(usize),
    /// Page lists given for `given` regions, `declared` declared.
    CountMismatch {
        given: usize,
        declared: usize,
    },
    /// Region `id` declares `size` bytes, its pages hold `bytes`.
    TooSmall {
        id: usize,
        size: u32,
        bytes: usize,
    },
    Window(WindowError),
}

impl core::fmt::Display for RegionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooLarge(n) => write!(
                f,
                "the handler's regions need {n} bytes; at most {MAX_KERNEL_REGION_BYTES} are allowed"
            ),
            Self::CountMismatch { given, declared } => write!(
                f,
                "the handler declares {declared} region(s) but the request gives pages for {given}"
            ),
            Self::TooSmall { id, size, bytes } => write!(
                f,
                "region {id} declares {size} bytes but its pages hold only {bytes}"
            ),
            Self::Window(e) => write!(f, "{e}"),
        }
    }
}

enum Backing {
    Kernel(Box<[u64]>),
    Window(Window),
}

/// One region's memory: 8-byte aligned (page aligned for windows).
pub struct RegionMem {
    pub decl: RegionDecl,
    backing: Backing,
}

impl RegionMem {
    /// Kernel address of its first byte.
    pub fn base(&self) -> u64 {
        match &self.backing {
            Backing::Kernel(words) => words.as_ptr() as u64,
            Backing::Window(w) => w.base(),
        }
    }

    /// Its declared bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `base()..base() + decl.size` is memory this region owns
        // (a kernel allocation at least that long, or a window mapping
        // pages that hold it, checked in `build`), mapped read-write for
        // the region's life; `&self` keeps it alive and unchanged by the
        // kernel for the borrow (the owner environment does not run while
        // the kernel does: one CPU).
        unsafe { core::slice::from_raw_parts(self.base() as *const u8, self.decl.size as usize) }
    }

    /// Its declared bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes the borrow exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.base() as *mut u8, self.decl.size as usize) }
    }
}

/// Sets up the regions `decls` declares from `source`.
pub fn build(decls: &[RegionDecl], source: RegionSource) -> Result<Vec<RegionMem>, RegionError> {
    match source {
        RegionSource::Kernel => {
            let total: usize = decls.iter().map(|r| r.size as usize).sum();
            if total > MAX_KERNEL_REGION_BYTES {
                return Err(RegionError::TooLarge(total));
            }
            Ok(decls
                .iter()
                .map(|&decl| RegionMem {
                    decl,
                    backing: Backing::Kernel(
                        alloc::vec![0u64; (decl.size as usize).div_ceil(8)].into_boxed_slice(),
                    ),
                })
                .collect())
        }
        RegionSource::Pages(pages) => {
            if pages.len() != decls.len() {
                return Err(RegionError::CountMismatch {
                    given: pages.len(),
                    declared: decls.len(),
                });
            }
            let mut out = Vec::with_capacity(decls.len());
            for (id, (decl, frames)) in decls.iter().zip(pages).enumerate() {
                let bytes = frames.len() * 4096;
                if (decl.size as usize) > bytes {
                    return Err(RegionError::TooSmall {
                        id,
                        size: decl.size,
                        bytes,
                    });
                }
                let w = Window::map(&frames).map_err(RegionError::Window)?;
                out.push(RegionMem {
                    decl: *decl,
                    backing: Backing::Window(w),
                });
            }
            Ok(out)
        }
    }
}
