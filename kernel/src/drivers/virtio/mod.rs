//! Virtio 1.x (the "modern" interface) over PCI: the transport
//! ([`transport`]: capabilities, status, feature negotiation, queue setup,
//! notifications, device configuration) and split virtqueues ([`queue`]).
//! Legacy (0.9.5) devices are not driven: QEMU runs the NIC with
//! `disable-legacy=on`, and a transitional device is driven through its
//! modern interface.

pub mod queue;
pub mod transport;

use core::fmt;

/// Device status bits (virtio 1.x §2.1).
pub mod status {
    pub const ACKNOWLEDGE: u8 = 1;
    pub const DRIVER: u8 = 2;
    pub const DRIVER_OK: u8 = 4;
    pub const FEATURES_OK: u8 = 8;
    pub const NEEDS_RESET: u8 = 64;
    pub const FAILED: u8 = 128;
}

/// Device-independent feature bits.
pub mod feature {
    /// The device follows virtio 1.x (required: we drive nothing older).
    pub const VERSION_1: u64 = 1 << 32;
}

/// "No MSI-X vector" for queue and configuration interrupts.
pub const NO_VECTOR: u16 = 0xFFFF;

/// Everything that can go wrong bringing up or running a virtio device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VirtioError {
    /// A required PCI capability (common, notify, ISR, device config) is
    /// missing or too short.
    MissingCapability(&'static str),
    /// A capability names a BAR that is not a usable memory BAR.
    Bar(super::pci_function::PciError),
    Map(super::mmio::MmioError),
    /// The device did not return to status 0 after a reset.
    ResetTimeout,
    /// The device lacks features the driver requires.
    MissingFeatures {
        offered: u64,
        required: u64,
    },
    /// The device cleared FEATURES_OK: it rejects the feature subset.
    FeaturesRejected(u64),
    /// The queue does not exist or is already enabled.
    NoQueue(u16),
    /// Queue size 0, not a power of two, or above 32768.
    BadQueueSize {
        queue: u16,
        size: u16,
    },
    /// The device refused an MSI-X vector (read back `NO_VECTOR`).
    VectorRefused {
        queue: Option<u16>,
    },
    /// The queue's notification address lies outside the notify window.
    NotifyOutOfRange {
        queue: u16,
        offset: u64,
    },
    Dma(super::dma::DmaError),
    /// The device's configuration kept changing while read.
    ConfigUnstable,
}

impl fmt::Display for VirtioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingCapability(what) => write!(
                f,
                "the device lacks a usable virtio {what} capability (a modern virtio 1.x device is required; QEMU: disable-legacy=on)"
            ),
            Self::Bar(e) => write!(f, "virtio capability: {e}"),
            Self::Map(e) => write!(f, "virtio registers: {e}"),
            Self::ResetTimeout => write!(f, "the device did not complete its reset"),
            Self::MissingFeatures { offered, required } => write!(
                f,
                "the device offers features {offered:#x} but {required:#x} are required (missing {:#x})",
                required & !offered
            ),
            Self::FeaturesRejected(f2) => {
                write!(f, "the device did not accept the feature set {f2:#x}")
            }
            Self::NoQueue(q) => write!(f, "queue {q} does not exist or is already in use"),
            Self::BadQueueSize { queue, size } => write!(
                f,
                "queue {queue} has size {size}: not a power of two in 1..=32768"
            ),
            Self::VectorRefused { queue: Some(q) } => {
                write!(f, "the device refused an MSI-X vector for queue {q}")
            }
            Self::VectorRefused { queue: None } => write!(
                f,
                "the device refused an MSI-X vector for configuration changes"
            ),
            Self::NotifyOutOfRange { queue, offset } => write!(
                f,
                "queue {queue} notifies at offset {offset:#x}, outside the notify capability"
            ),
            Self::Dma(e) => write!(f, "{e}"),
            Self::ConfigUnstable => write!(
                f,
                "the device configuration changed on every read (generation never stable)"
            ),
        }
    }
}
