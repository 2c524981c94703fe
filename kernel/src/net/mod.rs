//! The network path: the NIC (virtio-net, owned by the kernel), frame
//! checks, counters, the demultiplexer (merged classifier compiled to
//! native code) and bindings with their handlers (ASHs). See `docs/NET.md`.
//!
//! Interface:
//! * [`init`] finds and starts the NIC and hooks its interrupts;
//! * every received frame goes through [`rx`] (arrival time = the RX
//!   interrupt, or the poll that found it); [`poll`] processes received
//!   frames now (the RX interrupt schedules the same work);
//! * [`transmit`] sends a frame; [`link_up`], [`mac`], [`counters`];
//! * [`install`] / [`install_object`] / [`remove`] manage bindings;
//!   [`with_binding`] and [`list`] read them;
//! * environments bind frames, grant overlaps and transmit through the
//!   network system calls ([`envbind`]); counters and the binding list are
//!   exported to them ([`export`]).

pub mod arp;
pub mod binding;
pub mod boot;
pub mod code;
pub mod counters;
pub mod demux;
pub mod envbind;
pub mod export;
pub mod frame;
pub mod handler;
pub mod hooks;
pub mod latency;
pub mod pages;
pub mod programs;
pub mod regions;
pub mod ring;
mod rx;
pub mod sink;
pub mod tx;
pub mod wasm;
pub mod window;

#[cfg(feature = "qemu-tests")]
mod tests;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use spin::{Mutex, Once};

use crate::drivers::virtio_net::{self, NetDriverError, TxError, VirtioNet};
use crate::irq;
use binding::{BindError, Binding, BindingId, BindingSpec};
use counters::{COUNTERS, bump};
use demux::Demux;
use hooks::{FrameSink, OwnerId};
use latency::Arrival;

static NIC: Once<VirtioNet> = Once::new();
static DEMUX: Mutex<Option<Demux>> = Mutex::new(None);
static WORK: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Arrival stamp of the first RX interrupt not yet processed (0: none).
static ARRIVAL_NS: AtomicU64 = AtomicU64::new(0);
static ARRIVAL_TSC: AtomicU64 = AtomicU64::new(0);
static LINK_UP: AtomicBool = AtomicBool::new(false);
static LINK_CHANGED: AtomicBool = AtomicBool::new(false);

/// Receive batches one [`poll`] processes before yielding.
const MAX_BATCHES: usize = 8;

/// Why the network path could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    Driver(NetDriverError),
    Irq(irq::IrqError),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Driver(e) => write!(f, "virtio-net: {e}"),
            Self::Irq(e) => write!(f, "deferred work: {e}"),
        }
    }
}

/// Why a frame was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendFailure {
    /// There is no NIC.
    NoDevice,
    /// The link is down.
    LinkDown,
    Tx(TxError),
}

impl fmt::Display for SendFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoDevice => write!(f, "no network device"),
            Self::LinkDown => write!(f, "the link is down"),
            Self::Tx(e) => write!(f, "{e}"),
        }
    }
}

/// What [`init`] brought up.
#[derive(Clone, Copy, Debug)]
pub struct NicInfo {
    pub mac: [u8; 6],
    pub link_up: bool,
    pub queues: (u16, u16),
    pub vectors: (u8, Option<u8>),
}

fn on_rx_interrupt(_vector: u8) {
    let _ = ARRIVAL_NS.compare_exchange(
        0,
        crate::time::now_ns().max(1),
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    let _ = ARRIVAL_TSC.compare_exchange(
        0,
        crate::arch::cpu::rdtsc().max(1),
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    bump(&COUNTERS.rx_interrupts);
    irq::schedule(WORK.load(Ordering::Relaxed));
}

fn on_config_interrupt(_vector: u8) {
    bump(&COUNTERS.config_interrupts);
    LINK_CHANGED.store(true, Ordering::Release);
    irq::schedule(WORK.load(Ordering::Relaxed));
}

/// Starts the first virtio-net device found (if any) and the RX work.
/// `Ok(None)`: no NIC present.
pub fn init() -> Result<Option<NicInfo>, NetError> {
    if NIC.get().is_some() {
        return Ok(NIC.get().map(info));
    }
    let Some(dev) = crate::pci::scan().into_iter().find(virtio_net::matches) else {
        return Ok(None);
    };
    let work = irq::register_deferred(poll).map_err(NetError::Irq)?;
    WORK.store(work, Ordering::Relaxed);
    let handlers = virtio_net::Handlers {
        rx: on_rx_interrupt,
        config: on_config_interrupt,
    };
    let nic = match VirtioNet::init(&dev, handlers) {
        Ok(n) => n,
        Err(e) => {
            irq::unregister_deferred(work);
            return Err(NetError::Driver(e));
        }
    };
    LINK_UP.store(nic.link_up(), Ordering::Release);
    DEMUX.lock().get_or_insert_with(Demux::new);
    let nic = NIC.call_once(|| nic);
    Ok(Some(info(nic)))
}

fn info(nic: &VirtioNet) -> NicInfo {
    NicInfo {
        mac: nic.mac(),
        link_up: nic.link_up(),
        queues: nic.queue_sizes(),
        vectors: nic.vectors(),
    }
}

/// The NIC, once [`init`] found one.
pub fn device() -> Option<&'static VirtioNet> {
    NIC.get()
}

/// The NIC's MAC address.
pub fn mac() -> Option<[u8; 6]> {
    NIC.get().map(VirtioNet::mac)
}

/// Link state as of the last configuration interrupt (or [`init`]).
pub fn link_up() -> bool {
    LINK_UP.load(Ordering::Acquire)
}

/// The interface counters.
pub fn counters() -> counters::Snapshot {
    counters::snapshot()
}

/// Sends one frame.
pub fn transmit(frame: &[u8]) -> Result<(), SendFailure> {
    let nic = NIC.get().ok_or(SendFailure::NoDevice)?;
    if !link_up() {
        return Err(SendFailure::LinkDown);
    }
    match nic.transmit(frame) {
        Ok(()) => {
            bump(&COUNTERS.tx_frames);
            COUNTERS
                .tx_bytes
                .fetch_add(frame.len() as u64, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            bump(match e {
                TxError::QueueFull => &COUNTERS.tx_no_buffer,
                TxError::BadLength(_) => &COUNTERS.tx_bad_length,
                TxError::Device(_) | TxError::NotInFlight(_) => &COUNTERS.device_errors,
            });
            Err(SendFailure::Tx(e))
        }
    }
}

/// Processes every received frame now (also the RX interrupt's deferred
/// work), refreshes the link state after a configuration interrupt, and
/// reclaims finished transmit buffers.
pub fn poll() {
    let Some(nic) = NIC.get() else {
        return;
    };
    if LINK_CHANGED.swap(false, Ordering::AcqRel) {
        let up = nic.link_up();
        if LINK_UP.swap(up, Ordering::AcqRel) != up {
            log::info!("net: link {}", if up { "up" } else { "down" });
        }
    }
    let ns = ARRIVAL_NS.swap(0, Ordering::AcqRel);
    let tsc = ARRIVAL_TSC.swap(0, Ordering::AcqRel);
    // Frames waiting when the interrupt fired arrived at its stamp; frames
    // that come in while earlier ones are processed are stamped when the
    // next batch finds them.
    let mut arrival = if ns != 0 && tsc != 0 {
        Arrival { ns, tsc }
    } else {
        Arrival::now()
    };
    let mut batches = 0;
    while nic.poll_rx(|ev| rx::on_event(ev, arrival)) != 0 {
        arrival = Arrival::now();
        batches += 1;
        if batches == MAX_BATCHES {
            // Under a flood, let other deferred work run; continue later.
            irq::schedule(WORK.load(Ordering::Relaxed));
            break;
        }
    }
    if let Err(e) = nic.reclaim_tx() {
        bump(&COUNTERS.device_errors);
        log::warn!("net: {e}");
    }
    export::write_header(with_demux(|d| d.bindings().count()), false);
    boot::after_poll();
}

/// Runs `f` on the demultiplexer (created on first use).
fn with_demux<R>(f: impl FnOnce(&mut Demux) -> R) -> R {
    let mut g = DEMUX.lock();
    f(g.get_or_insert_with(Demux::new))
}

/// Installs a binding (see [`Demux::install`]).
pub fn install(spec: BindingSpec) -> Result<BindingId, BindError> {
    let name = spec.name.clone();
    let owner = spec.owner;
    let r = with_demux(|d| d.install(spec));
    match &r {
        Ok(id) => log::info!("net: {id} '{name}' installed for {owner}"),
        Err(e) => log::info!("net: binding '{name}' for {owner} refused: {e}"),
    }
    r
}

/// Installs a binding from an `exo-filter compile` object.
pub fn install_object(
    owner: OwnerId,
    name: &str,
    object: &[u8],
    sink: Option<Box<dyn FrameSink>>,
) -> Result<BindingId, BindError> {
    install(binding::spec_from_object(owner, name, object, sink)?)
}

/// Removes a binding.
pub fn remove(id: BindingId) -> Result<(), BindError> {
    remove_binding(id).map(drop)
}

/// Removes a binding and returns it (its pins are the caller's to
/// release).
pub fn remove_binding(id: BindingId) -> Result<Binding, BindError> {
    with_demux(|d| d.remove(id))
}

/// Runs `f` on binding `id`.
pub fn with_binding<R>(id: BindingId, f: impl FnOnce(&Binding) -> R) -> Option<R> {
    with_demux(|d| d.binding(id).map(f))
}

/// Runs `f` on binding `id`, mutably.
fn with_binding_mut<R>(id: BindingId, f: impl FnOnce(&mut Binding) -> R) -> Option<R> {
    with_demux(|d| d.binding_mut(id).map(f))
}

/// One installed binding, for listings (`exo-filter list` later).
#[derive(Clone, Debug)]
pub struct BindingInfo {
    pub id: BindingId,
    pub owner: OwnerId,
    pub name: String,
    pub filters: usize,
    pub has_handler: bool,
    pub stats: binding::BindingStats,
}

/// Every installed binding with its owner.
pub fn list() -> Vec<BindingInfo> {
    with_demux(|d| {
        d.bindings()
            .map(|b| BindingInfo {
                id: b.id,
                owner: b.owner,
                name: b.name.clone(),
                filters: b.filter_count(),
                has_handler: b.handler.is_some(),
                stats: b.stats,
            })
            .collect()
    })
}

/// How the classifier has been kept up to date.
pub fn demux_stats() -> demux::DemuxStats {
    with_demux(|d| d.stats)
}
