//! PCI configuration space through the legacy I/O ports 0xCF8/0xCFC
//! (configuration mechanism #1).

use x86_64::instructions::port::Port;

const ADDRESS: u16 = 0xCF8;
const DATA: u16 = 0xCFC;

/// Reads the 32-bit configuration register at `offset` (4-byte aligned) of
/// bus/device/function.
pub fn read32(bus: u8, device: u8, function: u8, offset: u8) -> u32 {
    let address = 0x8000_0000u32
        | (u32::from(bus) << 16)
        | (u32::from(device & 0x1F) << 11)
        | (u32::from(function & 0x7) << 8)
        | u32::from(offset & 0xFC);
    // SAFETY: configuration mechanism #1 ports; reads of configuration space
    // have no side effects on memory (interrupts are off, so the
    // address/data pair cannot be interleaved).
    unsafe {
        Port::<u32>::new(ADDRESS).write(address);
        Port::<u32>::new(DATA).read()
    }
}

/// Writes the 32-bit configuration register at `offset` (4-byte aligned) of
/// bus/device/function.
pub fn write32(bus: u8, device: u8, function: u8, offset: u8, value: u32) {
    let address = 0x8000_0000u32
        | (u32::from(bus) << 16)
        | (u32::from(device & 0x1F) << 11)
        | (u32::from(function & 0x7) << 8)
        | u32::from(offset & 0xFC);
    // SAFETY: configuration mechanism #1 ports; callers (PCI drivers) write
    // only registers of the functions they own (command, MSI-X control), and
    // interrupts are off, so the address/data pair cannot be interleaved.
    unsafe {
        Port::<u32>::new(ADDRESS).write(address);
        Port::<u32>::new(DATA).write(value);
    }
}

/// Writes the 16-bit configuration register at `offset` (2-byte aligned),
/// leaving the other half of its dword untouched (write-1-to-clear status
/// bits next to the command register stay as they are).
pub fn write16(bus: u8, device: u8, function: u8, offset: u8, value: u16) {
    let address = 0x8000_0000u32
        | (u32::from(bus) << 16)
        | (u32::from(device & 0x1F) << 11)
        | (u32::from(function & 0x7) << 8)
        | u32::from(offset & 0xFC);
    // SAFETY: as in `write32`; the data port accepts a 16-bit access at byte
    // offset 0 or 2 of the selected dword.
    unsafe {
        Port::<u32>::new(ADDRESS).write(address);
        Port::<u16>::new(DATA + u16::from(offset & 2)).write(value);
    }
}
