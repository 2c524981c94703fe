//! `cargo xtask run`: build, boot in QEMU with the serial console on the
//! terminal (Ctrl-A X quits), and annotate crash-report addresses with
//! kernel symbols as they scroll by.
//!
//! `--net tap` uses the tap `exo-tap0`: an existing one as it is, or, when
//! it is missing and xtask runs as root, one made for the run (host
//! 10.77.0.1/24) and deleted when QEMU exits; otherwise the error gives the
//! commands that make it. The guest gets the next address (`net.ip`,
//! `net.gateway` appended unless `--append` sets `net.ip`), and the host
//! learns the guest's MAC once for good (a permanent neighbour entry): the
//! kernel answers no ARP itself; environments do (`libos_net::arp`).

use std::io::{Read, Write};
use std::process::Stdio;

use crate::error::{Error, Result};
use crate::image::{self, BuildOptions, Flavor};
use crate::process::describe;
use crate::qemu::{Accel, Boot, Machine, Net};
use crate::symbols::Symbolizer;
use crate::tap::{self, TapDevice};
use crate::{kvm, tools};

/// The host's address on a tap `run` creates.
const RUN_TAP_HOST: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 77, 0, 1);
/// The guest NIC's MAC (`qemu::VIRTIO_NET_DEVICE`).
const GUEST_MAC: &str = "52:54:00:12:34:56";

/// The tap for `run --net tap`: `ifname` as it is, or made for this run.
fn open_tap(ifname: &str) -> Result<TapDevice> {
    if let Some(t) = TapDevice::existing(ifname) {
        eprintln!("xtask: using the existing tap {ifname} (host {})", t.host());
        return Ok(t);
    }
    match TapDevice::create(ifname, RUN_TAP_HOST) {
        Ok(t) => {
            eprintln!(
                "xtask: created tap {ifname} (host {}/24); it is deleted when QEMU exits",
                t.host()
            );
            Ok(t)
        }
        Err(e) => Err(Error::Other(format!(
            "tap {ifname} does not exist and xtask cannot create it ({e}); create it once with\n{}",
            tap::setup_commands(ifname, RUN_TAP_HOST)
        ))),
    }
}

/// Options of `cargo xtask run`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub release: bool,
    pub gdb: bool,
    pub accel: Accel,
    pub net: Net,
    pub cmdline: String,
}

pub fn run(opts: RunOptions) -> Result<()> {
    tools::ensure(&[tools::QEMU])?;
    let kernel = image::build(BuildOptions {
        release: opts.release,
        flavor: Flavor::Normal,
    })?;
    let accel = kvm::resolve(opts.accel, &kernel);
    let mut cmdline = opts.cmdline.clone();
    let mut net = opts.net;
    // Kept until QEMU exits: a tap made for this run is deleted on drop.
    let _tap = match &net {
        Net::Tap { ifname, .. } => {
            let t = open_tap(ifname)?;
            net = Net::Tap {
                ifname: t.name().to_string(),
                guest: t.guest(),
            };
            if !cmdline.contains("net.ip=") {
                cmdline = format!("{cmdline} net.ip={} net.gateway={}", t.guest(), t.host())
                    .trim()
                    .to_string();
            }
            match tap::set_permanent_neighbour(t.name(), t.guest(), GUEST_MAC) {
                Ok(()) => eprintln!(
                    "xtask: the guest is {} on {} (e.g. --append net.echo, then `nc -u {} 7`)",
                    t.guest(),
                    t.name(),
                    t.guest()
                ),
                Err(e) => eprintln!(
                    "xtask: the host does not know the guest's MAC ({e}); as root: ip neigh replace {} lladdr {GUEST_MAC} dev {} nud permanent",
                    t.guest(),
                    t.name()
                ),
            }
            Some(t)
        }
        _ => None,
    };
    let mut m = Machine::new(Boot::Kernel {
        elf: kernel.elf.clone(),
        cmdline,
    });
    m.accel = accel;
    m.net = net;
    m.gdb = opts.gdb;
    m.interactive = true;
    if opts.gdb {
        eprintln!(
            "xtask: QEMU waits for gdb; in another terminal run:\n    gdb -ex 'file {}' -ex 'target remote :1234' -ex 'break kernel::boot_entry' -ex continue",
            kernel.elf.display()
        );
    }
    let symbols = Symbolizer::load(&kernel.elf).ok();
    let mut cmd = m.command();
    cmd.stdout(Stdio::piped());
    eprintln!(
        "xtask: $ {}\nxtask: serial console follows; Ctrl-A X quits QEMU",
        describe(&cmd)
    );
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: describe(&cmd),
        source,
    })?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut term = std::io::stdout();
    let mut line = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stdout.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let _ = term.write_all(&buf[..n]);
        let _ = term.flush();
        for &b in &buf[..n] {
            if b != b'\n' {
                line.push(b);
                continue;
            }
            let text = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_string();
            if let Some(sym) = symbols.as_ref().and_then(|s| s.annotate(&text)) {
                let _ = write!(term, "        = {sym}\r\n");
            }
            line.clear();
        }
    }
    let status = child.wait().map_err(|source| Error::Spawn {
        program: "qemu-system-x86_64".into(),
        source,
    })?;
    eprintln!("xtask: QEMU exited ({status})");
    Ok(())
}
