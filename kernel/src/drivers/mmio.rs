//! A window of device registers (memory-mapped I/O) with bounds-checked
//! volatile accessors. The window is mapped uncached by [`crate::mm::map_mmio`]
//! and never unmapped, so a `Mmio` stays valid for the kernel's lifetime.

use core::fmt;

/// Why a register window could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmioError {
    /// `mm::map_mmio` refused the range.
    Map { phys: u64, len: u64 },
}

impl fmt::Display for MmioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Map { phys, len } => write!(
                f,
                "cannot map device registers [{phys:#x}, +{len:#x}): outside the direct map or already mapped elsewhere"
            ),
        }
    }
}

/// `len` bytes of device registers at kernel address `base`.
#[derive(Clone, Copy, Debug)]
pub struct Mmio {
    base: u64,
    len: usize,
}

impl Mmio {
    /// Maps `[phys, phys + len)` uncached.
    pub fn map(phys: u64, len: usize) -> Result<Mmio, MmioError> {
        let base = crate::mm::map_mmio(phys, len as u64).map_err(|_| MmioError::Map {
            phys,
            len: len as u64,
        })?;
        Ok(Mmio { base, len })
    }

    /// Window length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Kernel address of byte `off` if `[off, off + size)` is inside the
    /// window and `off` is aligned to `size`; panics otherwise (a driver
    /// bug: offsets are constants or checked against capability lengths).
    fn at(&self, off: usize, size: usize) -> u64 {
        assert!(
            off.checked_add(size).is_some_and(|end| end <= self.len) && off.is_multiple_of(size),
            "register access [{off:#x}, +{size}) outside the {:#x}-byte window or misaligned",
            self.len
        );
        self.base + off as u64
    }

    pub fn read8(&self, off: usize) -> u8 {
        let p = self.at(off, 1) as *const u8;
        // SAFETY: `at` checked the access lies inside the mapped window, which
        // stays mapped (uncached) for the kernel's lifetime.
        unsafe { core::ptr::read_volatile(p) }
    }

    pub fn read16(&self, off: usize) -> u16 {
        let p = self.at(off, 2) as *const u16;
        // SAFETY: as in `read8`; `at` checked alignment.
        unsafe { core::ptr::read_volatile(p) }
    }

    pub fn read32(&self, off: usize) -> u32 {
        let p = self.at(off, 4) as *const u32;
        // SAFETY: as in `read16`.
        unsafe { core::ptr::read_volatile(p) }
    }

    pub fn write8(&self, off: usize, v: u8) {
        let p = self.at(off, 1) as *mut u8;
        // SAFETY: as in `read8`; device registers, no Rust object lives there.
        unsafe { core::ptr::write_volatile(p, v) }
    }

    pub fn write16(&self, off: usize, v: u16) {
        let p = self.at(off, 2) as *mut u16;
        // SAFETY: as in `write8`; `at` checked alignment.
        unsafe { core::ptr::write_volatile(p, v) }
    }

    pub fn write32(&self, off: usize, v: u32) {
        let p = self.at(off, 4) as *mut u32;
        // SAFETY: as in `write16`.
        unsafe { core::ptr::write_volatile(p, v) }
    }
}
