//! The protocols a handler can name, their fields, where each header
//! starts, and the built-in constants.
//!
//! Frames are Ethernet II without VLAN tags: the IPv4 or ARP header starts
//! at byte 14; UDP, TCP and ICMP start after the IPv4 header, whose length
//! (`ip.ihl * 4`) is read from the frame (or region) each time; the TCP
//! payload starts after `tcp.doff * 4` bytes. A header length field below 5
//! (a malformed packet) makes the access fail (the handler's fallback).

/// A protocol header (or a payload) in a frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layer {
    Eth,
    Ip,
    Arp,
    Udp,
    Tcp,
    Icmp,
    UdpPayload,
    TcpPayload,
    IcmpPayload,
}

/// A named field: `bytes` (1, 2, 4 or 6) at `off` in network byte order,
/// then `(value >> shift) & ((1 << bits) - 1)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Field {
    pub name: &'static str,
    pub off: u16,
    pub bytes: u8,
    pub shift: u8,
    pub bits: u8,
}

impl Field {
    /// Largest value the field holds.
    pub fn max(&self) -> u64 {
        if self.bits >= 64 {
            u64::MAX
        } else {
            (1u64 << self.bits) - 1
        }
    }

    /// Whether the field is the whole of its bytes.
    pub fn is_whole(&self) -> bool {
        self.shift == 0 && u32::from(self.bits) == 8 * u32::from(self.bytes)
    }
}

const fn f(name: &'static str, off: u16, bytes: u8) -> Field {
    Field {
        name,
        off,
        bytes,
        shift: 0,
        bits: bytes * 8,
    }
}

const fn bits(name: &'static str, off: u16, bytes: u8, shift: u8, bits: u8) -> Field {
    Field {
        name,
        off,
        bytes,
        shift,
        bits,
    }
}

const ETH: &[Field] = &[f("dst", 0, 6), f("src", 6, 6), f("type", 12, 2)];
const IP: &[Field] = &[
    bits("version", 0, 1, 4, 4),
    bits("ihl", 0, 1, 0, 4),
    f("tos", 1, 1),
    f("len", 2, 2),
    f("id", 4, 2),
    bits("flags", 6, 2, 13, 3),
    bits("frag", 6, 2, 0, 13),
    f("ttl", 8, 1),
    f("proto", 9, 1),
    f("checksum", 10, 2),
    f("src", 12, 4),
    f("dst", 16, 4),
];
const ARP: &[Field] = &[
    f("htype", 0, 2),
    f("ptype", 2, 2),
    f("hlen", 4, 1),
    f("plen", 5, 1),
    f("op", 6, 2),
    f("sha", 8, 6),
    f("spa", 14, 4),
    f("tha", 18, 6),
    f("tpa", 24, 4),
];
const UDP: &[Field] = &[
    f("sport", 0, 2),
    f("dport", 2, 2),
    f("len", 4, 2),
    f("checksum", 6, 2),
];
const TCP: &[Field] = &[
    f("sport", 0, 2),
    f("dport", 2, 2),
    f("seq", 4, 4),
    f("ack", 8, 4),
    bits("doff", 12, 1, 4, 4),
    f("flags", 13, 1),
    f("window", 14, 2),
    f("checksum", 16, 2),
    f("urgent", 18, 2),
];
const ICMP: &[Field] = &[
    f("type", 0, 1),
    f("code", 1, 1),
    f("checksum", 2, 2),
    f("id", 4, 2),
    f("seq", 6, 2),
];

/// Where a layer starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Base {
    /// At a fixed offset.
    Const(u16),
    /// `plus` bytes after the IPv4 header (`14 + ihl * 4 + plus`).
    AfterIp(u16),
    /// After the TCP header (`14 + ihl * 4 + doff * 4`).
    TcpData,
}

/// Offset of the IPv4 header and of its first byte (version, ihl).
pub const IP_START: u16 = 14;
/// Offset of `doff` within the TCP header.
pub const TCP_DOFF_OFF: u16 = 12;

impl Base {
    /// Smallest and largest offset this base can have.
    pub fn range(self) -> (u64, u64) {
        match self {
            Base::Const(n) => (n as u64, n as u64),
            Base::AfterIp(p) => (34 + p as u64, 74 + p as u64),
            Base::TcpData => (54, 134),
        }
    }
}

impl Layer {
    /// The protocol named `name` (not payloads).
    pub fn from_name(name: &str) -> Option<Layer> {
        Some(match name {
            "eth" => Layer::Eth,
            "ip" => Layer::Ip,
            "arp" => Layer::Arp,
            "udp" => Layer::Udp,
            "tcp" => Layer::Tcp,
            "icmp" => Layer::Icmp,
            "udp.payload" => Layer::UdpPayload,
            "tcp.payload" => Layer::TcpPayload,
            "icmp.payload" => Layer::IcmpPayload,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Layer::Eth => "eth",
            Layer::Ip => "ip",
            Layer::Arp => "arp",
            Layer::Udp => "udp",
            Layer::Tcp => "tcp",
            Layer::Icmp => "icmp",
            Layer::UdpPayload => "udp.payload",
            Layer::TcpPayload => "tcp.payload",
            Layer::IcmpPayload => "icmp.payload",
        }
    }

    pub fn fields(self) -> &'static [Field] {
        match self {
            Layer::Eth => ETH,
            Layer::Ip => IP,
            Layer::Arp => ARP,
            Layer::Udp => UDP,
            Layer::Tcp => TCP,
            Layer::Icmp => ICMP,
            Layer::UdpPayload | Layer::TcpPayload | Layer::IcmpPayload => &[],
        }
    }

    pub fn field(self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// The payload after this header, if it has one.
    pub fn payload(self) -> Option<Layer> {
        match self {
            Layer::Udp => Some(Layer::UdpPayload),
            Layer::Tcp => Some(Layer::TcpPayload),
            Layer::Icmp => Some(Layer::IcmpPayload),
            _ => None,
        }
    }

    pub fn base(self) -> Base {
        match self {
            Layer::Eth => Base::Const(0),
            Layer::Ip | Layer::Arp => Base::Const(IP_START),
            Layer::Udp | Layer::Tcp | Layer::Icmp => Base::AfterIp(0),
            Layer::UdpPayload | Layer::IcmpPayload => Base::AfterIp(8),
            Layer::TcpPayload => Base::TcpData,
        }
    }
}

/// Built-in constants.
pub const CONSTANTS: &[(&str, u64)] = &[
    ("ETHERTYPE_IPV4", 0x0800),
    ("ETHERTYPE_ARP", 0x0806),
    ("ETHERTYPE_IPV6", 0x86dd),
    ("IPPROTO_ICMP", 1),
    ("IPPROTO_TCP", 6),
    ("IPPROTO_UDP", 17),
    ("IP_MF", 1),
    ("IP_DF", 2),
    ("TCP_FIN", 0x01),
    ("TCP_SYN", 0x02),
    ("TCP_RST", 0x04),
    ("TCP_PSH", 0x08),
    ("TCP_ACK", 0x10),
    ("TCP_URG", 0x20),
    ("TCP_ECE", 0x40),
    ("TCP_CWR", 0x80),
    ("ARP_REQUEST", 1),
    ("ARP_REPLY", 2),
    ("ICMP_ECHO_REPLY", 0),
    ("ICMP_ECHO", 8),
];

/// The built-in constant `name`.
pub fn constant(name: &str) -> Option<u64> {
    CONSTANTS.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
}

/// Names a declaration may not take.
pub fn is_reserved(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "let",
        "if",
        "else",
        "for",
        "in",
        "break",
        "continue",
        "return",
        "handler",
        "filter",
        "region",
        "counter",
        "const",
        "fallback",
        "true",
        "false",
        "consume",
        "deliver",
        "writable",
        "readonly",
        "bytes",
        "u16",
        "u32",
        "u64",
        "pkt",
        "eth",
        "ip",
        "arp",
        "udp",
        "tcp",
        "icmp",
        "now",
        "count",
        "copy",
        "copy_csum",
        "checksum",
        "send",
        "wake",
        "offset",
    ];
    WORDS.contains(&name) || constant(name).is_some()
}
