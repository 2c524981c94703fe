//! Frames for the tests: well-formed Ethernet II frames carrying IPv4
//! (UDP, TCP) or ARP, with correct checksums, and hostile variants of them
//! (every short length, lying length fields, bad header lengths, flipped
//! bits, padding) and random frames. Deterministic: randomness comes from
//! a seeded xorshift [`Rng`].
//!
//! The builders are written here, independently of the crates under test;
//! the tests check them against `etherparse`.

/// An Ethernet address.
pub type Mac = [u8; 6];
/// An IPv4 address.
pub type Ip = [u8; 4];

/// The peer that sends requests.
pub const CLIENT_MAC: Mac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0c];
pub const CLIENT_IP: Ip = [10, 0, 2, 2];
/// The machine a handler serves (QEMU's NIC address).
pub const SERVER_MAC: Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
pub const SERVER_IP: Ip = [10, 0, 2, 15];

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
/// Longest frame the kernel hands a handler (Ethernet + 1500, no FCS).
pub const MAX_FRAME: usize = 1514;

/// RFC 1071 ones-complement sum of big-endian 16-bit words plus `seed`,
/// folded to 16 bits, not complemented.
pub fn checksum(bytes: &[u8], seed: u32) -> u16 {
    let mut s = u64::from(seed);
    for c in bytes.chunks(2) {
        s += u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// An Ethernet II frame.
pub fn eth(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 header's fields.
#[derive(Clone, Debug)]
pub struct Ip4 {
    pub src: Ip,
    pub dst: Ip,
    pub proto: u8,
    pub ttl: u8,
    pub id: u16,
    /// Flags (top 3 bits) and fragment offset.
    pub flags_frag: u16,
    /// Option bytes (padded with zeros to a multiple of 4, at most 40).
    pub options: Vec<u8>,
}

impl Ip4 {
    /// A header from `src` to `dst` with "don't fragment", TTL 64.
    pub fn new(src: Ip, dst: Ip, proto: u8) -> Ip4 {
        Ip4 {
            src,
            dst,
            proto,
            ttl: 64,
            id: 0x1234,
            flags_frag: 0x4000,
            options: Vec::new(),
        }
    }
}

/// An IPv4 packet with a correct header checksum.
pub fn ipv4(h: &Ip4, payload: &[u8]) -> Vec<u8> {
    let mut opts = h.options.clone();
    opts.resize(opts.len().div_ceil(4) * 4, 0);
    assert!(opts.len() <= 40, "at most 40 bytes of IPv4 options");
    let hlen = 20 + opts.len();
    let total = u16::try_from(hlen + payload.len()).expect("an IPv4 packet fits 65,535 bytes");
    let mut p = Vec::with_capacity(hlen + payload.len());
    p.push(0x40 | (hlen / 4) as u8);
    p.push(0);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&h.id.to_be_bytes());
    p.extend_from_slice(&h.flags_frag.to_be_bytes());
    p.extend_from_slice(&[h.ttl, h.proto, 0, 0]);
    p.extend_from_slice(&h.src);
    p.extend_from_slice(&h.dst);
    p.extend_from_slice(&opts);
    let c = !checksum(&p[..hlen], 0);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The pseudo-header sum of a transport segment of `len` bytes.
fn pseudo(src: Ip, dst: Ip, proto: u8, len: usize) -> u32 {
    u32::from(checksum(&[src, dst].concat(), 0)) + u32::from(proto) + len as u32
}

/// A UDP datagram with a correct checksum (0 is sent as 0xffff).
pub fn udp(src: Ip, dst: Ip, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut d = Vec::with_capacity(len);
    d.extend_from_slice(&sport.to_be_bytes());
    d.extend_from_slice(&dport.to_be_bytes());
    d.extend_from_slice(&(len as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    let mut c = !checksum(&d, pseudo(src, dst, PROTO_UDP, len));
    if c == 0 {
        c = 0xffff;
    }
    d[6..8].copy_from_slice(&c.to_be_bytes());
    d
}

/// A TCP segment (20-byte header, no options) with a correct checksum.
pub fn tcp(src: Ip, dst: Ip, sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(20 + payload.len());
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    s.extend_from_slice(&0u32.to_be_bytes());
    s.extend_from_slice(&[5 << 4, flags]);
    s.extend_from_slice(&8192u16.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0]);
    s.extend_from_slice(payload);
    let c = !checksum(&s, pseudo(src, dst, PROTO_TCP, s.len()));
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

/// A UDP frame with the IPv4 header `h` (its protocol set to UDP), from the
/// client's MAC to the server's.
pub fn udp_frame_with(h: &Ip4, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = h.clone();
    h.proto = PROTO_UDP;
    let d = udp(h.src, h.dst, sport, dport, payload);
    eth(SERVER_MAC, CLIENT_MAC, ETHERTYPE_IPV4, &ipv4(&h, &d))
}

/// A UDP frame from the client to the server.
pub fn udp_frame(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    udp_frame_with(
        &Ip4::new(CLIENT_IP, SERVER_IP, PROTO_UDP),
        sport,
        dport,
        payload,
    )
}

/// A TCP frame from the client to the server.
pub fn tcp_frame(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let h = Ip4::new(CLIENT_IP, SERVER_IP, PROTO_TCP);
    let s = tcp(h.src, h.dst, sport, dport, flags, payload);
    eth(SERVER_MAC, CLIENT_MAC, ETHERTYPE_IPV4, &ipv4(&h, &s))
}

/// An ARP packet for IPv4 over Ethernet (42-byte frame); requests go to
/// the broadcast address, replies to `tha`.
pub fn arp_frame(op: u16, sha: Mac, spa: Ip, tha: Mac, tpa: Ip) -> Vec<u8> {
    let mut a = vec![0x00, 0x01, 0x08, 0x00, 6, 4];
    a.extend_from_slice(&op.to_be_bytes());
    a.extend_from_slice(&sha);
    a.extend_from_slice(&spa);
    a.extend_from_slice(&tha);
    a.extend_from_slice(&tpa);
    let dst = if op == 1 { [0xff; 6] } else { tha };
    eth(dst, sha, ETHERTYPE_ARP, &a)
}

/// A seeded xorshift stream.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Offset of the transport header of an IPv4 frame (by its IHL), when the
/// frame has one.
pub fn l4_offset(frame: &[u8]) -> Option<usize> {
    let ihl = usize::from(frame.get(14)? & 0x0f) * 4;
    Some(14 + ihl)
}

/// Hostile variants of a well-formed frame: every length up to 64 bytes
/// and a few longer cuts, padding, the length and header-length fields
/// set to lies, and random bit flips.
pub fn variants(frame: &[u8], rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for n in 0..frame.len().min(65) {
        out.push(frame[..n].to_vec());
    }
    for _ in 0..4 {
        if frame.len() > 65 {
            let n = 65 + rng.below((frame.len() - 65) as u64) as usize;
            out.push(frame[..n].to_vec());
        }
    }
    let mut padded = frame.to_vec();
    padded.resize(frame.len().max(60), 0);
    padded.extend_from_slice(&rng.bytes(7));
    out.push(padded);
    // Fields whose lies matter: EtherType, version/IHL, total length,
    // flags/fragment, protocol, and the transport's length or offset.
    let mut fields = vec![12, 13, 14, 16, 17, 20, 21, 23];
    if let Some(l4) = l4_offset(frame) {
        fields.extend([l4 + 4, l4 + 5, l4 + 12]);
    }
    for at in fields.into_iter().filter(|&a| a < frame.len()) {
        for v in [0x00, 0xff, rng.next_u64() as u8] {
            let mut f = frame.to_vec();
            f[at] = v;
            out.push(f);
        }
    }
    // Header lengths below 5 and above what the frame holds.
    for ihl in [0u8, 4, 6, 15] {
        if frame.len() > 14 {
            let mut f = frame.to_vec();
            f[14] = (f[14] & 0xf0) | ihl;
            out.push(f);
        }
    }
    for _ in 0..6 {
        if !frame.is_empty() {
            let mut f = frame.to_vec();
            let i = rng.below(f.len() as u64) as usize;
            f[i] ^= 1 << rng.below(8);
            out.push(f);
        }
    }
    out
}

/// `n` random frames of 0 to 1,514 bytes (some exactly 1,514); half of
/// them start like IPv4 UDP or TCP so that handlers get past their first
/// checks.
pub fn random_frames(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let len = if i % 10 == 0 {
                MAX_FRAME
            } else {
                rng.below(MAX_FRAME as u64 + 1) as usize
            };
            let mut f = rng.bytes(len);
            if i % 2 == 1 && len >= 24 {
                f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
                f[14] = 0x45;
                f[23] = if i % 4 == 1 { PROTO_UDP } else { PROTO_TCP };
            }
            f
        })
        .collect()
}

/// The frames every handler meets in the tests: well-formed UDP to the
/// examples' ports (and others) from empty to maximum-size payloads, TCP,
/// ARP, IPv6, then hostile variants of five of them and 60 random frames.
pub fn corpus(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for port in [7, 9, 53, 5000, 6000, 10007] {
        for n in [0, 1, 12, 20, 100, 1472] {
            out.push(udp_frame(40_000 + n as u16, port, &rng.bytes(n)));
        }
    }
    let rpc = udp_frame(40_001, 5000, &[0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 41]);
    let echo = udp_frame(40_002, 7, &rng.bytes(20));
    let vector = udp_frame(40_003, 6000, &rng.bytes(30));
    let syn = tcp_frame(40_004, 80, 0x02, b"");
    let request = arp_frame(1, CLIENT_MAC, CLIENT_IP, [0; 6], SERVER_IP);
    out.extend([
        rpc.clone(),
        echo.clone(),
        vector.clone(),
        syn.clone(),
        tcp_frame(40_005, 7, 0x11, &rng.bytes(40)),
        request.clone(),
        arp_frame(2, CLIENT_MAC, CLIENT_IP, SERVER_MAC, SERVER_IP),
        eth(SERVER_MAC, CLIENT_MAC, ETHERTYPE_IPV6, &rng.bytes(60)),
    ]);
    for f in [rpc, echo, vector, syn, request] {
        out.extend(variants(&f, &mut rng));
    }
    out.extend(random_frames(&mut rng, 60));
    out
}
