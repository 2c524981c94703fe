//! Boot information from the loader: physical memory map and command line,
//! parsed from either Multiboot1 (QEMU `-kernel`) or Multiboot2 (GRUB) and
//! copied into a loader-independent [`BootInfo`].
//!
//! The parsers work on byte slices and a [`PhysReader`] so they are pure and
//! testable; `mm::phys` provides the reader over real memory.

pub mod multiboot1;
pub mod multiboot2;

use core::fmt;

/// EAX value a Multiboot1 loader passes.
pub const MULTIBOOT1_MAGIC: u32 = 0x2BAD_B002;
/// EAX value a Multiboot2 loader passes.
pub const MULTIBOOT2_MAGIC: u32 = 0x36D7_6289;
/// Most memory-map regions kept (extra ones are reported as an error).
pub const MAX_REGIONS: usize = 64;
/// Longest kernel command line kept, in bytes.
pub const MAX_CMDLINE: usize = 512;

/// Reads physical memory during boot.
pub trait PhysReader {
    /// The bytes `[phys, phys + len)`, or an error if that range is not
    /// readable.
    fn read(&self, phys: u64, len: usize) -> Result<&[u8], BootInfoError>;
}

/// Which protocol booted us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loader {
    Multiboot1,
    Multiboot2,
}

/// Type of a physical memory region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    Usable,
    Reserved,
    AcpiReclaimable,
    AcpiNvs,
    Defective,
    Other(u32),
}

impl RegionKind {
    /// Maps the Multiboot type number (same in both versions).
    pub fn from_multiboot(kind: u32) -> RegionKind {
        match kind {
            1 => Self::Usable,
            2 => Self::Reserved,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Defective,
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for RegionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usable => write!(f, "usable"),
            Self::Reserved => write!(f, "reserved"),
            Self::AcpiReclaimable => write!(f, "ACPI reclaimable"),
            Self::AcpiNvs => write!(f, "ACPI NVS"),
            Self::Defective => write!(f, "defective"),
            Self::Other(n) => write!(f, "type {n}"),
        }
    }
}

/// A physical memory region `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    pub start: u64,
    pub end: u64,
    pub kind: RegionKind,
}

/// The physical memory map, as reported by the loader (unsorted as given).
#[derive(Clone, Copy, Debug)]
pub struct MemoryMap {
    regions: [MemoryRegion; MAX_REGIONS],
    len: usize,
}

impl MemoryMap {
    /// An empty map.
    pub const fn new() -> MemoryMap {
        MemoryMap {
            regions: [MemoryRegion {
                start: 0,
                end: 0,
                kind: RegionKind::Reserved,
            }; MAX_REGIONS],
            len: 0,
        }
    }

    /// Appends a region; zero-length regions are dropped.
    pub fn push(&mut self, start: u64, len: u64, kind: RegionKind) -> Result<(), BootInfoError> {
        if len == 0 {
            return Ok(());
        }
        let end = start
            .checked_add(len)
            .ok_or(BootInfoError::RegionOverflows { start, len })?;
        let slot = self
            .regions
            .get_mut(self.len)
            .ok_or(BootInfoError::TooManyRegions)?;
        *slot = MemoryRegion { start, end, kind };
        self.len += 1;
        Ok(())
    }

    /// The regions.
    pub fn regions(&self) -> &[MemoryRegion] {
        &self.regions[..self.len]
    }

    /// Usable regions only.
    pub fn usable(&self) -> impl Iterator<Item = &MemoryRegion> {
        self.regions()
            .iter()
            .filter(|r| r.kind == RegionKind::Usable)
    }

    /// Total bytes of usable memory.
    pub fn usable_bytes(&self) -> u64 {
        self.usable().map(|r| r.end - r.start).sum()
    }

    /// End of the highest usable region (0 if none).
    pub fn usable_end(&self) -> u64 {
        self.usable().map(|r| r.end).max().unwrap_or(0)
    }
}

impl Default for MemoryMap {
    fn default() -> Self {
        Self::new()
    }
}

/// What the kernel keeps from the boot information.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    pub loader: Loader,
    pub memory: MemoryMap,
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
}

impl BootInfo {
    /// Empty boot info for `loader`.
    pub const fn new(loader: Loader) -> BootInfo {
        BootInfo {
            loader,
            memory: MemoryMap::new(),
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
        }
    }

    /// Stores the command line (a C string's bytes, without the NUL).
    /// Over-long lines are cut at `MAX_CMDLINE`; invalid UTF-8 is an error.
    pub fn set_cmdline(&mut self, bytes: &[u8]) -> Result<(), BootInfoError> {
        let bytes = &bytes[..bytes.len().min(MAX_CMDLINE)];
        core::str::from_utf8(bytes).map_err(|_| BootInfoError::CmdlineNotUtf8)?;
        self.cmdline[..bytes.len()].copy_from_slice(bytes);
        self.cmdline_len = bytes.len();
        Ok(())
    }

    /// The kernel command line.
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }
}

/// Errors while reading the boot information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    /// EAX did not hold a Multiboot magic: the kernel was not started by a
    /// Multiboot loader.
    UnknownMagic(u32),
    /// A structure lies outside the memory the boot page tables map.
    Unreadable { phys: u64, len: usize },
    /// A structure is shorter than its header says.
    Truncated { what: &'static str },
    /// The loader supplied no memory map.
    NoMemoryMap,
    /// More regions than `MAX_REGIONS`.
    TooManyRegions,
    /// A region's end overflows 64 bits.
    RegionOverflows { start: u64, len: u64 },
    /// The command line is not UTF-8.
    CmdlineNotUtf8,
    /// A C string has no terminating NUL within the readable range.
    UnterminatedString,
}

impl fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownMagic(m) => {
                write!(
                    f,
                    "boot magic {m:#x} is neither Multiboot1 nor Multiboot2: boot exo with QEMU -kernel or GRUB"
                )
            }
            Self::Unreadable { phys, len } => write!(
                f,
                "boot structure at {phys:#x} (+{len}) is outside mapped memory"
            ),
            Self::Truncated { what } => write!(f, "boot information truncated in {what}"),
            Self::NoMemoryMap => write!(f, "the boot loader provided no memory map"),
            Self::TooManyRegions => write!(f, "memory map has more than {MAX_REGIONS} regions"),
            Self::RegionOverflows { start, len } => {
                write!(f, "memory region {start:#x}+{len:#x} overflows")
            }
            Self::CmdlineNotUtf8 => write!(f, "kernel command line is not UTF-8"),
            Self::UnterminatedString => write!(f, "boot string is not NUL-terminated"),
        }
    }
}

/// Parses the boot information at `info_phys` given the loader's `magic`.
pub fn parse(magic: u32, info_phys: u64, mem: &dyn PhysReader) -> Result<BootInfo, BootInfoError> {
    match magic {
        MULTIBOOT1_MAGIC => multiboot1::parse(info_phys, mem),
        MULTIBOOT2_MAGIC => multiboot2::parse(info_phys, mem),
        other => Err(BootInfoError::UnknownMagic(other)),
    }
}

/// Little-endian field readers over a byte slice.
pub(crate) fn u32_at(bytes: &[u8], off: usize, what: &'static str) -> Result<u32, BootInfoError> {
    let b = bytes
        .get(off..off + 4)
        .ok_or(BootInfoError::Truncated { what })?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub(crate) fn u64_at(bytes: &[u8], off: usize, what: &'static str) -> Result<u64, BootInfoError> {
    let lo = u32_at(bytes, off, what)?;
    let hi = u32_at(bytes, off + 4, what)?;
    Ok(u64::from(lo) | (u64::from(hi) << 32))
}

/// Reads a NUL-terminated string at `phys` (at most `MAX_CMDLINE` bytes).
pub(crate) fn c_string(phys: u64, mem: &dyn PhysReader) -> Result<&[u8], BootInfoError> {
    // Shrink the window near the end of readable memory.
    let mut len = MAX_CMDLINE + 1;
    let bytes = loop {
        match mem.read(phys, len) {
            Ok(b) => break b,
            Err(e) if len == 1 => return Err(e),
            Err(_) => len /= 2,
        }
    };
    match bytes.iter().position(|&b| b == 0) {
        Some(n) => Ok(&bytes[..n]),
        None if bytes.len() > MAX_CMDLINE => Ok(&bytes[..MAX_CMDLINE]),
        None => Err(BootInfoError::UnterminatedString),
    }
}
