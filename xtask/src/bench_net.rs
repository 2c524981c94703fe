//! `cargo xtask bench net`: the in-guest time from a frame's arrival to
//! the transmit of its UDP echo, along four paths: the kernel's own BPF
//! echo ASH (`examples/udp_echo.exo`, `net.echo`), the same object bound
//! by an environment (`netprobe`, region in its pages), a WebAssembly echo
//! handler run by wasmi (`user/wasm/echo.wat`), and delivery to an
//! environment's receive ring with the echo sent from user space through
//! the transmit filter (arrival to the environment reading the frame, and
//! to its reply's transmit returning). It lives in xtask, not in `bench/`,
//! because it needs what xtask has: the kernel images, QEMU command lines
//! and the serial protocol.
//!
//! The release kernel boots with the path's setup; the host sends
//! `ECHOES` datagrams one at a time (the `net-udp-echo` scenario's driver,
//! which checks every echo); the kernel prints its `NETLAT` line
//! (min/median/max over the replies of TSC-derived ns and raw TSC
//! cycles). Two backends: QEMU user networking (through a forwarded port)
//! and, when xtask runs as root, a host tap (to the guest's address; the
//! host is given the guest's MAC up front, so no ARP exchange falls among
//! the measured frames). Two machines: plain TCG (ns of the emulated TSC,
//! which follows the host clock), and TCG with `-icount
//! shift=0,sleep=off`, where the guest clock advances 1 ns per guest
//! instruction, so the numbers are instruction counts. Each runs `RUNS`
//! times; results go to `bench/results/net.{json,md}`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::bench_qemu::{self, Mode, median};
use crate::error::{Error, Result, io};
use crate::net_backend::{USER_GATEWAY, USER_GUEST};
use crate::net_drivers::{UdpEcho, time_seed};
use crate::net_report::ReportLine;
use crate::qemu::{self, Boot, Machine, Net, Proto};
use crate::scenario::ICOUNT;
use crate::session::{self, Deadline, End, Flow, SerialLog};
use crate::tap::TapDevice;

/// The guest NIC's MAC (`qemu::VIRTIO_NET_DEVICE`).
const GUEST_MAC: &str = "52:54:00:12:34:56";

/// Where the NIC connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    User,
    Tap,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::User => "user",
            Backend::Tap => "tap",
        }
    }
}

const ECHOES: u64 = 200;
const RUNS: usize = 3;

const MODES: [Mode; 2] = [
    Mode {
        name: "tcg",
        what: "TCG; ns from the TSC (host-clock time under emulation)",
        extra: &[],
    },
    Mode {
        name: "tcg-icount",
        what: "TCG with -icount shift=0,sleep=off; 1 ns = 1 guest instruction",
        extra: &ICOUNT,
    },
];

/// The numbers of one run: arrival to reply transmit (ns and TSC cycles,
/// min/median/max), and for the ring path arrival to the read (ns
/// min/median).
#[derive(Clone, Copy, Debug)]
struct Run {
    ns: [u64; 3],
    cycles: [u64; 3],
    read_ns: Option<[u64; 2]>,
}

/// A path through the network stack.
struct Path {
    name: &'static str,
    what: &'static str,
    /// Guest UDP port of the echo.
    port: u16,
    /// Kernel command line after the network setup.
    cmdline: String,
}

/// `exo_abi::netprobe` modes (xtask depends on no project crate).
const MODE_ECHO_BPF: u64 = 1;
const MODE_ECHO_WASM: u64 = 2;
const MODE_RING_ECHO: u64 = 3;

fn echo_paths() -> Vec<Path> {
    let probe = |mode: u64, param: u64| format!("exo.init=netprobe exo.arg={}", mode | param << 8);
    vec![
        Path {
            name: "ash-kernel",
            what: "BPF echo ASH (JIT) installed by the kernel",
            port: 7,
            cmdline: format!("net.echo net.report=matched:{ECHOES}"),
        },
        Path {
            name: "ash-env",
            what: "the same BPF echo bound by an environment (region in its pages), owner blocked",
            port: 7,
            cmdline: format!(
                "net.report=matched:{ECHOES} {}",
                probe(MODE_ECHO_BPF, ECHOES)
            ),
        },
        Path {
            name: "wasm-env",
            what: "WebAssembly echo handler (wasmi, fuel-metered), owner blocked",
            port: 7007,
            cmdline: format!(
                "net.report=matched:{ECHOES} {}",
                probe(MODE_ECHO_WASM, ECHOES)
            ),
        },
        Path {
            name: "ring-env",
            what: "receive ring + user-space echo through the transmit filter (reply = after the Transmit call returned)",
            port: 7001,
            cmdline: format!("exo.exit {}", probe(MODE_RING_ECHO, ECHOES << 8)),
        },
    ]
}

fn free_udp_port() -> Result<u16> {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .map_err(io("reserving a UDP port"))
}

fn run_once(elf: &std::path::Path, mode: &Mode, path: &Path, backend: Backend) -> Result<Run> {
    // Kept to the end of the run: the tap is deleted when it drops.
    let (tap, net, to, addresses) = match backend {
        Backend::User => {
            let port = free_udp_port()?;
            (
                None,
                Net::User {
                    forwards: vec![(Proto::Udp, port, path.port)],
                },
                std::net::SocketAddr::from(([127, 0, 0, 1], port)),
                format!("net.ip={USER_GUEST} net.gateway={USER_GATEWAY}"),
            )
        }
        Backend::Tap => {
            let t = TapDevice::for_test().map_err(|e| Error::Other(e.to_string()))?;
            crate::tap::set_permanent_neighbour(t.name(), t.guest(), GUEST_MAC)
                .map_err(|e| Error::Other(e.to_string()))?;
            let net = Net::Tap {
                ifname: t.name().to_string(),
                guest: t.guest(),
            };
            let to = std::net::SocketAddr::from((t.guest(), path.port));
            // No gateway: no ARP request at boot.
            let ip = format!("net.ip={}", t.guest());
            (Some(t), net, to, ip)
        }
    };
    let mut m = Machine::new(Boot::Kernel {
        elf: elf.to_path_buf(),
        cmdline: format!("{addresses} {}", path.cmdline),
    });
    m.net = net;
    m.extra_args = mode.extra.iter().map(|s| s.to_string()).collect();
    let serial = SerialLog::default();
    let ready = if path.name == "ash-kernel" {
        "net: ready"
    } else {
        "netprobe: "
    };
    let driver = {
        let serial = serial.clone();
        std::thread::spawn(move || -> std::result::Result<(), String> {
            serial
                .wait_for(ready, Duration::from_secs(60))
                .ok_or_else(|| format!("the guest never printed `{ready}`"))?;
            UdpEcho {
                count: ECHOES,
                seed: time_seed(),
            }
            .exchange(to)
        })
    };
    let out = session::run(
        &m,
        Deadline::after(Duration::from_secs(180), "the echo run to finish"),
        Duration::from_secs(240),
        Some(&serial),
        |_, _| Flow::Continue,
    )?;
    let checked = driver
        .join()
        .unwrap_or_else(|_| Err("the echo driver panicked".into()));
    drop(tap);
    if out.end != End::Exited(qemu::GuestExit::Success) || checked.is_err() {
        return Err(Error::Other(format!(
            "echo run ({} {} {}) failed: {:?}; driver: {:?}; last lines: {:?}",
            mode.name,
            path.name,
            backend.name(),
            out.end,
            checked.err(),
            out.lines.iter().rev().take(5).collect::<Vec<_>>()
        )));
    }
    let find = |tag: &str| {
        out.lines
            .iter()
            .find_map(|l| ReportLine::parse(l, tag))
            .ok_or_else(|| Error::Other(format!("no {tag} line ({})", path.name)))
    };
    if path.name == "ring-env" {
        let r = find("RINGLAT")?;
        let n = |k: &str| r.num(k).map_err(Error::Other);
        // The ring path reports ns only (the environment reads the clock).
        return Ok(Run {
            ns: [n("reply_min")?, n("reply_median")?, 0],
            cycles: [0; 3],
            read_ns: Some([n("read_min")?, n("read_median")?]),
        });
    }
    let lat = find("NETLAT")?;
    let n = |k: &str| lat.num(k).map_err(Error::Other);
    Ok(Run {
        ns: [n("ns_min")?, n("ns_median")?, n("ns_max")?],
        cycles: [n("cycles_min")?, n("cycles_median")?, n("cycles_max")?],
        read_ns: None,
    })
}

pub fn run() -> Result<()> {
    let kernel = bench_qemu::release_kernel()?;
    let mut json = String::from("{\n  \"benchmark\": \"net\",\n");
    let _ = writeln!(
        json,
        "  \"what\": \"in-guest time from frame arrival (RX interrupt or poll) to the transmit of the UDP echo, per path\",\n  \"echoes_per_run\": {ECHOES},\n  \"runs\": {RUNS},\n  \"results\": ["
    );
    let backends = match crate::tap::check_possible() {
        Ok(()) => vec![Backend::User, Backend::Tap],
        Err(e) => {
            eprintln!("bench net: no tap rows ({e}): user networking only");
            vec![Backend::User]
        }
    };
    let mut md = format!(
        "# Network path: arrival to the echo's transmit\n\n\
         Release kernel, QEMU `pc`, virtio-net on QEMU user networking (`user`: datagrams \
         through a forwarded port) and on a host tap (`tap`: datagrams to the guest's address; \
         the host knows the guest's MAC up front, so no ARP exchange is measured); {ECHOES} \
         echoes per run, {RUNS} runs per machine, path and backend. Per run the guest reports \
         min/median over its replies; the table gives the minimum over runs of the per-run \
         minimum and the median of the per-run medians. Under `-icount shift=0,sleep=off` \
         1 ns = 1 guest instruction.\n\n\
         | path | backend | machine | min | median | arrival to read (ring): min / median |\n| --- | --- | --- | ---: | ---: | ---: |\n"
    );
    let all = echo_paths();
    let mut first = true;
    for path in &all {
        for backend in &backends {
            for mode in MODES.iter() {
                let label = format!("bench net: {} {} {}", path.name, backend.name(), mode.name);
                let runs =
                    bench_qemu::repeat(RUNS, &label, || run_once(&kernel, mode, path, *backend))?;
                let min_ns = runs.iter().map(|r| r.ns[0]).min().unwrap_or(0);
                let med_ns = median(runs.iter().map(|r| r.ns[1]).collect());
                let read = runs.iter().filter_map(|r| r.read_ns).collect::<Vec<_>>();
                let read_cell = if read.is_empty() {
                    String::from("—")
                } else {
                    let rmin = read.iter().map(|r| r[0]).min().unwrap_or(0);
                    let rmed = median(read.iter().map(|r| r[1]).collect());
                    format!("{rmin} / {rmed}")
                };
                let per_run: Vec<String> = runs
                    .iter()
                    .map(|r| {
                        format!(
                            "{{\"ns\": [{}, {}, {}], \"cycles\": [{}, {}, {}], \"read_ns\": {}}}",
                            r.ns[0],
                            r.ns[1],
                            r.ns[2],
                            r.cycles[0],
                            r.cycles[1],
                            r.cycles[2],
                            r.read_ns
                                .map_or("null".into(), |x| format!("[{}, {}]", x[0], x[1]))
                        )
                    })
                    .collect();
                let _ = writeln!(
                    json,
                    "    {}{{\"path\": \"{}\", \"path_note\": \"{}\", \"backend\": \"{}\", \"machine\": \"{}\", \"note\": \"{}\", \"min_ns\": {min_ns}, \"median_ns\": {med_ns}, \"per_run\": [{}]}}",
                    if first { "" } else { "," },
                    path.name,
                    path.what,
                    backend.name(),
                    mode.name,
                    mode.what,
                    per_run.join(", ")
                );
                first = false;
                let unit = if mode.name == "tcg-icount" {
                    "instr"
                } else {
                    "ns"
                };
                let _ = writeln!(
                    md,
                    "| {} ({}) | {} | {} | {min_ns} {unit} | {med_ns} {unit} | {read_cell} |",
                    path.name,
                    path.what,
                    backend.name(),
                    mode.name
                );
                println!(
                    "net {} {} {}: min {min_ns}, median {med_ns} ({unit}); read {read_cell}",
                    path.name,
                    backend.name(),
                    mode.name
                );
            }
        }
    }
    json.push_str("  ]\n}\n");
    md.push_str(
        "\nThe handler paths are measured by the kernel (arrival stamp to the reply handed \
         to the device: interrupt entry, batch, frame checks, compiled classifier, handler, \
         virtio transmit). The ring path is measured by the environment with the same clock \
         (`KernelInfo::clock_ns` over the TSC): arrival stamp in the slot to its read, and to \
         the return of its `Transmit` call; it includes the wake-up, the scheduler, the \
         switch to the environment, the copy out of the ring, the echo built in user space \
         and the transmit filter. Plain TCG numbers are host time spent emulating and vary \
         with the host.\n",
    );
    bench_qemu::write_results("net", &json, &md)
}
