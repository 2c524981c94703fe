//! QEMU command lines: machine, boot medium, acceleration, network, debug
//! exit, and the mapping of QEMU exit statuses back to kernel exit codes.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

/// How the machine boots.
#[derive(Clone, Debug)]
pub enum Boot {
    /// `-kernel` (Multiboot1) with a command line.
    Kernel { elf: PathBuf, cmdline: String },
    /// A GRUB ISO (Multiboot2); the command line comes from grub.cfg.
    Iso(PathBuf),
}

/// CPU acceleration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Tcg,
    Kvm,
}

/// Protocol of a host port forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// The guest NIC (virtio-net) and its backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Net {
    /// No NIC at all.
    None,
    /// User-mode networking with host forwards `(proto, host port, guest port)`.
    User { forwards: Vec<(Proto, u16, u16)> },
    /// A host tap device (must exist: `crate::tap`); the guest's address
    /// on it is `guest` (given to the kernel as `net.ip`).
    Tap { ifname: String, guest: Ipv4Addr },
    /// A QEMU socket backend listening on 127.0.0.1:`port` (a host-side test
    /// driver connects and exchanges raw Ethernet frames).
    Socket { port: u16 },
}

/// The guest NIC: modern-only virtio-net (the kernel drives virtio 1.x),
/// no option ROM, and a fixed MAC the kernel tests check
/// (`kernel/src/net/tests.rs` `XTASK_MAC`).
pub const VIRTIO_NET_DEVICE: &str =
    "virtio-net-pci,netdev=net0,romfile=,disable-legacy=on,mac=52:54:00:12:34:56";

/// Everything needed to start one QEMU.
#[derive(Clone, Debug)]
pub struct Machine {
    pub boot: Boot,
    pub accel: Accel,
    pub net: Net,
    /// Write all NIC traffic to this pcap file.
    pub capture: Option<PathBuf>,
    pub memory_mib: u32,
    /// Wait for gdb on :1234 (`-s -S`).
    pub gdb: bool,
    /// Serial on stdio multiplexed with the monitor (interactive runs);
    /// otherwise serial on stdout only.
    pub interactive: bool,
    /// More QEMU arguments (e.g. `-icount` for instruction-count runs).
    pub extra_args: Vec<String>,
}

impl Machine {
    /// A TCG machine without NIC booting `boot`.
    pub fn new(boot: Boot) -> Machine {
        Machine {
            boot,
            accel: Accel::Tcg,
            net: Net::None,
            capture: None,
            memory_mib: 128,
            gdb: false,
            interactive: false,
            extra_args: Vec::new(),
        }
    }

    /// The QEMU command.
    pub fn command(&self) -> Command {
        let mut c = Command::new("qemu-system-x86_64");
        c.args([
            "-machine",
            "pc",
            "-m",
            &self.memory_mib.to_string(),
            "-display",
            "none",
            "-no-reboot",
        ]);
        c.args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
        match self.accel {
            Accel::Tcg => c.args(["-accel", "tcg", "-cpu", "qemu64,+nx"]),
            Accel::Kvm => c.args(["-accel", "kvm", "-cpu", "host,-arch-capabilities"]),
        };
        if self.interactive {
            c.args(["-serial", "mon:stdio"]);
        } else {
            c.args(["-serial", "stdio", "-monitor", "none"]);
        }
        match &self.boot {
            Boot::Kernel { elf, cmdline } => {
                c.arg("-kernel").arg(elf).args(["-append", cmdline]);
            }
            Boot::Iso(iso) => {
                c.arg("-cdrom").arg(iso).args(["-boot", "d"]);
            }
        }
        let netdev = match &self.net {
            Net::None => None,
            Net::User { forwards } => {
                let mut s = String::from("user,id=net0");
                for (proto, host, guest) in forwards {
                    let p = if *proto == Proto::Tcp { "tcp" } else { "udp" };
                    s.push_str(&format!(",hostfwd={p}:127.0.0.1:{host}-:{guest}"));
                }
                Some(s)
            }
            Net::Tap { ifname, .. } => Some(format!(
                "tap,id=net0,ifname={ifname},script=no,downscript=no"
            )),
            Net::Socket { port } => Some(format!("socket,id=net0,listen=127.0.0.1:{port}")),
        };
        match netdev {
            Some(nd) => {
                c.args(["-netdev", &nd, "-device", VIRTIO_NET_DEVICE]);
                if let Some(pcap) = &self.capture {
                    c.arg("-object").arg(format!(
                        "filter-dump,id=dump0,netdev=net0,file={}",
                        pcap.display()
                    ));
                }
            }
            None => {
                c.args(["-nic", "none"]);
            }
        }
        if self.gdb {
            c.args(["-s", "-S"]);
        }
        c.args(&self.extra_args);
        c
    }
}

/// Kernel exit codes (`kernel/src/exit.rs`), as QEMU exit statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestExit {
    Success,
    TestsFailed,
    Crash,
    Panic,
    BootError,
    /// Status 0 under `-no-reboot`: the guest triple-faulted (or QEMU quit
    /// normally, which our kernel never asks for).
    TripleFault,
    /// Any other status: QEMU itself failed.
    Other(i32),
}

impl GuestExit {
    /// Maps a QEMU exit status: the debug-exit device exits with `(v << 1) | 1`.
    pub fn from_status(code: i32) -> GuestExit {
        match code {
            0 => Self::TripleFault,
            33 => Self::Success,
            35 => Self::TestsFailed,
            37 => Self::Crash,
            39 => Self::Panic,
            41 => Self::BootError,
            other => Self::Other(other),
        }
    }
}

impl std::fmt::Display for GuestExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Success => write!(f, "kernel exited with success"),
            Self::TestsFailed => write!(f, "kernel reported failed tests"),
            Self::Crash => write!(f, "kernel crashed (exception)"),
            Self::Panic => write!(f, "kernel panicked"),
            Self::BootError => write!(f, "kernel could not boot"),
            Self::TripleFault => write!(f, "triple fault (QEMU exited 0 under -no-reboot)"),
            Self::Other(c) => write!(f, "QEMU exited with status {c} (QEMU error?)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_map_to_guest_codes() {
        assert_eq!(GuestExit::from_status(0), GuestExit::TripleFault);
        assert_eq!(GuestExit::from_status(33), GuestExit::Success);
        assert_eq!(GuestExit::from_status(37), GuestExit::Crash);
        assert_eq!(GuestExit::from_status(1), GuestExit::Other(1));
    }

    #[test]
    fn user_net_forwards_appear_on_the_command_line() {
        let mut m = Machine::new(Boot::Kernel {
            elf: "k".into(),
            cmdline: String::new(),
        });
        m.net = Net::User {
            forwards: vec![(Proto::Udp, 5555, 7)],
        };
        let args: Vec<String> = m
            .command()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.iter()
                .any(|a| a == "user,id=net0,hostfwd=udp:127.0.0.1:5555-:7"),
            "{args:?}"
        );
        assert!(args.iter().any(|a| a.starts_with("virtio-net-pci")));
    }
}
