//! The syntax tree of a pcap-filter expression, after qualifiers are
//! resolved (so `tcp dst port 80 or 443` is already two port primitives).

use super::ranges::RangeSet;
use alloc::boxed::Box;
use alloc::vec::Vec;

/// A protocol layer that can be named in an accessor (`tcp[13]`) or as a
/// bare primitive (`tcp`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Proto {
    Ether,
    Ip,
    Ip6,
    Arp,
    Rarp,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmp6,
    Igmp,
}

impl Proto {
    /// The IP protocol number of a transport protocol.
    pub fn ip_proto(self) -> Option<u8> {
        Some(match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
            Proto::Icmp => 1,
            Proto::Icmp6 => 58,
            Proto::Igmp => 2,
            _ => return None,
        })
    }
}

/// Which address of a packet a primitive looks at.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dir {
    Src,
    Dst,
    /// `src or dst` (the default).
    Either,
    /// `src and dst`.
    Both,
}

/// Relational operators.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RelOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl RelOp {
    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn swapped(self) -> RelOp {
        match self {
            RelOp::Lt => RelOp::Gt,
            RelOp::Le => RelOp::Ge,
            RelOp::Gt => RelOp::Lt,
            RelOp::Ge => RelOp::Le,
            op => op,
        }
    }

    /// Evaluates the operator on unsigned 32-bit values.
    pub fn holds(self, a: u32, b: u32) -> bool {
        match self {
            RelOp::Eq => a == b,
            RelOp::Ne => a != b,
            RelOp::Lt => a < b,
            RelOp::Le => a <= b,
            RelOp::Gt => a > b,
            RelOp::Ge => a >= b,
        }
    }
}

/// Arithmetic operators (32-bit unsigned, as in classic BPF).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ArOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

/// An arithmetic expression.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Arith {
    Num(u32),
    /// The packet's length on the wire (`len`).
    Len,
    /// `proto[index : size]`.
    Load {
        proto: Proto,
        index: Box<Arith>,
        size: u8,
    },
    Bin(ArOp, Box<Arith>, Box<Arith>),
    Neg(Box<Arith>),
}

/// A protocol-level primitive.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Prim {
    /// `ip`, `tcp`, `arp`, ... alone.
    Proto(Proto),
    /// `ether proto N`.
    EtherProto(u16),
    /// `ip proto N` (v4), `ip6 proto N` (v6), `proto N` (both).
    IpProto { v4: bool, v6: bool, proto: u8 },
    /// `ether src/dst/host MAC`.
    EtherAddr { dir: Dir, mac: [u8; 6] },
    /// `ether broadcast`.
    EtherBroadcast,
    /// `ether multicast`.
    EtherMulticast,
    /// `host`/`net` with an IPv4 address and mask, over the selected
    /// protocols (IPv4, ARP, RARP).
    Net4 {
        dir: Dir,
        /// Masked addresses (one for `host`/`net`; several after `or`
        /// chains are merged).
        addrs: RangeSet,
        mask: u32,
        ip: bool,
        arp: bool,
        rarp: bool,
    },
    /// `host`/`net` with an IPv6 address and prefix length.
    Net6 {
        dir: Dir,
        addr: [u8; 16],
        prefix: u8,
    },
    /// `port`/`portrange` over the selected transports.
    Port {
        dir: Dir,
        /// The ports (a range for `portrange`; several after `or` chains
        /// are merged).
        ports: RangeSet,
        tcp: bool,
        udp: bool,
        sctp: bool,
    },
}

/// A boolean expression.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Prim(Prim),
    Rel { op: RelOp, lhs: Arith, rhs: Arith },
}

/// Merges runs of `or`ed primitives that differ only in their value (`port
/// 80 or 443`, `host a or b`) into one primitive with a value set, as
/// libpcap's optimizer does: it tests every source port before any
/// destination port, which matters for frames truncated between the two.
pub fn merge_or_chains(e: Expr) -> Expr {
    match e {
        Expr::Or(..) => {
            let mut items = Vec::new();
            flatten_or(e, &mut items);
            let mut merged: Vec<Expr> = Vec::new();
            for it in items {
                let it = merge_or_chains(it);
                if let (Some(Expr::Prim(last)), Expr::Prim(p)) = (merged.last_mut(), &it)
                    && let Some(m) = merge_prims(last, p)
                {
                    *last = m;
                    continue;
                }
                merged.push(it);
            }
            let mut it = merged.into_iter();
            let first = it.next().expect("an or has operands");
            it.fold(first, |a, b| Expr::Or(Box::new(a), Box::new(b)))
        }
        Expr::And(a, b) => Expr::And(Box::new(merge_or_chains(*a)), Box::new(merge_or_chains(*b))),
        Expr::Not(a) => Expr::Not(Box::new(merge_or_chains(*a))),
        e => e,
    }
}

fn flatten_or(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Or(a, b) => {
            flatten_or(*a, out);
            out.push(*b);
        }
        e => out.push(e),
    }
}

fn merge_prims(a: &Prim, b: &Prim) -> Option<Prim> {
    match (a, b) {
        (
            Prim::Port {
                dir,
                ports,
                tcp,
                udp,
                sctp,
            },
            Prim::Port {
                dir: d2,
                ports: p2,
                tcp: t2,
                udp: u2,
                sctp: s2,
            },
        ) if dir == d2 && *dir != Dir::Both && (tcp, udp, sctp) == (t2, u2, s2) => {
            Some(Prim::Port {
                dir: *dir,
                ports: ports.union(p2),
                tcp: *tcp,
                udp: *udp,
                sctp: *sctp,
            })
        }
        (
            Prim::Net4 {
                dir,
                addrs,
                mask,
                ip,
                arp,
                rarp,
            },
            Prim::Net4 {
                dir: d2,
                addrs: a2,
                mask: m2,
                ip: i2,
                arp: ar2,
                rarp: r2,
            },
        ) if dir == d2 && *dir != Dir::Both && mask == m2 && (ip, arp, rarp) == (i2, ar2, r2) => {
            Some(Prim::Net4 {
                dir: *dir,
                addrs: addrs.union(a2),
                mask: *mask,
                ip: *ip,
                arp: *arp,
                rarp: *rarp,
            })
        }
        _ => None,
    }
}
