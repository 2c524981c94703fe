//! Executable memory for compiled code (the classifier and handlers).
//!
//! Each block gets fresh frames and a fresh range of the code region
//! (`layout::CODE_BASE`, one unmapped page between blocks). Placement keeps
//! W^X: the pages are mapped read-write and non-executable, the code is
//! written and relocated, then every page is unmapped and mapped again
//! read-execute. Nothing is ever writable and executable through the same
//! mapping, and placed code never changes; dropping a block unmaps it and
//! frees its frames.

use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::layout::{CODE_BASE, CODE_SIZE, PAGE_SIZE};
use crate::arch::paging::{Access, Caching, PagingError, with_kernel_space};
use crate::mm::frame::{self, Frame, FrameUse};

/// Byte that fills the rest of a code block's last page (`int3`).
const FILL: u8 = 0xCC;

static NEXT: AtomicU64 = AtomicU64::new(CODE_BASE);

/// Why code could not be placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeError {
    Empty,
    OutOfMemory,
    /// The code region's address space is used up.
    RegionFull,
    Paging(PagingError),
    /// A relocation did not fit the code (compiler output mismatch).
    Relocation(ash_compiler::reloc::RelocError),
}

impl fmt::Display for CodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "no code to place"),
            Self::OutOfMemory => write!(f, "no free frames for compiled code"),
            Self::RegionFull => write!(f, "the compiled-code address range is exhausted"),
            Self::Paging(e) => write!(f, "mapping compiled code: {e}"),
            Self::Relocation(e) => write!(f, "{e}"),
        }
    }
}

impl From<PagingError> for CodeError {
    fn from(e: PagingError) -> Self {
        Self::Paging(e)
    }
}

/// Placed, executable, immutable code.
#[derive(Debug)]
pub struct CodeBlock {
    virt: u64,
    len: usize,
    frames: Vec<Frame>,
}

fn table_frame() -> Option<u64> {
    frame::alloc(FrameUse::PageTable).ok().map(|f| f.phys())
}

impl CodeBlock {
    /// Places `code`, applying `relocs` (resolved by `resolve`) while the
    /// pages are still writable.
    pub fn place(
        code: &[u8],
        relocs: &[ash_compiler::reloc::Relocation],
        resolve: impl FnMut(ash_compiler::reloc::RelocTarget) -> u64,
    ) -> Result<CodeBlock, CodeError> {
        if code.is_empty() {
            return Err(CodeError::Empty);
        }
        let mut bytes = code.to_vec();
        ash_compiler::reloc::apply(&mut bytes, relocs, resolve).map_err(CodeError::Relocation)?;
        let pages = bytes.len().div_ceil(PAGE_SIZE as usize);
        bytes.resize(pages * PAGE_SIZE as usize, FILL);
        let span = (pages as u64 + 1) * PAGE_SIZE;
        let virt = NEXT.fetch_add(span, Ordering::Relaxed);
        if virt + span > CODE_BASE + CODE_SIZE {
            return Err(CodeError::RegionFull);
        }
        let mut block = CodeBlock {
            virt,
            len: code.len(),
            frames: Vec::with_capacity(pages),
        };
        for i in 0..pages {
            let f = frame::alloc(FrameUse::Kernel).map_err(|_| CodeError::OutOfMemory)?;
            block.frames.push(f);
            let page = virt + i as u64 * PAGE_SIZE;
            with_kernel_space(|k| {
                k.map_4k(
                    page,
                    f.phys(),
                    PAGE_SIZE,
                    Access::ReadWrite,
                    Caching::WriteBack,
                    &mut table_frame,
                )
            })??;
        }
        // SAFETY: `[virt, virt + bytes.len())` was just mapped read-write
        // to frames this block owns; nothing else refers to it.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), virt as *mut u8, bytes.len()) };
        for (i, f) in block.frames.iter().enumerate() {
            let page = virt + i as u64 * PAGE_SIZE;
            with_kernel_space(|k| -> Result<(), PagingError> {
                k.unmap_4k(page)?;
                k.map_4k(
                    page,
                    f.phys(),
                    PAGE_SIZE,
                    Access::ReadExecute,
                    Caching::WriteBack,
                    &mut table_frame,
                )
            })??;
        }
        Ok(block)
    }

    /// Address of byte `offset` of the code.
    pub fn addr(&self, offset: usize) -> *const u8 {
        assert!(offset < self.len, "code offset {offset} past the block");
        (self.virt + offset as u64) as *const u8
    }

    /// Where the block starts.
    pub fn base(&self) -> u64 {
        self.virt
    }

    /// Code bytes (without the fill).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for CodeBlock {
    fn drop(&mut self) {
        for (i, f) in self.frames.iter().enumerate() {
            let page = self.virt + i as u64 * PAGE_SIZE;
            // A page that failed to map during `place` is simply absent.
            let _ = with_kernel_space(|k| k.unmap_4k(page));
            if let Err(e) = frame::free(*f) {
                log::error!("net: cannot free code {f}: {e:?}");
            }
        }
    }
}

crate::kernel_test! {
    fn placed_code_is_executable_read_only_and_runs() {
        // mov eax, 42; ret
        let block = CodeBlock::place(&[0xB8, 42, 0, 0, 0, 0xC3], &[], |_| 0)?;
        let t = with_kernel_space(|k| k.translate(block.base()))?.ok_or("code unmapped")?;
        ensure!(t.executable && !t.writable, "code page mapped {t:?}");
        let f: extern "sysv64" fn() -> u32 =
            // SAFETY: the block holds exactly the 6-byte function above,
            // mapped executable.
            unsafe { core::mem::transmute::<*const u8, extern "sysv64" fn() -> u32>(block.addr(0)) };
        ensure_eq!(f(), 42);
        let base = block.base();
        drop(block);
        ensure!(with_kernel_space(|k| k.translate(base))?.is_none(), "code still mapped after drop");
        let audit = crate::arch::paging::audit();
        ensure_eq!(audit.writable_and_executable, 0);
        Ok(())
    }
}
