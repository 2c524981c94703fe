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
