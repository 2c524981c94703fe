//! Host-side drivers of the network scenarios: a UDP echo client that
//! checks every echo the kernel's ASH sends back, and a generator of
//! malformed frames whose fate it predicts and checks against the kernel's
//! counters.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::net_report::ReportLine;
use crate::qemu::{Net, Proto};
use crate::scenario::HostDriver;
use crate::session::SerialLog;

/// How long the guest may take to boot and bring the NIC up.
const BOOT_WAIT: Duration = Duration::from_secs(60);
/// How long the guest may take to print its report after the last frame.
const REPORT_WAIT: Duration = Duration::from_secs(30);
/// Longest frame the guest's receive buffers hold (2048 - 12-byte virtio
/// header); QEMU drops longer ones before the guest sees them.
pub const MAX_DELIVERABLE: usize = 2036;
/// Longest frame the kernel accepts (Ethernet without FCS or VLAN tag).
pub const MAX_FRAME: usize = 1514;

/// xorshift64*: a small deterministic generator (the seed is in every
/// failure message so a run can be repeated).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A seed that differs from run to run.
pub fn time_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5EED)
}

fn wait_ready(serial: &SerialLog) -> Result<(), String> {
    serial
        .wait_for("net: ready", BOOT_WAIT)
        .map(|_| ())
        .ok_or_else(|| "the guest never printed `net: ready`".to_string())
}

fn report(serial: &SerialLog, tag: &str) -> Result<ReportLine, String> {
    let line = serial
        .wait_for(&format!("{tag} "), REPORT_WAIT)
        .ok_or_else(|| format!("the guest never printed its `{tag}` line"))?;
    ReportLine::parse(&line, tag).ok_or_else(|| format!("cannot parse `{line}`"))
}

fn expect_eq(what: &str, got: u64, want: u64) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: the kernel reports {got}, expected {want}"))
    }
}

/// Sends `count` datagrams of varied sizes through the forwarded UDP port
/// to the guest's port 7, one at a time, and checks that each comes back
/// byte for byte; then checks the kernel's report (every datagram matched,
/// run by the handler, echoed and consumed; nothing faulted).
pub struct UdpEcho {
    pub count: u64,
    pub seed: u64,
}

/// Payload sizes cycled through (up to the largest that fits one frame).
pub const ECHO_SIZES: [usize; 7] = [1, 18, 64, 300, 512, 1000, 1472];

impl UdpEcho {
    /// Sends the datagrams to `to` (a forwarded host port, or the guest's
    /// address on a tap) and checks every echo.
    pub fn exchange(&self, to: SocketAddr) -> Result<(), String> {
        let local = if to.ip().is_loopback() {
            SocketAddr::from(([127, 0, 0, 1], 0))
        } else {
            SocketAddr::from(([0, 0, 0, 0], 0))
        };
        let sock = UdpSocket::bind(local).map_err(|e| format!("bind: {e}"))?;
        sock.connect(to)
            .map_err(|e| format!("connect to {to}: {e}"))?;
        sock.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let mut rng = Rng::new(self.seed);
        let mut buf = vec![0u8; 2048];
        for i in 0..self.count {
            let payload = rng.bytes(ECHO_SIZES[i as usize % ECHO_SIZES.len()]);
            sock.send(&payload)
                .map_err(|e| format!("datagram {i}: send: {e}"))?;
            let n = sock.recv(&mut buf).map_err(|e| {
                format!(
                    "datagram {i} ({} bytes): no echo within 5 s: {e}",
                    payload.len()
                )
            })?;
            if buf[..n] != payload[..] {
                return Err(format!(
                    "datagram {i}: the echo differs ({n} bytes back for {} sent; seed {:#x})",
                    payload.len(),
                    self.seed
                ));
            }
        }
        Ok(())
    }
}

impl HostDriver for UdpEcho {
    fn run(&mut self, serial: &SerialLog, net: &Net) -> Result<(), String> {
        let port = match net {
            Net::User { forwards } => forwards
                .iter()
                .find(|(p, _, guest)| *p == Proto::Udp && *guest == 7)
                .map(|(_, host, _)| *host),
            _ => None,
        }
        .ok_or_else(|| format!("expected a user NIC forwarding a UDP port to 7, got {net:?}"))?;
        wait_ready(serial)?;
        self.exchange(SocketAddr::from(([127, 0, 0, 1], port)))?;
        let n = self.count;
        let bind = report(serial, "NETBIND")?;
        if bind.text("name") != Some("udp_echo") {
            return Err(format!(
                "unexpected binding in the report: {:?}",
                bind.fields
            ));
        }
        expect_eq("binding matches", bind.num("matches")?, n)?;
        expect_eq("handler runs", bind.num("handler_runs")?, n)?;
        expect_eq("handler faults", bind.num("handler_faults")?, 0)?;
        expect_eq("frames the handler consumed", bind.num("consumed")?, n)?;
        expect_eq("frames the handler sent", bind.num("sent")?, n)?;
        expect_eq("the handler's `echoed` counter", bind.num("counter0")?, n)?;
        let stat = report(serial, "NETSTAT")?;
        // The ARP announcement plus one echo per datagram.
        expect_eq("frames sent", stat.num("tx_frames")?, n + 1)?;
        expect_eq("frames consumed", stat.num("consumed")?, n)?;
        let lat = report(serial, "NETLAT")?;
        expect_eq("latency samples", lat.num("count")?, n)?;
        Ok(())
    }
}

/// What the kernel must do with a frame (`kernel/src/net/frame.rs`,
/// implemented again here as the test's oracle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Truncated,
    Malformed,
    Oversized,
    /// Passes the checks; no binding takes it.
    Unclaimed,
    /// Passes the checks and the bystander environment's filter takes it
    /// (EtherType [`BYSTANDER_ETHERTYPE`]): delivered to its ring.
    Claimed,
}

/// EtherType the bystander environment binds
/// (`exo_abi::netprobe::ETHERTYPE_BYSTANDER`).
pub const BYSTANDER_ETHERTYPE: u16 = 0x88B5;

/// The kernel's frame rules (docs/NET.md, "Frame checks").
pub fn fate(f: &[u8]) -> Fate {
    if f.len() > MAX_FRAME {
        return Fate::Oversized;
    }
    if f.len() < 14 {
        return Fate::Truncated;
    }
    let p = &f[14..];
    match u16::from_be_bytes([f[12], f[13]]) {
        0x0800 => {
            if p.len() < 20 {
                return Fate::Truncated;
            }
            let ihl = usize::from(p[0] & 0x0F) * 4;
            if p[0] >> 4 != 4 || ihl < 20 {
                return Fate::Malformed;
            }
            if p.len() < ihl {
                return Fate::Truncated;
            }
            let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
            if total < ihl {
                Fate::Malformed
            } else if total > p.len() {
                Fate::Truncated
            } else {
                Fate::Unclaimed
            }
        }
        0x0806 if p.len() < 28 => Fate::Truncated,
        BYSTANDER_ETHERTYPE => Fate::Claimed,
        _ => Fate::Unclaimed,
    }
}

/// An Ethernet header with `ethertype` and random addresses.
fn eth(rng: &mut Rng, ethertype: u16) -> Vec<u8> {
    let mut f = rng.bytes(12);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// A plausible IPv4 header (IHL 5..=15) and payload: the generators break
/// one field or cut it short.
fn ipv4(rng: &mut Rng) -> Vec<u8> {
    let ihl = rng.range(5, 15);
    let payload = rng.range(0, 200);
    let mut ip = rng.bytes(ihl * 4 + payload);
    ip[0] = 0x40 | ihl as u8;
    let total = (ihl * 4 + payload) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip
}

/// One malformed (or merely unwanted) frame, 1..=[`MAX_DELIVERABLE`]
/// bytes (an empty frame cannot travel over QEMU's socket backend).
pub fn malformed_frame(rng: &mut Rng) -> Vec<u8> {
    match rng.range(0, 8) {
        // Random bytes, random length.
        0 => {
            let n = rng.range(1, MAX_DELIVERABLE);
            rng.bytes(n)
        }
        // Shorter than an Ethernet header.
        1 => {
            let n = rng.range(1, 13);
            rng.bytes(n)
        }
        // IPv4 cut inside its header (or before it).
        2 => {
            let mut f = eth(rng, 0x0800);
            let ip = ipv4(rng);
            let ihl = usize::from(ip[0] & 0x0F) * 4;
            f.extend_from_slice(&ip[..rng.range(0, ihl - 1)]);
            f
        }
        // IPv4 with a bad version or header length.
        3 => {
            let mut f = eth(rng, 0x0800);
            let mut ip = ipv4(rng);
            ip[0] = if rng.next() & 1 == 0 {
                (rng.range(0, 15) as u8) << 4 | (ip[0] & 0x0F)
            } else {
                0x40 | rng.range(0, 4) as u8
            };
            f.extend_from_slice(&ip);
            f
        }
        // IPv4 whose total length lies.
        4 => {
            let mut f = eth(rng, 0x0800);
            let mut ip = ipv4(rng);
            let total = rng.range(0, 0xFFFF) as u16;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            f.extend_from_slice(&ip);
            f
        }
        // ARP cut short.
        5 => {
            let mut f = eth(rng, 0x0806);
            let n = rng.range(0, 27);
            f.extend(rng.bytes(n));
            f
        }
        // Oversized.
        6 => {
            let n = rng.range(MAX_FRAME + 1, MAX_DELIVERABLE);
            let mut f = eth(rng, 0x0800);
            f.extend(rng.bytes(n - 14));
            f
        }
        // Well-formed IPv4 nobody asked for.
        7 => {
            let mut f = eth(rng, 0x0800);
            f.extend(ipv4(rng));
            f
        }
        // The bystander's EtherType (now and then), or another one, with
        // random contents.
        _ if rng.next().is_multiple_of(8) => {
            let n = rng.range(14, MAX_FRAME);
            let mut f = eth(rng, BYSTANDER_ETHERTYPE);
            f.extend(rng.bytes(n - 14));
            f
        }
        _ => {
            let n = rng.range(14, MAX_FRAME);
            let ethertype = rng.next() as u16;
            let mut f = eth(rng, ethertype);
            f.extend(rng.bytes(n - 14));
            f
        }
    }
}

/// Connects to QEMU's socket backend and sends `count` generated frames
/// (length-prefixed, as `-netdev socket` expects) once the guest printed
/// `ready`; the guest reports once it has received them all, and every
/// counter must match the prediction (the bystander environment's binding
/// takes the frames of its EtherType into its ring).
pub struct MalformedBurst {
    pub count: usize,
    pub seed: u64,
    pub ready: &'static str,
}

impl MalformedBurst {
    fn connect(port: u16) -> Result<TcpStream, String> {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => return Ok(s),
                Err(e) if Instant::now() >= end => {
                    return Err(format!(
                        "cannot connect to QEMU's socket backend on port {port}: {e}"
                    ));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl HostDriver for MalformedBurst {
    fn run(&mut self, serial: &SerialLog, net: &Net) -> Result<(), String> {
        let Net::Socket { port } = net else {
            return Err(format!("expected a socket NIC, got {net:?}"));
        };
        wait_ready(serial)?;
        serial
            .wait_for(self.ready, BOOT_WAIT)
            .ok_or_else(|| format!("the guest never printed `{}`", self.ready))?;
        let mut rng = Rng::new(self.seed);
        let frames: Vec<Vec<u8>> = (0..self.count).map(|_| malformed_frame(&mut rng)).collect();
        let mut stream = Self::connect(*port)?;
        let mut wire = Vec::new();
        for f in &frames {
            wire.extend_from_slice(&(f.len() as u32).to_be_bytes());
            wire.extend_from_slice(f);
        }
        stream
            .write_all(&wire)
            .map_err(|e| format!("sending the frames: {e}"))?;
        let count = |fate| frames.iter().filter(|f| self::fate(f) == fate).count() as u64;
        let stat = report(serial, "NETSTAT").map_err(|e| format!("{e} (seed {:#x})", self.seed))?;
        let check = || -> Result<(), String> {
            expect_eq("rx_frames", stat.num("rx_frames")?, frames.len() as u64)?;
            let bytes: usize = frames.iter().map(Vec::len).sum();
            expect_eq("rx_bytes", stat.num("rx_bytes")?, bytes as u64)?;
            expect_eq("truncated", stat.num("truncated")?, count(Fate::Truncated))?;
            expect_eq("malformed", stat.num("malformed")?, count(Fate::Malformed))?;
            expect_eq("oversized", stat.num("oversized")?, count(Fate::Oversized))?;
            expect_eq("unclaimed", stat.num("unclaimed")?, count(Fate::Unclaimed))?;
            // The bystander drains its ring between bursts of frames; a
            // full ring drops (counted) rather than delivers.
            let taken = stat.num("delivered")? + stat.num("no_buffer")?;
            expect_eq("delivered + no_buffer", taken, count(Fate::Claimed))?;
            for zero in ["handler_fault", "consumed", "device_errors"] {
                expect_eq(zero, stat.num(zero)?, 0)?;
            }
            Ok(())
        };
        check().map_err(|e| format!("{e} (seed {:#x})", self.seed))?;
        drop(stream);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_follows_the_documented_rules() {
        let mut f = vec![0u8; 60];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&46u16.to_be_bytes());
        assert_eq!(fate(&f), Fate::Unclaimed);
        assert_eq!(fate(&f[..13]), Fate::Truncated);
        assert_eq!(fate(&f[..33]), Fate::Truncated);
        f[14] = 0x44;
        assert_eq!(fate(&f), Fate::Malformed);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&47u16.to_be_bytes());
        assert_eq!(fate(&f), Fate::Truncated);
        assert_eq!(fate(&vec![0u8; 1515]), Fate::Oversized);
    }

    #[test]
    fn generated_frames_cover_every_fate_and_fit_the_buffers() {
        let mut rng = Rng::new(42);
        let frames: Vec<Vec<u8>> = (0..2000).map(|_| malformed_frame(&mut rng)).collect();
        for fate_kind in [
            Fate::Truncated,
            Fate::Malformed,
            Fate::Oversized,
            Fate::Unclaimed,
            Fate::Claimed,
        ] {
            assert!(
                frames.iter().any(|f| fate(f) == fate_kind),
                "{fate_kind:?} never generated"
            );
        }
        assert!(
            frames
                .iter()
                .all(|f| !f.is_empty() && f.len() <= MAX_DELIVERABLE)
        );
    }
}
