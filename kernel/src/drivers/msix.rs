//! MSI-X (PCI capability 0x11): programs table entries to deliver a vector
//! to this CPU's local APIC and enables the function's MSI-X.
//!
//! Message address `0xFEE0_0000 | apic_id << 12` (physical destination,
//! no redirection hint), data = the vector (fixed delivery, edge).

use core::fmt;

use super::mmio::{Mmio, MmioError};
use super::pci_function::{Function, PciError};

/// The MSI-X capability id.
pub const CAP_ID: u8 = 0x11;
/// Bytes per table entry.
const ENTRY: usize = 16;
/// Message control: MSI-X enable, function mask.
const CTRL_ENABLE: u16 = 1 << 15;
const CTRL_MASK_ALL: u16 = 1 << 14;
/// Vector control: entry masked.
const ENTRY_MASKED: u32 = 1;

/// Errors setting up MSI-X.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsixError {
    /// The function has no MSI-X capability.
    Missing,
    /// The table BAR is unusable.
    Bar(PciError),
    Map(MmioError),
    /// An entry beyond the table was requested.
    NoEntry {
        entry: u16,
        table_size: u16,
    },
}

impl fmt::Display for MsixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "the function has no MSI-X capability"),
            Self::Bar(e) => write!(f, "MSI-X table: {e}"),
            Self::Map(e) => write!(f, "MSI-X table: {e}"),
            Self::NoEntry { entry, table_size } => write!(
                f,
                "MSI-X entry {entry} requested but the table has only {table_size}"
            ),
        }
    }
}

/// A function's MSI-X table.
#[derive(Debug)]
pub struct Msix {
    func: Function,
    cap: u8,
    table: Mmio,
    size: u16,
}

impl Msix {
    /// Finds the capability and maps the table (MSI-X still disabled).
    pub fn new(func: Function) -> Result<Msix, MsixError> {
        let cap = func
            .capabilities()
            .into_iter()
            .find(|c| c.id == CAP_ID)
            .ok_or(MsixError::Missing)?
            .offset;
        let size = (func.read16(cap + 2) & 0x7FF) + 1;
        let table_reg = func.read32(cap + 4);
        let bar = func
            .memory_bar((table_reg & 7) as u8)
            .map_err(MsixError::Bar)?;
        let phys = bar + u64::from(table_reg & !7);
        let table = Mmio::map(phys, usize::from(size) * ENTRY).map_err(MsixError::Map)?;
        let msix = Msix {
            func,
            cap,
            table,
            size,
        };
        for e in 0..size {
            msix.table
                .write32(usize::from(e) * ENTRY + 12, ENTRY_MASKED);
        }
        Ok(msix)
    }

    /// Number of table entries.
    pub fn size(&self) -> u16 {
        self.size
    }

    /// Points `entry` at `vector` on the local APIC `apic_id` and unmasks it.
    pub fn route(&self, entry: u16, vector: u8, apic_id: u32) -> Result<(), MsixError> {
        if entry >= self.size {
            return Err(MsixError::NoEntry {
                entry,
                table_size: self.size,
            });
        }
        let base = usize::from(entry) * ENTRY;
        self.table.write32(base + 12, ENTRY_MASKED);
        self.table
            .write32(base, 0xFEE0_0000 | ((apic_id & 0xFF) << 12));
        self.table.write32(base + 4, 0);
        self.table.write32(base + 8, u32::from(vector));
        self.table.write32(base + 12, 0);
        Ok(())
    }

    /// Enables MSI-X for the function (and clears the function mask).
    pub fn enable(&self) {
        let ctrl = self.func.read16(self.cap + 2);
        self.func
            .write16(self.cap + 2, (ctrl | CTRL_ENABLE) & !CTRL_MASK_ALL);
    }

    /// Disables MSI-X for the function.
    pub fn disable(&self) {
        let ctrl = self.func.read16(self.cap + 2);
        self.func.write16(self.cap + 2, ctrl & !CTRL_ENABLE);
    }
}
