//! PCI device discovery (bus 0 .. 255 brute force over configuration
//! space). Drivers (virtio-net, issue 4+) find their devices here; the boot
//! log lists what is present.

use alloc::vec::Vec;

use crate::arch::pci_config::read32;

/// PCI vendor ID of virtio devices.
pub const VENDOR_VIRTIO: u16 = 0x1AF4;

/// One PCI function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
    pub vendor: u16,
    pub device_id: u16,
    pub class: u8,
    pub subclass: u8,
}

impl Device {
    /// A short description of well-known devices.
    pub fn describe(&self) -> &'static str {
        match (self.vendor, self.device_id, self.class, self.subclass) {
            (VENDOR_VIRTIO, 0x1000 | 0x1041, _, _) => "virtio-net",
            (_, _, 0x06, 0x00) => "host bridge",
            (_, _, 0x06, 0x01) => "ISA bridge",
            (_, _, 0x01, _) => "storage controller",
            (_, _, 0x02, _) => "network controller",
            (_, _, 0x03, _) => "display controller",
            _ => "device",
        }
    }
}

impl core::fmt::Display for Device {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:02x}:{:02x}.{} {:04x}:{:04x} class {:02x}.{:02x} ({})",
            self.bus,
            self.device,
            self.function,
            self.vendor,
            self.device_id,
            self.class,
            self.subclass,
            self.describe()
        )
    }
}

fn probe(bus: u8, device: u8, function: u8) -> Option<Device> {
    let id = read32(bus, device, function, 0);
    let vendor = id as u16;
    if vendor == 0xFFFF {
        return None;
    }
    let class = read32(bus, device, function, 8);
    Some(Device {
        bus,
        device,
        function,
        vendor,
        device_id: (id >> 16) as u16,
        class: (class >> 24) as u8,
        subclass: (class >> 16) as u8,
    })
}

/// Every PCI function present.
pub fn scan() -> Vec<Device> {
    let mut found = Vec::new();
    for bus in 0..=255u8 {
        for device in 0..32u8 {
            let Some(first) = probe(bus, device, 0) else {
                continue;
            };
            found.push(first);
            let header_type = (read32(bus, device, 0, 0x0C) >> 16) as u8;
            if header_type & 0x80 != 0 {
                found.extend((1..8).filter_map(|f| probe(bus, device, f)));
            }
        }
    }
    found
}

/// Logs every PCI function.
pub fn log_devices() {
    for d in scan() {
        log::info!("pci {d}");
    }
}

crate::kernel_test! {
    fn pci_scan_finds_the_host_bridge() {
        let devices = scan();
        let bridge = devices.iter().find(|d| (d.bus, d.device, d.function) == (0, 0, 0));
        ensure!(bridge.is_some_and(|d| d.class == 0x06 && d.subclass == 0x00), "no host bridge at 00:00.0: {devices:?}");
        let mut sorted = devices.clone();
        sorted.dedup();
        ensure_eq!(sorted.len(), devices.len());
        Ok(())
    }
}
