//! Frame builders and the three generated captures: well-formed frames of
//! every kind the supported syntax looks at, the same frames cut short, and
//! random frames. Deterministic (fixed-seed xorshift).

use super::Packet;

const MAC_A: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
const MAC_B: [u8; 6] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06];
const BCAST: [u8; 6] = [0xff; 6];
const MCAST: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

pub fn eth(dst: [u8; 6], src: [u8; 6], ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ty.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 packet with `opt_words` 4-byte option words and the given
/// flags/fragment-offset field.
pub fn ipv4(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    opt_words: u8,
    frag: u16,
    payload: &[u8],
) -> Vec<u8> {
    let ihl = 5 + opt_words;
    let total = ihl as usize * 4 + payload.len();
    let mut h = vec![0x40 | ihl, 0, (total >> 8) as u8, total as u8, 0x12, 0x34];
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    for i in 0..opt_words {
        // NOPs, then End of options in the last word.
        h.extend_from_slice(if i + 1 == opt_words {
            &[1, 1, 1, 0]
        } else {
            &[1, 1, 1, 1]
        });
    }
    h.extend_from_slice(payload);
    h
}

pub fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

pub fn udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&sp.to_be_bytes());
    h.extend_from_slice(&dp.to_be_bytes());
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    h
}

pub fn tcp(sp: u16, dp: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&sp.to_be_bytes());
    h.extend_from_slice(&dp.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    h.extend_from_slice(payload);
    h
}

pub fn sctp(sp: u16, dp: u16) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&sp.to_be_bytes());
    h.extend_from_slice(&dp.to_be_bytes());
    h.extend_from_slice(&[0; 8]);
    h
}

pub fn icmp(ty: u8, code: u8) -> Vec<u8> {
    vec![ty, code, 0, 0, 0, 1, 0, 1, b'p', b'i', b'n', b'g']
}

pub fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut h = vec![0, 1, 0x08, 0x00, 6, 4];
    h.extend_from_slice(&op.to_be_bytes());
    h.extend_from_slice(&sha);
    h.extend_from_slice(&spa);
    h.extend_from_slice(&tha);
    h.extend_from_slice(&tpa);
    h
}

fn v6(last: u16, prefix: [u8; 2]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = prefix[0];
    a[1] = prefix[1];
    a[14] = (last >> 8) as u8;
    a[15] = last as u8;
    a
}

const IPS: [[u8; 4]; 6] = [
    [10, 0, 0, 1],
    [10, 1, 2, 3],
    [192, 168, 1, 7],
    [1, 2, 3, 4],
    [5, 6, 7, 8],
    [9, 9, 9, 9],
];

const PORTS: [u16; 10] = [53, 80, 443, 7, 999, 1000, 1500, 2000, 2001, 65535];

fn pkt(data: Vec<u8>) -> Packet {
    let wirelen = data.len() as u32;
    Packet { data, wirelen }
}

/// Well-formed frames of every kind.
pub fn mixed() -> Vec<Packet> {
    let mut rng = Rng::new(0x5eed_0001);
    let mut out = Vec::new();
    let pick_ip = |rng: &mut Rng| IPS[rng.below(IPS.len() as u64) as usize];
    for i in 0..PORTS.len() {
        let (s, d) = (pick_ip(&mut rng), pick_ip(&mut rng));
        let sp = PORTS[i];
        let dp = PORTS[(i * 3 + 1) % PORTS.len()];
        let opts = [0u8, 0, 1, 3, 10][i % 5];
        // UDP, TCP (assorted flags), SCTP over IPv4, some with options.
        let u = udp(sp, dp, b"hello");
        out.push(pkt(eth(
            MAC_B,
            MAC_A,
            0x800,
            &ipv4(s, d, 17, opts, 0x4000, &u),
        )));
        let flags = [0x02, 0x12, 0x10, 0x18, 0x04, 0x01, 0x11, 0xc2, 0x20, 0x08][i];
        let t = tcp(dp, sp, flags, b"data");
        out.push(pkt(eth(MAC_A, MAC_B, 0x800, &ipv4(d, s, 6, opts, 0, &t))));
        out.push(pkt(eth(
            MAC_A,
            MAC_B,
            0x800,
            &ipv4(s, d, 132, 0, 0, &sctp(sp, dp)),
        )));
        // IPv6 UDP/TCP/ICMPv6.
        let (a6, b6) = (
            v6(i as u16 + 1, [0xfe, 0x80]),
            v6(0x100 + i as u16, [0x20, 0x01]),
        );
        out.push(pkt(eth(
            MAC_B,
            MAC_A,
            0x86dd,
            &ipv6(a6, b6, 17, &udp(sp, dp, b"v6")),
        )));
        out.push(pkt(eth(
            MAC_A,
            MAC_B,
            0x86dd,
            &ipv6(b6, a6, 6, &tcp(dp, sp, flags, b"")),
        )));
        // IPv4 fragments: first (MF, offset 0) and later (offset > 0; the
        // payload bytes look like ports 53/53).
        let first = ipv4(s, d, 17, 0, 0x2000, &udp(sp, 53, b"frag"));
        out.push(pkt(eth(MAC_B, MAC_A, 0x800, &first)));
        let later = ipv4(s, d, 17, opts, 1 + i as u16, &[0, 53, 0, 53, 0, 0, 0, 0]);
        out.push(pkt(eth(MAC_B, MAC_A, 0x800, &later)));
    }
    // ICMP, IGMP.
    for (ty, code) in [(8u8, 0u8), (0, 0), (3, 1), (11, 0), (13, 0)] {
        out.push(pkt(eth(
            MAC_B,
            MAC_A,
            0x800,
            &ipv4(IPS[0], IPS[3], 1, 0, 0, &icmp(ty, code)),
        )));
    }
    out.push(pkt(eth(
        MCAST,
        MAC_A,
        0x800,
        &ipv4(
            IPS[1],
            [224, 0, 0, 1],
            2,
            1,
            0,
            &[0x11, 0, 0, 0, 0, 0, 0, 0],
        ),
    )));
    // ICMPv6 echo, and UDP/ICMPv6 behind a fragment header, UDP behind a
    // hop-by-hop header (tcpdump's `udp` does not look past it).
    let (a6, b6) = (v6(1, [0xfe, 0x80]), v6(2, [0xff, 0x02]));
    out.push(pkt(eth(
        MAC_B,
        MAC_A,
        0x86dd,
        &ipv6(a6, b6, 58, &icmp(128, 0)),
    )));
    out.push(pkt(eth(
        MAC_B,
        MAC_A,
        0x86dd,
        &ipv6(b6, a6, 58, &icmp(129, 0)),
    )));
    let mut frag = vec![17, 0, 0, 0, 0, 0, 0, 1];
    frag.extend_from_slice(&udp(53, 5353, b"x"));
    out.push(pkt(eth(MAC_B, MAC_A, 0x86dd, &ipv6(a6, b6, 44, &frag))));
    let mut frag6 = vec![58, 0, 0, 0, 0, 0, 0, 2];
    frag6.extend_from_slice(&icmp(128, 0));
    out.push(pkt(eth(MAC_B, MAC_A, 0x86dd, &ipv6(a6, b6, 44, &frag6))));
    let mut hbh = vec![17, 0, 1, 4, 0, 0, 0, 0];
    hbh.extend_from_slice(&udp(53, 53, b"h"));
    out.push(pkt(eth(MAC_B, MAC_A, 0x86dd, &ipv6(a6, b6, 0, &hbh))));
    // ARP request/reply, RARP.
    out.push(pkt(eth(
        BCAST,
        MAC_A,
        0x806,
        &arp(1, MAC_A, IPS[0], [0; 6], IPS[3]),
    )));
    out.push(pkt(eth(
        MAC_A,
        MAC_B,
        0x806,
        &arp(2, MAC_B, IPS[3], MAC_A, IPS[0]),
    )));
    out.push(pkt(eth(
        BCAST,
        MAC_A,
        0x8035,
        &arp(3, MAC_A, [0; 4], MAC_A, [0; 4]),
    )));
    out.push(pkt(eth(
        BCAST,
        MAC_B,
        0x8035,
        &arp(4, MAC_B, IPS[4], MAC_A, IPS[2]),
    )));
    // VLAN-tagged IPv4 UDP, LLDP, an unknown ethertype.
    let mut vlan = vec![0x00, 0x64, 0x08, 0x00];
    vlan.extend_from_slice(&ipv4(IPS[0], IPS[1], 17, 0, 0, &udp(53, 53, b"vlan")));
    out.push(pkt(eth(MAC_B, MAC_A, 0x8100, &vlan)));
    out.push(pkt(eth(MCAST, MAC_A, 0x88cc, &rng.bytes(40))));
    out.push(pkt(eth(MAC_B, MAC_A, 0x1234, &rng.bytes(46))));
    out
}

/// The well-formed frames cut short at lengths around every header field
/// the filters read.
pub fn truncated() -> Vec<Packet> {
    let cuts = [
        0usize, 5, 10, 12, 13, 14, 15, 20, 22, 23, 24, 26, 29, 30, 33, 34, 35, 36, 37, 38, 40, 41,
        42, 48, 54, 55, 56, 57, 58, 62, 66,
    ];
    let mut out = Vec::new();
    for (i, p) in mixed().into_iter().enumerate() {
        // Three cuts per frame, varied deterministically.
        for k in 0..3 {
            let cut = cuts[(i * 7 + k * 11) % cuts.len()];
            if cut < p.data.len() {
                out.push(pkt(p.data[..cut].to_vec()));
            }
        }
    }
    out
}

/// Random frames with plausible ethertypes and protocol bytes, and a few
/// snapped records (captured bytes shorter than the wire length).
pub fn random() -> Vec<Packet> {
    let mut rng = Rng::new(0x5eed_0003);
    let mut out = Vec::new();
    for i in 0..300 {
        let len = rng.below(120) as usize;
        let mut f = rng.bytes(len);
        if f.len() >= 14 {
            let ty: u16 = [0x800, 0x86dd, 0x806, 0x8035, 0x800, 0x800][rng.below(6) as usize];
            f[12..14].copy_from_slice(&ty.to_be_bytes());
        }
        if f.len() > 23 && rng.below(2) == 0 {
            f[23] = [6u8, 17, 1, 132][rng.below(4) as usize];
            f[20] &= 0xe0; // fragment offset 0 more often
            f[21] = 0;
        }
        if f.len() > 20 && rng.below(3) == 0 {
            f[20] = [6u8, 17, 58, 44, 132][rng.below(5) as usize];
        }
        if f.len() > 14 && rng.below(2) == 0 {
            f[14] = 0x45;
        }
        let wirelen = if i % 10 == 0 {
            f.len() as u32 + rng.below(200) as u32
        } else {
            f.len() as u32
        };
        out.push(Packet { data: f, wirelen });
    }
    out
}
