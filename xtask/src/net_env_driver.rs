//! Host side of the network environment test scenarios
//! (`kernel/src/netenv/`, scenarios `net-env-tests` and `net-asleep`):
//! serves the guest's traffic requests in order, over user networking
//! forwards or a host tap.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use crate::net_drivers::{ECHO_SIZES, Rng};
use crate::qemu::{Net, Proto};
use crate::scenario::HostDriver;
use crate::session::SerialLog;
use crate::tap;

/// Host side of the network environment tests: follows the guest's
/// `NETTEST` requests in order until the kernel tests end:
///
/// * `echo PORT N`: send N datagrams of varied sizes to guest port PORT,
///   one at a time; each echo must come back byte for byte;
/// * `send PORT N`: send N datagrams, no answer expected;
/// * `pattern PORT N`: send N datagrams whose payloads follow
///   [`pattern_len`] and [`pattern_byte`] (the guest checks them), no
///   answer expected.
///
/// On user networking the guest's ports are reached through the
/// scenario's forwards. On a tap the datagrams go to the guest's address;
/// before each request the host forgets its neighbours on the tap, so the
/// first datagram makes it ask for the guest's MAC by ARP, and the guest's
/// MAC must be known soon after: the guest (its ARP responder handler)
/// answered.
pub struct NetEnvTests {
    pub seed: u64,
}

/// How long one request may take to appear, and the whole run.
const REQUEST_WAIT: Duration = Duration::from_secs(300);
/// The guest NIC's MAC (`qemu::VIRTIO_NET_DEVICE`), as `ip neigh` shows it.
const GUEST_MAC: &str = "52:54:00:12:34:56";
/// How long the guest may take to answer the host's ARP request.
const ARP_WAIT: Duration = Duration::from_secs(10);

/// Payload sizes of `pattern` datagrams, in turn
/// (`exo_abi::netprobe::PATTERN_SIZES`; xtask depends on no project crate).
const PATTERN_SIZES: [usize; 6] = [1, 17, 300, 999, 1000, 1472];

/// Payload size of `pattern` datagram `seq` (`exo_abi::netprobe::pattern_len`).
pub fn pattern_len(seq: u64) -> usize {
    PATTERN_SIZES[(seq % PATTERN_SIZES.len() as u64) as usize]
}

/// Byte `j` of `pattern` datagram `seq` (`exo_abi::netprobe::pattern_byte`).
pub fn pattern_byte(seq: u64, j: u64) -> u8 {
    let x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ j.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x ^ x >> 29 ^ x >> 47) as u8
}

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Echo,
    Send,
    Pattern,
}

/// Where the host sends to reach guest UDP port `guest`, and the local
/// address to bind.
fn endpoints(net: &Net, guest: u16) -> Result<(SocketAddr, SocketAddr), String> {
    match net {
        Net::User { forwards } => forwards
            .iter()
            .find(|(p, _, g)| *p == Proto::Udp && *g == guest)
            .map(|(_, h, _)| {
                (
                    SocketAddr::from((Ipv4Addr::LOCALHOST, *h)),
                    SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                )
            })
            .ok_or_else(|| format!("no UDP forward to guest port {guest}")),
        Net::Tap { guest: addr, .. } => Ok((
            SocketAddr::from((*addr, guest)),
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        )),
        other => Err(format!("expected user networking or a tap, got {other:?}")),
    }
}

impl NetEnvTests {
    fn request(&self, line: &str, net: &Net, rng: &mut Rng) -> Result<(), String> {
        let words: Vec<&str> = line
            .split("NETTEST ")
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let (kind, guest, n) = match words.as_slice() {
            [cmd, port, n] => (
                match *cmd {
                    "echo" => Kind::Echo,
                    "send" => Kind::Send,
                    "pattern" => Kind::Pattern,
                    other => return Err(format!("`{line}`: unknown request `{other}`")),
                },
                port.parse::<u16>().map_err(|e| format!("`{line}`: {e}"))?,
                n.parse::<u64>().map_err(|e| format!("`{line}`: {e}"))?,
            ),
            _ => return Err(format!("cannot parse the request `{line}`")),
        };
        let (to, local) = endpoints(net, guest)?;
        if let Net::Tap { ifname, .. } = net {
            tap::flush_neighbours(ifname).map_err(|e| e.to_string())?;
        }
        let sock = UdpSocket::bind(local).map_err(|e| format!("bind: {e}"))?;
        sock.connect(to)
            .map_err(|e| format!("connect to {to}: {e}"))?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 2048];
        for i in 0..n {
            let payload = match kind {
                Kind::Pattern => (0..pattern_len(i) as u64)
                    .map(|j| pattern_byte(i, j))
                    .collect(),
                _ => rng.bytes(ECHO_SIZES[i as usize % ECHO_SIZES.len()]),
            };
            sock.send(&payload)
                .map_err(|e| format!("{line} #{i}: send: {e}"))?;
            if i == 0
                && let Net::Tap {
                    ifname,
                    guest: addr,
                } = net
            {
                guest_resolved(ifname, *addr).map_err(|e| format!("`{line}`: {e}"))?;
            }
            if kind != Kind::Echo {
                // Paced: the guest handles them one by one.
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let got = sock.recv(&mut buf).map_err(|e| {
                format!(
                    "echo {guest} #{i} ({} bytes): no echo within 10 s: {e}",
                    payload.len()
                )
            })?;
            if buf[..got] != payload[..] {
                return Err(format!(
                    "echo {guest} #{i}: the echo differs ({got} bytes back for {} sent; seed {:#x})",
                    payload.len(),
                    self.seed
                ));
            }
        }
        Ok(())
    }
}

/// Waits until the host has resolved the guest's address `addr` on tap
/// `ifname` to the guest's MAC. The neighbour table was emptied before
/// the request's first datagram, and the guest sends no ARP request of
/// its own after boot: only its ARP responder's reply can have taught the
/// host the MAC since.
fn guest_resolved(ifname: &str, addr: Ipv4Addr) -> Result<(), String> {
    let end = std::time::Instant::now() + ARP_WAIT;
    loop {
        let held = tap::neighbour(ifname, addr);
        if held.as_deref() == Some(GUEST_MAC) {
            return Ok(());
        }
        if std::time::Instant::now() >= end {
            return Err(format!(
                "{}s after the first datagram the host holds {held:?} for {addr} on {ifname}, not {GUEST_MAC}: the guest did not answer ARP",
                ARP_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl HostDriver for NetEnvTests {
    fn run(&mut self, serial: &SerialLog, net: &Net) -> Result<(), String> {
        let mut rng = Rng::new(self.seed);
        let mut next = 0;
        let mut handled = 0;
        let mut first_error = None;
        while let Some((i, line)) =
            serial.wait_from(next, &["NETTEST ", "KTEST done"], REQUEST_WAIT)
        {
            next = i + 1;
            if line.contains("KTEST done") {
                break;
            }
            handled += 1;
            // Keep serving later requests after a failure: the guest's
            // tests report their own side.
            if let Err(e) = self.request(&line, net, &mut rng)
                && first_error.is_none()
            {
                first_error = Some(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None if handled == 0 => Err("the guest asked for no traffic".into()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_matches_the_guests_copy() {
        // The same values are asserted in abi/src/netprobe.rs.
        let got = [
            pattern_byte(0, 0),
            pattern_byte(0, 1),
            pattern_byte(1, 0),
            pattern_byte(5, 1471),
            pattern_byte(23, 999),
        ];
        assert_eq!(got, [0, 97, 176, 243, 11]);
        assert_eq!(
            (pattern_len(0), pattern_len(6), pattern_len(11)),
            (1, 1, 1472)
        );
    }

    #[test]
    fn user_forwards_and_taps_give_the_guests_endpoint() {
        let user = Net::User {
            forwards: vec![(Proto::Udp, 5555, 7)],
        };
        assert_eq!(
            endpoints(&user, 7).unwrap().0,
            SocketAddr::from(([127, 0, 0, 1], 5555))
        );
        assert!(endpoints(&user, 8).is_err());
        let tap = Net::Tap {
            ifname: "exo-t1-0".into(),
            guest: Ipv4Addr::new(10, 77, 3, 2),
        };
        assert_eq!(
            endpoints(&tap, 6000).unwrap().0,
            SocketAddr::from(([10, 77, 3, 2], 6000))
        );
        assert!(endpoints(&Net::None, 7).is_err());
    }
}
