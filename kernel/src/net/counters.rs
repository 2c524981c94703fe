//! Interface counters: frames and bytes in each direction and drops by
//! reason. Atomics, so the RX path, the TX path, handlers and readers never
//! need a lock; [`snapshot`] gives a consistent-enough copy (single CPU,
//! interrupts off while the kernel runs) and its `Display` is the
//! `NETSTAT` line the QEMU scenarios parse.

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub use exo_abi::net::export::InterfaceCounters;

/// Every counter, as atomics.
pub struct Counters {
    pub rx_frames: AtomicU64,
    pub rx_bytes: AtomicU64,
    pub tx_frames: AtomicU64,
    pub tx_bytes: AtomicU64,
    /// Dropped: header fields that cannot be right, or a buffer the device
    /// returned with an impossible length or id.
    pub drop_malformed: AtomicU64,
    /// Dropped: shorter than its headers.
    pub drop_truncated: AtomicU64,
    /// Dropped: longer than 1514 bytes.
    pub drop_oversized: AtomicU64,
    /// Dropped: the binding that took the frame wanted it delivered but had
    /// no receive ring slot (no ring yet, or ring full).
    pub drop_no_buffer: AtomicU64,
    /// Dropped: no binding's filter took the frame.
    pub drop_unclaimed: AtomicU64,
    /// Dropped: the owner's handler faulted on it.
    pub drop_handler_fault: AtomicU64,
    /// Taken by a handler that consumed them.
    pub rx_consumed: AtomicU64,
    /// Delivered to a binding's receive ring.
    pub rx_delivered: AtomicU64,
    /// Frames the TX path refused: no free transmit buffer.
    pub tx_no_buffer: AtomicU64,
    /// Frames the TX path refused: empty or longer than 1514 bytes.
    pub tx_bad_length: AtomicU64,
    /// Frames an environment tried to send that its transmit filter
    /// refused (a source it is not bound to).
    pub tx_refused: AtomicU64,
    /// RX interrupts taken.
    pub rx_interrupts: AtomicU64,
    /// Configuration-change interrupts taken.
    pub config_interrupts: AtomicU64,
    /// Times the used rings were inconsistent (device errors).
    pub device_errors: AtomicU64,
}

impl Counters {
    pub const fn new() -> Counters {
        #[allow(clippy::declare_interior_mutable_const)]
        const Z: AtomicU64 = AtomicU64::new(0);
        Counters {
            rx_frames: Z,
            rx_bytes: Z,
            tx_frames: Z,
            tx_bytes: Z,
            drop_malformed: Z,
            drop_truncated: Z,
            drop_oversized: Z,
            drop_no_buffer: Z,
            drop_unclaimed: Z,
            drop_handler_fault: Z,
            rx_consumed: Z,
            rx_delivered: Z,
            tx_no_buffer: Z,
            tx_bad_length: Z,
            tx_refused: Z,
            rx_interrupts: Z,
            config_interrupts: Z,
            device_errors: Z,
        }
    }
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

/// The interface's counters.
pub static COUNTERS: Counters = Counters::new();

/// Adds one to `c`.
pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

/// A plain copy of the counters: the exported layout itself
/// (`exo_abi::net::export::InterfaceCounters`), so the `NETSTAT` line, the
/// export page and the tests read one structure.
pub type Snapshot = InterfaceCounters;

/// Reads every counter.
pub fn snapshot() -> Snapshot {
    let c = &COUNTERS;
    Snapshot {
        rx_frames: c.rx_frames.load(Relaxed),
        rx_bytes: c.rx_bytes.load(Relaxed),
        tx_frames: c.tx_frames.load(Relaxed),
        tx_bytes: c.tx_bytes.load(Relaxed),
        malformed: c.drop_malformed.load(Relaxed),
        truncated: c.drop_truncated.load(Relaxed),
        oversized: c.drop_oversized.load(Relaxed),
        no_buffer: c.drop_no_buffer.load(Relaxed),
        unclaimed: c.drop_unclaimed.load(Relaxed),
        handler_fault: c.drop_handler_fault.load(Relaxed),
        consumed: c.rx_consumed.load(Relaxed),
        delivered: c.rx_delivered.load(Relaxed),
        tx_no_buffer: c.tx_no_buffer.load(Relaxed),
        tx_bad_length: c.tx_bad_length.load(Relaxed),
        tx_refused: c.tx_refused.load(Relaxed),
        rx_interrupts: c.rx_interrupts.load(Relaxed),
        config_interrupts: c.config_interrupts.load(Relaxed),
        device_errors: c.device_errors.load(Relaxed),
    }
}

/// `NETSTAT key=value ...`: one line, every counter, for the host.
pub struct Netstat<'a>(pub &'a Snapshot);

impl fmt::Display for Netstat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        write!(
            f,
            "NETSTAT rx_frames={} rx_bytes={} tx_frames={} tx_bytes={} malformed={} truncated={} \
             oversized={} no_buffer={} unclaimed={} handler_fault={} consumed={} delivered={} \
             tx_no_buffer={} tx_bad_length={} tx_refused={} rx_interrupts={} config_interrupts={} device_errors={}",
            c.rx_frames,
            c.rx_bytes,
            c.tx_frames,
            c.tx_bytes,
            c.malformed,
            c.truncated,
            c.oversized,
            c.no_buffer,
            c.unclaimed,
            c.handler_fault,
            c.consumed,
            c.delivered,
            c.tx_no_buffer,
            c.tx_bad_length,
            c.tx_refused,
            c.rx_interrupts,
            c.config_interrupts,
            c.device_errors
        )
    }
}
