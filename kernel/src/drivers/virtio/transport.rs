//! The virtio 1.x PCI transport: finds the vendor capabilities (common
//! configuration, notifications, ISR, device configuration), maps their
//! windows, and implements the initialization steps of virtio 1.x §3.1.1:
//! reset, ACKNOWLEDGE, DRIVER, feature negotiation with FEATURES_OK, queue
//! setup with MSI-X vectors, DRIVER_OK.

use super::{NO_VECTOR, VirtioError, status};
use crate::drivers::mmio::Mmio;
use crate::drivers::pci_function::Function;

/// Vendor-specific PCI capability (virtio structures).
const CAP_VENDOR: u8 = 0x09;
/// `cfg_type` values.
const CFG_COMMON: u8 = 1;
const CFG_NOTIFY: u8 = 2;
const CFG_ISR: u8 = 3;
const CFG_DEVICE: u8 = 4;

/// Common configuration layout (virtio 1.x §4.1.4.3).
mod common {
    pub const DEVICE_FEATURE_SELECT: usize = 0x00;
    pub const DEVICE_FEATURE: usize = 0x04;
    pub const DRIVER_FEATURE_SELECT: usize = 0x08;
    pub const DRIVER_FEATURE: usize = 0x0C;
    pub const CONFIG_MSIX_VECTOR: usize = 0x10;
    pub const NUM_QUEUES: usize = 0x12;
    pub const DEVICE_STATUS: usize = 0x14;
    pub const CONFIG_GENERATION: usize = 0x15;
    pub const QUEUE_SELECT: usize = 0x16;
    pub const QUEUE_SIZE: usize = 0x18;
    pub const QUEUE_MSIX_VECTOR: usize = 0x1A;
    pub const QUEUE_ENABLE: usize = 0x1C;
    pub const QUEUE_NOTIFY_OFF: usize = 0x1E;
    pub const QUEUE_DESC: usize = 0x20;
    pub const QUEUE_DRIVER: usize = 0x28;
    pub const QUEUE_DEVICE: usize = 0x30;
    /// Bytes a driver of virtio 1.0 needs.
    pub const LEN: usize = 0x38;
}

/// Polls of the status register before a reset counts as failed.
const RESET_POLLS: u32 = 1_000_000;

/// Physical addresses of one queue's three parts.
#[derive(Clone, Copy, Debug)]
pub struct QueueAddrs {
    pub desc: u64,
    pub driver: u64,
    pub device: u64,
}

/// A modern virtio PCI function's register windows.
#[derive(Debug)]
pub struct Transport {
    func: Function,
    common: Mmio,
    notify: Mmio,
    notify_multiplier: u32,
    isr: Mmio,
    device: Mmio,
}

/// One virtio capability as found in configuration space.
#[derive(Clone, Copy, Debug)]
struct VirtioCap {
    cfg_type: u8,
    bar: u8,
    offset: u32,
    length: u32,
    at: u8,
}

fn read_caps(func: &Function) -> alloc::vec::Vec<VirtioCap> {
    func.capabilities()
        .into_iter()
        .filter(|c| c.id == CAP_VENDOR && c.offset <= 0xF0)
        .map(|c| VirtioCap {
            cfg_type: func.read8(c.offset + 3),
            bar: func.read8(c.offset + 4),
            offset: func.read32(c.offset + 8),
            length: func.read32(c.offset + 12),
            at: c.offset,
        })
        .collect()
}

impl Transport {
    /// Maps the capability windows of `func` (enabling memory decoding and
    /// DMA first). The device is not touched otherwise.
    pub fn new(func: Function) -> Result<Transport, VirtioError> {
        func.enable_memory_and_dma();
        let caps = read_caps(&func);
        // The spec lets a device offer several of a kind; the first usable
        // one is preferred (it is the one the device prefers).
        let find =
            |ty: u8, min: u32, what: &'static str| -> Result<(VirtioCap, Mmio), VirtioError> {
                let cap = caps
                    .iter()
                    .find(|c| c.cfg_type == ty && c.bar <= 5 && c.length >= min)
                    .ok_or(VirtioError::MissingCapability(what))?;
                let bar = func.memory_bar(cap.bar).map_err(VirtioError::Bar)?;
                let mmio = Mmio::map(bar + u64::from(cap.offset), cap.length as usize)
                    .map_err(VirtioError::Map)?;
                Ok((*cap, mmio))
            };
        let (_, common) = find(CFG_COMMON, common::LEN as u32, "common configuration")?;
        let (notify_cap, notify) = find(CFG_NOTIFY, 2, "notification")?;
        let (_, isr) = find(CFG_ISR, 1, "ISR status")?;
        let (_, device) = find(CFG_DEVICE, 1, "device configuration")?;
        let notify_multiplier = func.read32(notify_cap.at + 16);
        Ok(Transport {
            func,
            common,
            notify,
            notify_multiplier,
            isr,
            device,
        })
    }

    /// The PCI function.
    pub fn function(&self) -> Function {
        self.func
    }

    /// Resets the device and waits until it reports status 0.
    pub fn reset(&self) -> Result<(), VirtioError> {
        self.common.write8(common::DEVICE_STATUS, 0);
        for _ in 0..RESET_POLLS {
            if self.common.read8(common::DEVICE_STATUS) == 0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(VirtioError::ResetTimeout)
    }

    pub fn status(&self) -> u8 {
        self.common.read8(common::DEVICE_STATUS)
    }

    /// Sets `bits` in the device status (status bits are only ever added
    /// until the next reset).
    pub fn add_status(&self, bits: u8) {
        let s = self.status();
        self.common.write8(common::DEVICE_STATUS, s | bits);
    }

    /// Tells the device the driver gave up on it.
    pub fn fail(&self) {
        self.add_status(status::FAILED);
    }

    fn device_features(&self) -> u64 {
        let mut f = 0u64;
        for half in 0..2u32 {
            self.common.write32(common::DEVICE_FEATURE_SELECT, half);
            f |= u64::from(self.common.read32(common::DEVICE_FEATURE)) << (32 * half);
        }
        f
    }

    fn set_driver_features(&self, f: u64) {
        for half in 0..2u32 {
            self.common.write32(common::DRIVER_FEATURE_SELECT, half);
            self.common
                .write32(common::DRIVER_FEATURE, (f >> (32 * half)) as u32);
        }
    }

    /// Steps 1-6 of initialization: reset, ACKNOWLEDGE, DRIVER, then accept
    /// `offered & wanted` (which must include `required`) and check that
    /// the device keeps FEATURES_OK. Returns the negotiated features.
    pub fn negotiate(&self, wanted: u64, required: u64) -> Result<u64, VirtioError> {
        self.reset()?;
        self.add_status(status::ACKNOWLEDGE);
        self.add_status(status::DRIVER);
        let offered = self.device_features();
        if offered & required != required {
            self.fail();
            return Err(VirtioError::MissingFeatures { offered, required });
        }
        let accepted = offered & (wanted | required);
        self.set_driver_features(accepted);
        self.add_status(status::FEATURES_OK);
        if self.status() & status::FEATURES_OK == 0 {
            self.fail();
            return Err(VirtioError::FeaturesRejected(accepted));
        }
        Ok(accepted)
    }

    /// Number of queues the device has.
    pub fn num_queues(&self) -> u16 {
        self.common.read16(common::NUM_QUEUES)
    }

    /// Largest size queue `q` supports (0: no such queue).
    pub fn queue_max_size(&self, q: u16) -> u16 {
        self.common.write16(common::QUEUE_SELECT, q);
        self.common.read16(common::QUEUE_SIZE)
    }

    /// Configures and enables queue `q` with `size` entries, its parts at
    /// `addrs`, interrupts on MSI-X table entry `vector` (or `NO_VECTOR`).
    /// Returns the byte offset of the queue's doorbell in the notify window.
    pub fn setup_queue(
        &self,
        q: u16,
        size: u16,
        addrs: QueueAddrs,
        vector: u16,
    ) -> Result<usize, VirtioError> {
        self.common.write16(common::QUEUE_SELECT, q);
        let max = self.common.read16(common::QUEUE_SIZE);
        if max == 0 || self.common.read16(common::QUEUE_ENABLE) != 0 {
            return Err(VirtioError::NoQueue(q));
        }
        if size == 0 || size > max || !size.is_power_of_two() {
            return Err(VirtioError::BadQueueSize { queue: q, size });
        }
        self.common.write16(common::QUEUE_SIZE, size);
        self.common.write16(common::QUEUE_MSIX_VECTOR, vector);
        if vector != NO_VECTOR && self.common.read16(common::QUEUE_MSIX_VECTOR) != vector {
            return Err(VirtioError::VectorRefused { queue: Some(q) });
        }
        self.write64(common::QUEUE_DESC, addrs.desc);
        self.write64(common::QUEUE_DRIVER, addrs.driver);
        self.write64(common::QUEUE_DEVICE, addrs.device);
        let off = u64::from(self.common.read16(common::QUEUE_NOTIFY_OFF))
            * u64::from(self.notify_multiplier);
        if off + 2 > self.notify.len() as u64 {
            return Err(VirtioError::NotifyOutOfRange {
                queue: q,
                offset: off,
            });
        }
        self.common.write16(common::QUEUE_ENABLE, 1);
        Ok(off as usize)
    }

    /// Routes configuration-change interrupts to MSI-X entry `vector`.
    pub fn set_config_vector(&self, vector: u16) -> Result<(), VirtioError> {
        self.common.write16(common::CONFIG_MSIX_VECTOR, vector);
        if vector != NO_VECTOR && self.common.read16(common::CONFIG_MSIX_VECTOR) != vector {
            return Err(VirtioError::VectorRefused { queue: None });
        }
        Ok(())
    }

    fn write64(&self, off: usize, v: u64) {
        self.common.write32(off, v as u32);
        self.common.write32(off + 4, (v >> 32) as u32);
    }

    /// Rings queue `q`'s doorbell at `offset` (from `setup_queue`).
    pub fn notify(&self, offset: usize, q: u16) {
        self.notify.write16(offset, q);
    }

    /// Reads (and so acknowledges) the ISR status: bit 0 queue, bit 1
    /// configuration change. With MSI-X the device does not need it, but
    /// reading it is harmless.
    pub fn read_isr(&self) -> u8 {
        self.isr.read8(0)
    }

    /// Reads the device configuration with `f` until the configuration
    /// generation is stable around it (virtio 1.x §4.1.4.3.1).
    pub fn read_config<R>(&self, f: impl Fn(&Mmio) -> R) -> Result<R, VirtioError> {
        for _ in 0..16 {
            let before = self.common.read8(common::CONFIG_GENERATION);
            let r = f(&self.device);
            if self.common.read8(common::CONFIG_GENERATION) == before {
                return Ok(r);
            }
        }
        Err(VirtioError::ConfigUnstable)
    }

    /// Length of the device configuration window.
    pub fn device_config_len(&self) -> usize {
        self.device.len()
    }
}
