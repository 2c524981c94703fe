//! The virtio-net driver (QEMU `virtio-net-pci`, virtio 1.x).
//!
//! * Features: VERSION_1, MAC, STATUS; no offloads (no checksum, no GSO,
//!   no mergeable buffers), so every received buffer holds one whole frame
//!   behind a 12-byte header that must be all zero.
//! * One RX and one TX split queue (index 0 and 1), up to 256 entries each.
//!   Descriptor `i` always points at buffer `i` (2 KiB, two per DMA page):
//!   a buffer is recycled by offering its descriptor again.
//! * Interrupts: MSI-X entry 0 for RX, entry 1 for configuration changes
//!   (link state); TX completions raise none (TX buffers are reclaimed on
//!   the next transmit).
//! * Every length and id the device reports is checked against the queue
//!   and buffer sizes: a bad one is reported as [`RxBad`] and the buffer
//!   is dealt with, never trusted.
//!
//! The network path (`crate::net`) owns the single device instance, takes
//! received frames from [`VirtioNet::poll_rx`] and sends with
//! [`VirtioNet::transmit`].

mod rx;
mod tx;

pub use rx::{RxBad, RxEvent};
pub use tx::TxError;

use core::fmt;

use spin::Mutex;

use super::msix::{Msix, MsixError};
use super::pci_function::Function;
use super::virtio::transport::Transport;
use super::virtio::{NO_VECTOR, VirtioError, feature, status};
use crate::irq;
use crate::pci::{Device, VENDOR_VIRTIO};

/// PCI device ids: transitional and modern virtio-net.
pub const DEVICE_TRANSITIONAL: u16 = 0x1000;
pub const DEVICE_MODERN: u16 = 0x1041;

/// virtio-net feature bits.
pub mod features {
    /// The device has a MAC address in its configuration.
    pub const MAC: u64 = 1 << 5;
    /// The configuration's status field (link up) is valid.
    pub const STATUS: u64 = 1 << 16;
}

/// Bytes of `struct virtio_net_hdr` with VERSION_1 (num_buffers included).
pub const HDR_LEN: usize = 12;
/// Bytes per receive/transmit buffer (header included); two per page.
pub const BUF_LEN: usize = 2048;
/// Longest frame a receive buffer holds (longer ones the device drops).
pub const MAX_RX_FRAME: usize = BUF_LEN - HDR_LEN;
/// Longest frame the driver transmits (Ethernet without FCS or VLAN tag).
pub const MAX_TX_FRAME: usize = 1514;
/// Queue size used when the device allows it.
pub const QUEUE_SIZE: u16 = 256;

const RX_QUEUE: u16 = 0;
const TX_QUEUE: u16 = 1;
const MSIX_RX: u16 = 0;
const MSIX_CONFIG: u16 = 1;
/// Configuration: `mac[6]` at 0, `status: u16` at 6 (bit 0: link up).
const CFG_MAC: usize = 0;
const CFG_STATUS: usize = 6;
const LINK_UP: u16 = 1;
/// Configuration bytes the driver reads.
const CFG_LEN: usize = 8;

/// Why the NIC could not be brought up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetDriverError {
    NotVirtioNet,
    Virtio(VirtioError),
    Msix(MsixError),
    Irq(irq::IrqError),
    /// The device has fewer than two queues (one RX, one TX).
    TooFewQueues(u16),
    /// The device configuration window cannot hold the MAC and status.
    ConfigTooShort(usize),
}

impl fmt::Display for NetDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotVirtioNet => write!(f, "the PCI function is not a virtio-net device"),
            Self::Virtio(e) => write!(f, "virtio: {e}"),
            Self::Msix(e) => write!(f, "{e}"),
            Self::Irq(e) => write!(f, "interrupt vector: {e}"),
            Self::TooFewQueues(n) => write!(
                f,
                "the device has {n} queue(s); an RX and a TX queue are required"
            ),
            Self::ConfigTooShort(n) => write!(
                f,
                "the device configuration is {n} bytes; MAC and status need {CFG_LEN}"
            ),
        }
    }
}

impl From<VirtioError> for NetDriverError {
    fn from(e: VirtioError) -> Self {
        Self::Virtio(e)
    }
}

impl From<MsixError> for NetDriverError {
    fn from(e: MsixError) -> Self {
        Self::Msix(e)
    }
}

/// Whether `d` is a virtio-net function this driver can take.
pub fn matches(d: &Device) -> bool {
    d.vendor == VENDOR_VIRTIO && matches!(d.device_id, DEVICE_TRANSITIONAL | DEVICE_MODERN)
}

/// Interrupt handlers the network path supplies.
#[derive(Clone, Copy)]
pub struct Handlers {
    /// Frames were received (interrupt context: keep it short).
    pub rx: irq::Handler,
    /// The device configuration (link state) changed.
    pub config: irq::Handler,
}

/// A running virtio-net device.
pub struct VirtioNet {
    transport: Transport,
    msix: Msix,
    mac: [u8; 6],
    features: u64,
    rx: Mutex<rx::RxQueue>,
    tx: Mutex<tx::TxQueue>,
    rx_vector: u8,
    config_vector: Option<u8>,
}

impl VirtioNet {
    /// Brings the device up: negotiation, queues, MSI-X, RX buffers posted,
    /// DRIVER_OK. On error the device is left reset (or marked failed) and
    /// the vectors are released.
    pub fn init(dev: &Device, handlers: Handlers) -> Result<VirtioNet, NetDriverError> {
        if !matches(dev) {
            return Err(NetDriverError::NotVirtioNet);
        }
        let func = Function::from(dev);
        let transport = Transport::new(func)?;
        let features = transport.negotiate(features::MAC | features::STATUS, feature::VERSION_1)?;
        if transport.device_config_len() < CFG_LEN {
            transport.fail();
            return Err(NetDriverError::ConfigTooShort(
                transport.device_config_len(),
            ));
        }
        let queues = transport.num_queues();
        if queues < 2 {
            transport.fail();
            return Err(NetDriverError::TooFewQueues(queues));
        }
        let msix = Msix::new(func).inspect_err(|_| transport.fail())?;
        let rx_vector = irq::register_any(handlers.rx).map_err(NetDriverError::Irq)?;
        let config_vector = if msix.size() > MSIX_CONFIG {
            irq::register_any(handlers.config).ok()
        } else {
            None
        };
        // Failures happen before DRIVER_OK, so the device has not touched
        // the queues; the reset makes sure it never will.
        let release = |e: NetDriverError| {
            let _ = transport.reset();
            transport.fail();
            msix.disable();
            irq::unregister(rx_vector);
            if let Some(v) = config_vector {
                irq::unregister(v);
            }
            e
        };
        let apic_id = crate::arch::apic::id_and_version().0;
        let up = || -> Result<(rx::RxQueue, tx::TxQueue, [u8; 6]), NetDriverError> {
            msix.route(MSIX_RX, rx_vector, apic_id)?;
            if let Some(v) = config_vector {
                msix.route(MSIX_CONFIG, v, apic_id)?;
            }
            msix.enable();
            let size = |q| QUEUE_SIZE.min(transport.queue_max_size(q));
            let mut rxq = rx::RxQueue::new(RX_QUEUE, size(RX_QUEUE))?;
            rxq.queue.notify_offset =
                transport.setup_queue(RX_QUEUE, rxq.queue.size(), rxq.queue.addrs(), MSIX_RX)?;
            let mut txq = tx::TxQueue::new(TX_QUEUE, size(TX_QUEUE))?;
            txq.queue.notify_offset =
                transport.setup_queue(TX_QUEUE, txq.queue.size(), txq.queue.addrs(), NO_VECTOR)?;
            transport.set_config_vector(if config_vector.is_some() {
                MSIX_CONFIG
            } else {
                NO_VECTOR
            })?;
            let mac = if features & features::MAC != 0 {
                transport.read_config(|c| {
                    let mut m = [0u8; 6];
                    for (i, b) in m.iter_mut().enumerate() {
                        *b = c.read8(CFG_MAC + i);
                    }
                    m
                })?
            } else {
                [0; 6]
            };
            transport.add_status(status::DRIVER_OK);
            rxq.post_all(&transport);
            Ok((rxq, txq, mac))
        };
        let (rxq, txq, mac) = up().map_err(release)?;
        Ok(VirtioNet {
            transport,
            msix,
            mac,
            features,
            rx: Mutex::new(rxq),
            tx: Mutex::new(txq),
            rx_vector,
            config_vector,
        })
    }

    /// The MAC address from the device configuration (all zero if the
    /// device offers none).
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Negotiated feature bits.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// The PCI function.
    pub fn function(&self) -> Function {
        self.transport.function()
    }

    /// Link state from the configuration's status field (always up when
    /// the device does not report it).
    pub fn link_up(&self) -> bool {
        if self.features & features::STATUS == 0 {
            return true;
        }
        self.transport
            .read_config(|c| c.read16(CFG_STATUS) & LINK_UP != 0)
            .unwrap_or(false)
    }

    /// Whether the device has flagged an internal error.
    pub fn needs_reset(&self) -> bool {
        self.transport.status() & status::NEEDS_RESET != 0
    }

    /// Interrupt vectors: (RX, configuration change).
    pub fn vectors(&self) -> (u8, Option<u8>) {
        (self.rx_vector, self.config_vector)
    }

    /// Queue sizes: (RX, TX).
    pub fn queue_sizes(&self) -> (u16, u16) {
        (self.rx.lock().queue.size(), self.tx.lock().queue.size())
    }

    /// Hands every buffer the device had returned when the call began to
    /// `f`, then offers it to the device again. Returns how many used
    /// elements were taken (0: none were waiting). Must not be called from
    /// `f` (the RX queue is locked meanwhile; `transmit` is fine).
    pub fn poll_rx(&self, f: impl FnMut(RxEvent<'_>)) -> usize {
        self.rx.lock().poll(&self.transport, f)
    }

    /// Sends one frame (copied into a transmit buffer before returning).
    pub fn transmit(&self, frame: &[u8]) -> Result<(), TxError> {
        self.tx.lock().send(&self.transport, frame)
    }

    /// Reclaims completed transmit buffers; returns the number in flight.
    pub fn reclaim_tx(&self) -> Result<usize, TxError> {
        let mut tx = self.tx.lock();
        tx.reclaim()?;
        Ok(tx.in_flight())
    }

    /// Reads the ISR register (acknowledges a pending interrupt cause).
    pub fn ack_isr(&self) -> u8 {
        self.transport.read_isr()
    }
}

impl Drop for VirtioNet {
    fn drop(&mut self) {
        // Stop the device before its buffers are freed.
        let _ = self.transport.reset();
        self.transport.function().disable_dma();
        self.msix.disable();
        irq::unregister(self.rx_vector);
        if let Some(v) = self.config_vector {
            irq::unregister(v);
        }
    }
}
