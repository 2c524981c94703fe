//! `cargo xtask bench net`: the in-guest time from a frame's arrival to
//! the transmit of its reply, for the UDP echo ASH (`examples/udp_echo.exo`)
//! run by the kernel. It lives in xtask, not in `bench/`, because it needs
//! what xtask has: the kernel images, QEMU command lines and the serial
//! protocol.
//!
//! The release kernel boots with `net.echo` on QEMU user networking; the
//! host sends `ECHOES` datagrams one at a time through a forwarded port
//! (the `net-udp-echo` scenario's driver, which checks every echo); the
//! kernel prints its `NETLAT` line (min/median/max over the replies of
//! TSC-derived ns and raw TSC cycles). Two machines: plain TCG (ns of the
//! emulated TSC, which follows the host clock), and TCG with
//! `-icount shift=0,sleep=off`, where the guest clock advances 1 ns per
//! guest instruction, so the numbers are instruction counts. Each runs
//! `RUNS` times; results go to `bench/results/net.{json,md}`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::error::{Error, Result, io};
use crate::image::{self, BuildOptions, Flavor};
use crate::net_drivers::{UdpEcho, time_seed};
use crate::net_report::ReportLine;
use crate::qemu::{Boot, Machine, Net, Proto};
use crate::scenario::HostDriver;
use crate::session::{self, Deadline, End, Flow, SerialLog};
use crate::{paths, qemu};

const ECHOES: u64 = 200;
const RUNS: usize = 3;

/// One machine configuration.
struct Mode {
    name: &'static str,
    what: &'static str,
    extra: &'static [&'static str],
}

const MODES: [Mode; 2] = [
    Mode {
        name: "tcg",
        what: "TCG; ns from the TSC (host-clock time under emulation)",
        extra: &[],
    },
    Mode {
        name: "tcg-icount",
        what: "TCG with -icount shift=0,sleep=off; 1 ns = 1 guest instruction",
        extra: &["-icount", "shift=0,sleep=off"],
    },
];

/// The `NETLAT` numbers of one run.
#[derive(Clone, Copy, Debug)]
struct Run {
    ns: [u64; 3],
    cycles: [u64; 3],
}

fn free_udp_port() -> Result<u16> {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .map_err(io("reserving a UDP port"))
}

fn run_once(elf: &std::path::Path, mode: &Mode) -> Result<Run> {
    let port = free_udp_port()?;
    let mut m = Machine::new(Boot::Kernel {
        elf: elf.to_path_buf(),
        cmdline: format!(
            "net.echo net.ip=10.0.2.15 net.gateway=10.0.2.2 net.report=matched:{ECHOES}"
        ),
    });
    m.net = Net::User {
        forwards: vec![(Proto::Udp, port, 7)],
    };
    m.extra_args = mode.extra.iter().map(|s| s.to_string()).collect();
    let serial = SerialLog::default();
    let driver = {
        let (serial, net) = (serial.clone(), m.net.clone());
        std::thread::spawn(move || {
            UdpEcho {
                count: ECHOES,
                seed: time_seed(),
            }
            .run(&serial, &net)
        })
    };
    let out = session::run(
        &m,
        Deadline::after(Duration::from_secs(120), "the echo run to finish"),
        Duration::from_secs(180),
        Some(&serial),
        |_, _| Flow::Continue,
    )?;
    let checked = driver
        .join()
        .unwrap_or_else(|_| Err("the echo driver panicked".into()));
    if out.end != End::Exited(qemu::GuestExit::Success) || checked.is_err() {
        return Err(Error::Other(format!(
            "echo run ({}) failed: {:?}; driver: {:?}; last lines: {:?}",
            mode.name,
            out.end,
            checked.err(),
            out.lines.iter().rev().take(5).collect::<Vec<_>>()
        )));
    }
    let lat = out
        .lines
        .iter()
        .find_map(|l| ReportLine::parse(l, "NETLAT"))
        .ok_or_else(|| Error::Other("no NETLAT line".into()))?;
    let n = |k: &str| lat.num(k).map_err(Error::Other);
    Ok(Run {
        ns: [n("ns_min")?, n("ns_median")?, n("ns_max")?],
        cycles: [n("cycles_min")?, n("cycles_median")?, n("cycles_max")?],
    })
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

pub fn run() -> Result<()> {
    let kernel = image::build(BuildOptions {
        release: true,
        flavor: Flavor::Normal,
    })?;
    let mut json = String::from("{\n  \"benchmark\": \"net\",\n");
    let _ = writeln!(
        json,
        "  \"what\": \"in-guest time from frame arrival (RX interrupt or poll) to the transmit of the UDP echo ASH's reply\",\n  \"echoes_per_run\": {ECHOES},\n  \"runs\": {RUNS},\n  \"modes\": ["
    );
    let mut md = format!(
        "# Network path: arrival to reply transmit (UDP echo ASH)\n\n\
         Release kernel, QEMU `pc`, virtio-net on user networking; {ECHOES} echoes per run, \
         {RUNS} runs per machine. Per run the kernel reports min/median/max over its replies; \
         the table gives the minimum over runs of the per-run minimum and the median of the \
         per-run medians.\n\n\
         | machine | min ns | median ns | min cycles | median cycles |\n| --- | ---: | ---: | ---: | ---: |\n"
    );
    for (i, mode) in MODES.iter().enumerate() {
        let mut runs = Vec::new();
        for r in 0..RUNS {
            eprintln!("bench net: {} run {}/{RUNS}", mode.name, r + 1);
            runs.push(run_once(&kernel.elf, mode)?);
        }
        let min_ns = runs.iter().map(|r| r.ns[0]).min().unwrap_or(0);
        let med_ns = median(runs.iter().map(|r| r.ns[1]).collect());
        let min_cy = runs.iter().map(|r| r.cycles[0]).min().unwrap_or(0);
        let med_cy = median(runs.iter().map(|r| r.cycles[1]).collect());
        let per_run: Vec<String> = runs
            .iter()
            .map(|r| {
                format!(
                    "{{\"ns\": [{}, {}, {}], \"cycles\": [{}, {}, {}]}}",
                    r.ns[0], r.ns[1], r.ns[2], r.cycles[0], r.cycles[1], r.cycles[2]
                )
            })
            .collect();
        let _ = writeln!(
            json,
            "    {{\"machine\": \"{}\", \"note\": \"{}\", \"min_ns\": {min_ns}, \"median_ns\": {med_ns}, \
             \"min_cycles\": {min_cy}, \"median_cycles\": {med_cy}, \"per_run_min_median_max\": [{}]}}{}",
            mode.name,
            mode.what,
            per_run.join(", "),
            if i + 1 < MODES.len() { "," } else { "" }
        );
        let _ = writeln!(
            md,
            "| {} ({}) | {min_ns} | {med_ns} | {min_cy} | {med_cy} |",
            mode.name, mode.what
        );
        println!(
            "net {}: min {min_ns} ns, median {med_ns} ns; min {min_cy} cycles, median {med_cy} cycles",
            mode.name
        );
    }
    json.push_str("  ]\n}\n");
    md.push_str(
        "\nUnder `-icount shift=0` the TSC and the clock count guest instructions, so the \
         icount row is the instruction count of the path: interrupt entry, RX batch, frame \
         checks, compiled classifier, handler (copy, two checksums, header rewrite) and the \
         virtio transmit up to the doorbell. Plain TCG numbers are host time spent emulating \
         that path and vary with the host.\n",
    );
    let dir = paths::root().join("bench").join("results");
    std::fs::create_dir_all(&dir).map_err(io("creating bench/results"))?;
    std::fs::write(dir.join("net.json"), json).map_err(io("writing net.json"))?;
    std::fs::write(dir.join("net.md"), md).map_err(io("writing net.md"))?;
    println!("results: bench/results/net.json, bench/results/net.md");
    Ok(())
}
