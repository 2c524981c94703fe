//! Host-only (feature `host`): executable memory for compiled code on Linux,
//! and buffers fenced by inaccessible guard pages.
//!
//! [`ExecBuffer`] keeps W^X: the code is written while the mapping is
//! read-write, then the mapping becomes read-execute before anything runs.

use crate::handler::Compiled;
use crate::reloc::{self, RelocTarget};
use crate::runtime;
use core::fmt;
use core::ptr::NonNull;
use filter_lang::bpf::helpers::{HelperFault, HelperMemory, Helpers};

/// Why host memory could not be set up.
#[derive(Debug)]
pub enum HostError {
    /// `mmap` failed.
    Map(std::io::Error),
    /// `mprotect` failed.
    Protect(std::io::Error),
    /// The relocations do not fit the code.
    Reloc(reloc::RelocError),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Map(e) => write!(f, "cannot map memory for compiled code: {e}"),
            HostError::Protect(e) => write!(f, "cannot make compiled code executable: {e}"),
            HostError::Reloc(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HostError {}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

/// An anonymous private mapping, unmapped on drop.
struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    fn new(len: usize, prot: libc::c_int) -> Result<Mapping, HostError> {
        // SAFETY: an anonymous mapping at a kernel-chosen address touches no
        // existing memory.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(HostError::Map(std::io::Error::last_os_error()));
        }
        let ptr = NonNull::new(p as *mut u8)
            .ok_or_else(|| HostError::Map(std::io::Error::other("mmap returned a null mapping")))?;
        Ok(Mapping { ptr, len })
    }

    fn protect(&self, offset: usize, len: usize, prot: libc::c_int) -> Result<(), HostError> {
        // SAFETY: the range lies inside this mapping (callers pass page-aligned
        // sub-ranges of it).
        let r = unsafe { libc::mprotect(self.ptr.as_ptr().add(offset) as *mut _, len, prot) };
        if r != 0 {
            return Err(HostError::Protect(std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping this value owns; no references
        // into it outlive the owner.
        unsafe { libc::munmap(self.ptr.as_ptr() as *mut _, self.len) };
    }
}

/// Compiled code placed in read-execute memory with relocations applied.
pub struct ExecBuffer {
    map: Mapping,
    entry: usize,
    code_len: usize,
}

impl ExecBuffer {
    /// Places `c`: maps read-write, copies, relocates against this crate's
    /// [`runtime::helper_trampoline`], then switches to read-execute.
    pub fn new(c: &Compiled) -> Result<ExecBuffer, HostError> {
        Self::place(&c.code, &c.relocations, c.entry)
    }

    /// Places a compiled classifier (no relocations).
    pub fn new_trie(c: &crate::trie::CompiledTrie) -> Result<ExecBuffer, HostError> {
        Self::place(&c.code, &[], c.entry)
    }

    fn place(
        code: &[u8],
        relocs: &[crate::reloc::Relocation],
        entry: usize,
    ) -> Result<ExecBuffer, HostError> {
        let page = page_size();
        let len = code.len().max(1).div_ceil(page) * page;
        let map = Mapping::new(len, libc::PROT_READ | libc::PROT_WRITE)?;
        // SAFETY: the mapping is `len >= code.len()` bytes, read-write, and
        // owned by `map` alone.
        let dst = unsafe { core::slice::from_raw_parts_mut(map.ptr.as_ptr(), code.len()) };
        dst.copy_from_slice(code);
        reloc::apply(dst, relocs, |t| match t {
            RelocTarget::HelperTrampoline => runtime::helper_trampoline_address(),
        })
        .map_err(HostError::Reloc)?;
        map.protect(0, len, libc::PROT_READ | libc::PROT_EXEC)?;
        Ok(ExecBuffer {
            map,
            entry,
            code_len: code.len(),
        })
    }

    /// Classifies `frame` with a placed classifier (see [`ExecBuffer::new_trie`]).
    ///
    /// # Safety
    /// `self` must hold the code of a classifier placed by
    /// [`ExecBuffer::new_trie`], and `leaves` must be that compilation's tables.
    pub unsafe fn classify(
        &self,
        leaves: &crate::trie::LeafTables,
        frame: &[u8],
    ) -> Option<(u32, u32)> {
        // SAFETY: forwarded contract.
        unsafe { runtime::classify(self.entry(), leaves, frame) }
    }

    /// The entry point's address.
    pub fn entry(&self) -> *const u8 {
        // SAFETY: `entry` is an offset inside the placed code.
        unsafe { self.map.ptr.as_ptr().add(self.entry) }
    }

    /// The placed code (as relocated), for inspection.
    pub fn code(&self) -> &[u8] {
        // SAFETY: the first `code_len` bytes are initialised and readable
        // (read-execute) for the life of `self`.
        unsafe { core::slice::from_raw_parts(self.map.ptr.as_ptr(), self.code_len) }
    }

    /// Runs the program with `r1`, `r2`.
    ///
    /// # Safety
    /// As [`runtime::call`]: the code came from a verified program, and
    /// `r1`/`r2` satisfy its program type's contract.
    pub unsafe fn call(
        &self,
        r1: u64,
        r2: u64,
        helpers: &mut dyn Helpers,
        mem: &mut dyn HelperMemory,
    ) -> Result<u64, HelperFault> {
        // SAFETY: forwarded contract; the entry is placed, relocated code.
        unsafe { runtime::call(self.entry(), r1, r2, helpers, mem) }
    }
}

/// Where a [`GuardedBuf`] puts its data relative to the guard pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// The first byte follows the leading guard page (catches underruns).
    Start,
    /// The last byte precedes the trailing guard page (catches overruns).
    End,
}

/// A byte buffer with `PROT_NONE` pages on both sides: any access outside
/// it on the flush side faults immediately.
pub struct GuardedBuf {
    map: Mapping,
    data_off: usize,
    len: usize,
}

impl GuardedBuf {
    /// A zero-filled buffer of `len` bytes.
    pub fn new(len: usize, flush: Flush) -> Result<GuardedBuf, HostError> {
        let page = page_size();
        let body = len.max(1).div_ceil(page) * page;
        let map = Mapping::new(body + 2 * page, libc::PROT_READ | libc::PROT_WRITE)?;
        map.protect(0, page, libc::PROT_NONE)?;
        map.protect(page + body, page, libc::PROT_NONE)?;
        let data_off = match flush {
            Flush::Start => page,
            Flush::End => page + body - len,
        };
        Ok(GuardedBuf { map, data_off, len })
    }

    /// A buffer holding a copy of `data`.
    pub fn from_slice(data: &[u8], flush: Flush) -> Result<GuardedBuf, HostError> {
        let mut b = GuardedBuf::new(data.len(), flush)?;
        b.as_mut_slice().copy_from_slice(data);
        Ok(b)
    }

    /// Address of the first byte.
    pub fn addr(&self) -> u64 {
        self.map.ptr.as_ptr() as u64 + self.data_off as u64
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `data_off..data_off+len` is inside the read-write body.
        unsafe { core::slice::from_raw_parts(self.map.ptr.as_ptr().add(self.data_off), self.len) }
    }

    /// The bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as `as_slice`, and `&mut self` makes the borrow unique.
        unsafe {
            core::slice::from_raw_parts_mut(self.map.ptr.as_ptr().add(self.data_off), self.len)
        }
    }

    /// The buffer as a helper-memory region.
    pub fn region(&self, writable: bool) -> runtime::Region {
        runtime::Region {
            start: self.addr(),
            len: self.len,
            writable,
        }
    }
}
