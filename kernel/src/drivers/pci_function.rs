//! One PCI function as a driver sees it: configuration registers, memory
//! BARs, the capability list, and the command register.
//!
//! Discovery stays in `crate::pci` (the bus scan); this module is what a
//! driver needs once it owns a function.

use alloc::vec::Vec;
use core::fmt;

use crate::arch::pci_config;
use crate::pci::Device;

/// Configuration-space offsets.
mod reg {
    pub const COMMAND: u8 = 0x04;
    pub const STATUS: u8 = 0x06;
    pub const BAR0: u8 = 0x10;
    pub const CAP_PTR: u8 = 0x34;
}

/// Command register bits.
mod cmd {
    pub const MEMORY_SPACE: u16 = 1 << 1;
    pub const BUS_MASTER: u16 = 1 << 2;
    pub const INTX_DISABLE: u16 = 1 << 10;
}

/// Status register: the function has a capability list.
const STATUS_CAP_LIST: u16 = 1 << 4;
/// A well-formed list has at most (256 - 64) / 4 entries; more means a loop.
const MAX_CAPS: usize = 48;

/// Errors reading a function's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciError {
    /// BAR index above 5, or the upper half of a 64-bit BAR.
    NoSuchBar(u8),
    /// The BAR decodes I/O ports, not memory.
    IoBar(u8),
    /// The BAR is not assigned (address 0).
    UnassignedBar(u8),
}

impl fmt::Display for PciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchBar(i) => write!(f, "BAR {i} does not exist"),
            Self::IoBar(i) => write!(f, "BAR {i} is an I/O-port BAR, a memory BAR was expected"),
            Self::UnassignedBar(i) => {
                write!(f, "BAR {i} has no address (the firmware did not assign it)")
            }
        }
    }
}

/// One capability: its id and where it starts in configuration space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    pub id: u8,
    pub offset: u8,
}

/// A PCI function owned by a driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl From<&Device> for Function {
    fn from(d: &Device) -> Function {
        Function {
            bus: d.bus,
            device: d.device,
            function: d.function,
        }
    }
}

impl Function {
    pub fn read32(&self, off: u8) -> u32 {
        pci_config::read32(self.bus, self.device, self.function, off)
    }

    pub fn read16(&self, off: u8) -> u16 {
        (self.read32(off & 0xFC) >> (u32::from(off & 2) * 8)) as u16
    }

    pub fn read8(&self, off: u8) -> u8 {
        (self.read32(off & 0xFC) >> (u32::from(off & 3) * 8)) as u8
    }

    pub fn write16(&self, off: u8, v: u16) {
        pci_config::write16(self.bus, self.device, self.function, off, v)
    }

    pub fn write32(&self, off: u8, v: u32) {
        pci_config::write32(self.bus, self.device, self.function, off, v)
    }

    /// Physical base address of memory BAR `index` (64-bit BARs combine
    /// with the next register).
    pub fn memory_bar(&self, index: u8) -> Result<u64, PciError> {
        if index > 5 {
            return Err(PciError::NoSuchBar(index));
        }
        let low = self.read32(reg::BAR0 + 4 * index);
        if low & 1 != 0 {
            return Err(PciError::IoBar(index));
        }
        let base = match (low >> 1) & 0b11 {
            0b10 if index < 5 => {
                let high = self.read32(reg::BAR0 + 4 * (index + 1));
                (u64::from(high) << 32) | u64::from(low & !0xF)
            }
            0b10 => return Err(PciError::NoSuchBar(index)),
            _ => u64::from(low & !0xF),
        };
        if base == 0 {
            return Err(PciError::UnassignedBar(index));
        }
        Ok(base)
    }

    /// The capability list (empty if the function has none).
    pub fn capabilities(&self) -> Vec<Capability> {
        let mut caps = Vec::new();
        if self.read16(reg::STATUS) & STATUS_CAP_LIST == 0 {
            return caps;
        }
        let mut at = self.read8(reg::CAP_PTR) & 0xFC;
        while at >= 0x40 && caps.len() < MAX_CAPS {
            let id = self.read8(at);
            caps.push(Capability { id, offset: at });
            at = self.read8(at + 1) & 0xFC;
        }
        caps
    }

    /// Enables memory decoding and bus mastering (DMA) and disables the
    /// legacy INTx pin (the kernel uses MSI-X only).
    pub fn enable_memory_and_dma(&self) {
        let c = self.read16(reg::COMMAND);
        self.write16(
            reg::COMMAND,
            c | cmd::MEMORY_SPACE | cmd::BUS_MASTER | cmd::INTX_DISABLE,
        );
    }

    /// Stops the function's DMA (bus mastering off).
    pub fn disable_dma(&self) {
        let c = self.read16(reg::COMMAND);
        self.write16(reg::COMMAND, c & !cmd::BUS_MASTER);
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}
