//! Network services chosen on the kernel command line, and the report the
//! QEMU scenarios and the benchmark read.
//!
//! * `net.echo`: install the UDP echo ASH (`examples/udp_echo.exo`) as a
//!   kernel binding.
//! * `net.ip=A.B.C.D net.gateway=A.B.C.D`: announce the address with one ARP
//!   request for the gateway at boot (QEMU user networking learns the
//!   guest's MAC from it, so forwarded datagrams can reach the guest).
//!   The address is kept ([`ip`]) for whoever answers ARP for it: the
//!   kernel answers nothing itself; the network tests hand it to the
//!   environments that bind an ARP responder (`libos_net::arp`).
//! * `net.report=rx:N` or `net.report=matched:N`: once N frames have been
//!   received (all of them, dropped or not) or taken by bindings, print the
//!   report and exit QEMU with success.
//!
//! The report is one `NETSTAT` line (interface counters), one `NETBIND`
//! line per binding, and one `NETLAT` line (arrival-to-reply latency),
//! printed raw on the console whatever the log level. `net: ready` is
//! logged once the services are up.

use alloc::string::String;
use alloc::vec::Vec;

use spin::Mutex;

use super::arp;
use super::hooks::KERNEL_OWNER;
use crate::cmdline::CmdLine;
use crate::exit::{ExitCode, exit};

/// When to report and exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportWhen {
    /// After this many received frames.
    Received(u64),
    /// After this many frames taken by bindings.
    Matched(u64),
}

impl ReportWhen {
    /// Parses `rx:N` / `matched:N`.
    pub fn parse(s: &str) -> Option<ReportWhen> {
        let (kind, n) = s.split_once(':')?;
        let n = n.parse().ok()?;
        match kind {
            "rx" => Some(ReportWhen::Received(n)),
            "matched" => Some(ReportWhen::Matched(n)),
            _ => None,
        }
    }

    fn reached(self) -> bool {
        match self {
            ReportWhen::Received(n) => super::counters().rx_frames >= n,
            ReportWhen::Matched(n) => {
                super::list().iter().map(|b| b.stats.matches).sum::<u64>() >= n
            }
        }
    }
}

static REPORT: Mutex<Option<ReportWhen>> = Mutex::new(None);
static IP: Mutex<Option<arp::Ipv4>> = Mutex::new(None);

/// The address `net.ip` gave, if any.
pub fn ip() -> Option<arp::Ipv4> {
    *IP.lock()
}

fn fmt_mac(m: [u8; 6]) -> String {
    alloc::format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5]
    )
}

/// Brings up the NIC and the services the command line asks for.
pub fn start(cmdline: &CmdLine<'_>) {
    // The system calls work without a NIC too (bindings simply see no
    // frames; transmits answer `LinkDown`).
    if crate::env::initialized() {
        crate::env::with_kernel(super::envbind::init);
    }
    let info = match super::init() {
        Ok(Some(i)) => i,
        Ok(None) => {
            log::info!("net: no network device");
            return;
        }
        Err(e) => {
            log::error!("net: {e}");
            return;
        }
    };
    log::info!(
        "net: virtio-net MAC {} link {}, queues rx {} tx {}, MSI-X vectors {:#x}/{}",
        fmt_mac(info.mac),
        if info.link_up { "up" } else { "down" },
        info.queues.0,
        info.queues.1,
        info.vectors.0,
        info.vectors
            .1
            .map_or(String::from("none"), |v| alloc::format!("{v:#x}"))
    );
    if cmdline.flag("net.echo") {
        match super::install_object(
            KERNEL_OWNER,
            "udp_echo",
            super::programs::UDP_ECHO_OBJECT,
            None,
        ) {
            Ok(id) => log::info!("net: UDP echo ASH installed as {id}"),
            Err(e) => log::error!("net: UDP echo ASH: {e}"),
        }
    }
    let ip = cmdline.value("net.ip").and_then(arp::parse_ipv4);
    let gw = cmdline.value("net.gateway").and_then(arp::parse_ipv4);
    *IP.lock() = ip;
    if let (Some(ip), Some(gw)) = (ip, gw) {
        match super::transmit(&arp::request(info.mac, ip, gw)) {
            Ok(()) => log::info!("net: ARP request for {gw:?} sent from {ip:?}"),
            Err(e) => log::error!("net: ARP request: {e}"),
        }
    }
    if let Some(v) = cmdline.value("net.report") {
        match ReportWhen::parse(v) {
            Some(w) => *REPORT.lock() = Some(w),
            None => log::error!("net: net.report={v}: expected rx:N or matched:N"),
        }
    }
    log::info!("net: ready");
}

/// The report lines.
pub fn report_lines() -> Vec<String> {
    let mut lines = alloc::vec![alloc::format!(
        "{}",
        super::counters::Netstat(&super::counters())
    )];
    super::with_demux(|d| lines.extend(d.bindings().map(|b| b.report())));
    lines.push(alloc::format!("{}", super::latency::summary()));
    lines
}

/// How long the report waits for the device to finish sending.
const DRAIN_NS: u64 = 500_000_000;

/// Waits (bounded) until the device has completed every transmit, so
/// replies sent just before the report are on the wire when QEMU exits.
fn drain_tx() {
    let Some(nic) = super::device() else {
        return;
    };
    let deadline = crate::time::now_ns() + DRAIN_NS;
    while crate::time::now_ns() < deadline {
        match nic.reclaim_tx() {
            Ok(0) | Err(_) => return,
            Ok(_) => core::hint::spin_loop(),
        }
    }
    log::warn!(
        "net: transmits still in flight after {} ms",
        DRAIN_NS / 1_000_000
    );
}

/// Called after every poll: reports and exits once the condition holds.
pub(super) fn after_poll() {
    let mut report = REPORT.lock();
    let Some(when) = *report else {
        return;
    };
    if when.reached() {
        *report = None;
        drop(report);
        drain_tx();
        for l in report_lines() {
            crate::kprintln!("{l}");
        }
        exit(ExitCode::Success);
    }
}
