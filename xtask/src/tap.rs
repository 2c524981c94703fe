//! Host tap devices: a private Ethernet link between the host and the
//! guest, for the network tests when xtask runs as root and for
//! `cargo xtask run --net tap`. Traffic over a tap never leaves the
//! machine.
//!
//! [`TapDevice::create`] makes the tap (`ip tuntap add`), turns IPv6 off on
//! it (no router solicitations or neighbour discovery reach the guest),
//! gives the host the first address of a private /24 and brings the link
//! up; the guest takes the second address. Dropping a [`TapDevice`] that
//! xtask created deletes it, on every exit path that unwinds: a failed
//! test, a timeout, an error, a panic. A tap that survives anyway (xtask
//! killed) carries its creator's pid in its name ([`test_name`]); the next
//! [`TapDevice::for_test`] deletes taps whose creator is gone.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

/// Prefix of the taps the tests create (`exo-t<pid>-<n>`).
const TEST_PREFIX: &str = "exo-t";
/// Interface names are at most 15 bytes.
const IFNAMSIZ: usize = 15;
/// The private /16 the tests' /24s come from.
const NET16: [u8; 2] = [10, 77];

/// Why no tap could be used.
#[derive(Debug)]
pub enum TapError {
    /// Creating a tap needs CAP_NET_ADMIN; xtask checks for root.
    NotRoot,
    /// `/dev/net/tun` is missing (no tun/tap support, or not in this
    /// container).
    NoTunDevice,
    /// A command failed to run or failed.
    Command { command: String, detail: String },
    /// Every 10.77.x.0/24 is in use on this host.
    NoFreeSubnet,
    /// Every test tap name of this process is taken.
    NoFreeName,
    /// `EXO_NET_TAP=0` asks the tests not to use taps.
    Disabled,
}

impl fmt::Display for TapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRoot => write!(
                f,
                "not running as root (creating a tap needs CAP_NET_ADMIN)"
            ),
            Self::NoTunDevice => write!(f, "/dev/net/tun does not exist"),
            Self::Command { command, detail } => write!(f, "`{command}` failed: {detail}"),
            Self::NoFreeSubnet => write!(f, "every 10.77.x.0/24 is already in use on this host"),
            Self::NoFreeName => write!(f, "no free tap name for this process"),
            Self::Disabled => write!(f, "disabled by EXO_NET_TAP=0"),
        }
    }
}

impl std::error::Error for TapError {}

/// Runs `ip ARGS`; `Err` carries its stderr.
fn ip(args: &[&str]) -> Result<String, TapError> {
    let command = format!("ip {}", args.join(" "));
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| TapError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(TapError::Command {
            command,
            detail: format!(
                "{} ({})",
                String::from_utf8_lossy(&out.stderr).trim(),
                out.status
            ),
        })
    }
}

/// Whether this process's effective user is root (`/proc/self/status`).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Checks that taps can be made here at all.
pub fn check_possible() -> Result<(), TapError> {
    if !is_root() {
        return Err(TapError::NotRoot);
    }
    if !Path::new("/dev/net/tun").exists() {
        return Err(TapError::NoTunDevice);
    }
    Ok(())
}

fn exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// The name of test tap `n` of process `pid`.
pub fn test_name(pid: u32, n: u32) -> String {
    format!("{TEST_PREFIX}{pid}-{n}")
}

/// The creator pid in a test tap's name.
fn creator(name: &str) -> Option<u32> {
    name.strip_prefix(TEST_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Deletes test taps whose creator process no longer exists.
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = creator(&name)
            && !Path::new("/proc").join(pid.to_string()).exists()
        {
            match ip(&["link", "del", &name]) {
                Ok(_) => eprintln!("xtask: deleted tap {name} left by process {pid}"),
                Err(e) => eprintln!("xtask: cannot delete stale tap {name}: {e}"),
            }
        }
    }
}

/// The first free 10.77.x.0/24, trying `start` first: one that no
/// address or route of this host lies in.
fn free_subnet(start: u8) -> Result<u8, TapError> {
    let used = format!(
        "{}\n{}",
        ip(&["-4", "-o", "addr", "show"])?,
        ip(&["-4", "route", "show", "table", "all"])?
    );
    (0..=255u16)
        .map(|i| ((u16::from(start) + i) % 256) as u8)
        .find(|x| !used.contains(&format!("{}.{}.{x}.", NET16[0], NET16[1])))
        .ok_or(TapError::NoFreeSubnet)
}

/// A tap device, deleted when dropped if xtask created it.
#[derive(Debug)]
pub struct TapDevice {
    name: String,
    host: Ipv4Addr,
    guest: Ipv4Addr,
    created: bool,
}

impl TapDevice {
    /// Creates tap `name` with `host`/24 on the host side and brings it
    /// up; the guest is `host + 1`. Anything created is deleted again if
    /// a later step fails.
    pub fn create(name: &str, host: Ipv4Addr) -> Result<TapDevice, TapError> {
        check_possible()?;
        debug_assert!(name.len() <= IFNAMSIZ);
        ip(&["tuntap", "add", "dev", name, "mode", "tap"])?;
        let o = host.octets();
        let tap = TapDevice {
            name: name.to_string(),
            host,
            guest: Ipv4Addr::new(o[0], o[1], o[2], o[3].wrapping_add(1)),
            created: true,
        };
        // Best effort: without IPv6 support the file does not exist.
        let v6 = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
        if Path::new(&v6).exists() {
            let _ = std::fs::write(&v6, "1");
        }
        ip(&["addr", "add", &format!("{host}/24"), "dev", name])?;
        ip(&["link", "set", name, "up"])?;
        Ok(tap)
    }

    /// A fresh tap for one test run: a name carrying this process's id,
    /// a /24 no other interface or route of the host uses. Taps of dead
    /// xtask runs are deleted first.
    pub fn for_test() -> Result<TapDevice, TapError> {
        if std::env::var("EXO_NET_TAP").is_ok_and(|v| v == "0") {
            return Err(TapError::Disabled);
        }
        check_possible()?;
        sweep_stale();
        let pid = std::process::id();
        let name = (0..100)
            .map(|n| test_name(pid, n))
            .find(|n| n.len() <= IFNAMSIZ && !exists(n))
            .ok_or(TapError::NoFreeName)?;
        let x = free_subnet((pid % 251) as u8)?;
        TapDevice::create(&name, Ipv4Addr::new(NET16[0], NET16[1], x, 1))
    }

    /// An existing tap someone else made (never deleted by xtask): the
    /// host's address is its first IPv4 address, if any.
    pub fn existing(name: &str) -> Option<TapDevice> {
        if !exists(name) {
            return None;
        }
        let out = ip(&["-4", "-o", "addr", "show", "dev", name]).unwrap_or_default();
        let host = out
            .split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .and_then(|a| a.split('/').next())
            .and_then(|a| a.parse::<Ipv4Addr>().ok())
            .unwrap_or(Ipv4Addr::new(NET16[0], NET16[1], 0, 1));
        let o = host.octets();
        Some(TapDevice {
            name: name.to_string(),
            host,
            guest: Ipv4Addr::new(o[0], o[1], o[2], o[3].wrapping_add(1)),
            created: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn host(&self) -> Ipv4Addr {
        self.host
    }

    pub fn guest(&self) -> Ipv4Addr {
        self.guest
    }
}

/// Forgets every neighbour the host learned on tap `name`, so the next
/// datagram to the guest starts with an ARP request.
pub fn flush_neighbours(name: &str) -> Result<(), TapError> {
    ip(&["neigh", "flush", "dev", name]).map(drop)
}

/// The hardware address the host holds for `addr` on tap `name`, if
/// resolved (`ip neigh show ADDR dev TAP`).
pub fn neighbour(name: &str, addr: Ipv4Addr) -> Option<String> {
    let out = ip(&["neigh", "show", &addr.to_string(), "dev", name]).ok()?;
    let mut words = out.split_whitespace();
    words.find(|w| *w == "lladdr")?;
    words.next().map(str::to_string)
}

/// Resolves `addr` to `mac` for good on tap `name` (the host sends no ARP
/// for it).
pub fn set_permanent_neighbour(name: &str, addr: Ipv4Addr, mac: &str) -> Result<(), TapError> {
    ip(&[
        "neigh",
        "replace",
        &addr.to_string(),
        "lladdr",
        mac,
        "dev",
        name,
        "nud",
        "permanent",
    ])
    .map(drop)
}

impl Drop for TapDevice {
    fn drop(&mut self) {
        if !self.created {
            return;
        }
        if let Err(e) = ip(&["link", "del", &self.name]) {
            eprintln!(
                "xtask: cannot delete tap {}: {e}; delete it with `ip link del {}`",
                self.name, self.name
            );
        }
    }
}

/// The commands that make tap `name` for a user who is not root.
pub fn setup_commands(name: &str, host: Ipv4Addr) -> String {
    format!(
        "sudo ip tuntap add dev {name} mode tap user \"$(id -un)\"\n\
         sudo ip addr add {host}/24 dev {name}\n\
         sudo ip link set {name} up"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_names_fit_and_carry_the_creator() {
        let n = test_name(4_194_304, 99);
        assert!(n.len() <= IFNAMSIZ, "{n}");
        assert_eq!(creator(&n), Some(4_194_304));
        assert_eq!(creator("exo-tap0"), None);
        assert_eq!(creator("eth0"), None);
    }

    /// Creates, uses and drops a real tap when the host allows it (root
    /// with /dev/net/tun); elsewhere there is nothing to check.
    #[test]
    fn a_test_tap_is_addressed_and_gone_after_drop() {
        if check_possible().is_err() {
            eprintln!("skipped: taps cannot be created here");
            return;
        }
        let name;
        {
            let tap = TapDevice::for_test().expect("a tap");
            name = tap.name().to_string();
            assert!(exists(&name));
            let out = ip(&["-4", "-o", "addr", "show", "dev", &name]).unwrap();
            assert!(out.contains(&format!("{}/24", tap.host())), "{out}");
            assert_eq!(tap.guest().octets()[3], 2);
            assert!(flush_neighbours(tap.name()).is_ok());
            assert_eq!(neighbour(tap.name(), tap.guest()), None);
        }
        assert!(!exists(&name), "{name} outlived its guard");
    }
}
