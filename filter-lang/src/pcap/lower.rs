//! Lowering of the syntax tree to the [`Cfg`], primitive by primitive as
//! libpcap's code generator does (checked against `tcpdump -d`):
//!
//! * `tcp`/`udp`/`sctp`/`proto N`: IPv4 protocol byte, or the IPv6 next
//!   header, or an IPv6 fragment header (44) followed by it;
//!   `icmp`/`igmp`: IPv4 only; `icmp6`: IPv6 next header or after a
//!   fragment header.
//! * `host`/`net` (IPv4): IPv4 source/destination, ARP and RARP sender/target
//!   protocol addresses; IPv6 addresses: the IPv6 header only.
//! * `port`/`portrange`: IPv6 with the next header TCP/UDP/SCTP and ports at
//!   fixed offsets (no extension headers), or IPv4 with the protocol,
//!   fragment offset 0 and ports after the variable-length header.
//! * `proto[i:n]`: `ether` at 0; `ip`, `arp`, `rarp`, `ip6` at 14 after an
//!   ethertype check; `tcp`, `udp`, `sctp`, `icmp`, `igmp` after the IPv4
//!   header (IPv4 only, protocol checked, fragment offset 0); `icmp6` at 54
//!   (IPv6 next header 58, no extension headers).

use super::ast::{ArOp, Arith, Dir, Expr, Prim, Proto, RelOp};
use super::cfg::{Base, Cfg, Field, Next, Node, Test, Val};
use super::ranges::RangeSet;
use crate::filter::FieldWidth;
use alloc::boxed::Box;
use alloc::vec::Vec;

const ETH_TYPE: u16 = 12;
const ETH_IP: u32 = 0x800;
const ETH_IP6: u32 = 0x86dd;
const ETH_ARP: u32 = 0x806;
const ETH_RARP: u32 = 0x8035;
const IP6_FRAG: u32 = 44;

fn eth_type() -> Field {
    Field::abs(ETH_TYPE, FieldWidth::B2)
}

fn byte(off: u16) -> Field {
    Field::abs(off, FieldWidth::B1)
}

/// Lowers an expression.
pub fn lower(e: &Expr) -> Cfg {
    let mut b = Builder { nodes: Vec::new() };
    let e = super::ast::merge_or_chains(e.clone());
    let entry = b.expr(&e, Next::Accept, Next::Reject);
    Cfg {
        nodes: b.nodes,
        entry,
    }
}

struct Builder {
    nodes: Vec<Node>,
}

impl Builder {
    fn test(&mut self, test: Test, yes: Next, no: Next) -> Next {
        // Kept even when both branches agree: the load itself may reject.
        self.nodes.push(Node { test, yes, no });
        Next::Node(self.nodes.len() - 1)
    }

    fn field(&mut self, field: Field, set: RangeSet, yes: Next, no: Next) -> Next {
        self.test(Test::Field { field, set }, yes, no)
    }

    fn eq(&mut self, field: Field, v: u32, yes: Next, no: Next) -> Next {
        self.field(field, RangeSet::single(v), yes, no)
    }

    /// Builds `a op b` given builders for `a` and `b` under continuations.
    fn expr(&mut self, e: &Expr, t: Next, f: Next) -> Next {
        match e {
            Expr::And(a, b) => {
                let rb = self.expr(b, t, f);
                self.expr(a, rb, f)
            }
            Expr::Or(a, b) => {
                let rb = self.expr(b, t, f);
                self.expr(a, t, rb)
            }
            Expr::Not(a) => self.expr(a, f, t),
            Expr::Prim(p) => self.prim(p, t, f),
            Expr::Rel { op, lhs, rhs } => self.rel(*op, lhs, rhs, t, f),
        }
    }

    /// IPv4 protocol `p` (`[23] == p`), after the ethertype check.
    fn ip4_proto(&mut self, p: u32, t: Next, f: Next) -> Next {
        let proto = self.eq(byte(23), p, t, f);
        self.eq(eth_type(), ETH_IP, proto, f)
    }

    /// IPv6 next header `p`, directly or after a fragment header.
    fn ip6_proto(&mut self, p: u32, t: Next, f: Next) -> Next {
        let after_frag = self.eq(byte(54), p, t, f);
        let frag = self.eq(byte(20), IP6_FRAG, after_frag, f);
        let direct = self.eq(byte(20), p, t, frag);
        self.eq(eth_type(), ETH_IP6, direct, f)
    }

    fn ip_proto(&mut self, v4: bool, v6: bool, p: u32, t: Next, f: Next) -> Next {
        let rest = if v6 { self.ip6_proto(p, t, f) } else { f };
        if v4 { self.ip4_proto(p, t, rest) } else { rest }
    }

    fn prim(&mut self, p: &Prim, t: Next, f: Next) -> Next {
        match *p {
            Prim::Proto(proto) => match proto {
                Proto::Ether => t,
                Proto::Ip => self.eq(eth_type(), ETH_IP, t, f),
                Proto::Ip6 => self.eq(eth_type(), ETH_IP6, t, f),
                Proto::Arp => self.eq(eth_type(), ETH_ARP, t, f),
                Proto::Rarp => self.eq(eth_type(), ETH_RARP, t, f),
                Proto::Tcp | Proto::Udp | Proto::Sctp => {
                    let n = proto.ip_proto().unwrap_or(0) as u32;
                    self.ip_proto(true, true, n, t, f)
                }
                Proto::Icmp | Proto::Igmp => {
                    let n = proto.ip_proto().unwrap_or(0) as u32;
                    self.ip4_proto(n, t, f)
                }
                Proto::Icmp6 => self.ip6_proto(58, t, f),
            },
            Prim::EtherProto(n) => self.eq(eth_type(), n as u32, t, f),
            Prim::IpProto { v4, v6, proto } => self.ip_proto(v4, v6, proto as u32, t, f),
            Prim::EtherAddr { dir, mac } => {
                let hi = u16::from_be_bytes([mac[0], mac[1]]) as u32;
                let lo = u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]);
                let one = |b: &mut Builder, at: u16, t: Next, f: Next| {
                    let h = b.eq(Field::abs(at, FieldWidth::B2), hi, t, f);
                    b.eq(Field::abs(at + 2, FieldWidth::B4), lo, h, f)
                };
                match dir {
                    Dir::Src => one(self, 6, t, f),
                    Dir::Dst => one(self, 0, t, f),
                    Dir::Either => {
                        let d = one(self, 0, t, f);
                        one(self, 6, t, d)
                    }
                    Dir::Both => {
                        let d = one(self, 0, t, f);
                        one(self, 6, d, f)
                    }
                }
            }
            Prim::EtherBroadcast => {
                let h = self.eq(Field::abs(0, FieldWidth::B2), 0xffff, t, f);
                self.eq(Field::abs(2, FieldWidth::B4), 0xffff_ffff, h, f)
            }
            Prim::EtherMulticast => {
                self.field(byte(0).with_mask(1), RangeSet::range(1, u32::MAX), t, f)
            }
            Prim::Net4 {
                dir,
                ref addrs,
                mask,
                ip,
                arp,
                rarp,
            } => {
                let mut rest = f;
                if arp || rarp {
                    let a = self.addr_dir(dir, 28, 38, addrs, mask, t, f);
                    if rarp {
                        rest = self.eq(eth_type(), ETH_RARP, a, rest);
                    }
                    if arp {
                        rest = self.eq(eth_type(), ETH_ARP, a, rest);
                    }
                }
                if ip {
                    let a = self.addr_dir(dir, 26, 30, addrs, mask, t, f);
                    rest = self.eq(eth_type(), ETH_IP, a, rest);
                }
                rest
            }
            Prim::Net6 { dir, addr, prefix } => {
                let a = self.addr6_dir(dir, &addr, prefix, t, f);
                self.eq(eth_type(), ETH_IP6, a, f)
            }
            Prim::Port {
                dir,
                ref ports,
                tcp,
                udp,
                sctp,
            } => {
                let protos: Vec<u32> = [(sctp, 132u32), (tcp, 6), (udp, 17)]
                    .iter()
                    .filter(|x| x.0)
                    .map(|x| x.1)
                    .collect();
                let set = protos
                    .iter()
                    .fold(RangeSet::empty(), |s, &p| s.union(&RangeSet::single(p)));
                let range = ports.clone();
                // IPv4: protocol, fragment offset 0, ports after the header.
                let sp4 = Field {
                    base: Base::Ihl,
                    off: 14,
                    width: FieldWidth::B2,
                    mask: 0xffff,
                };
                let dp4 = Field { off: 16, ..sp4 };
                let ports4 = self.ports(dir, sp4, dp4, &range, t, f);
                let frag = self.field(
                    Field::abs(20, FieldWidth::B2).with_mask(0x1fff),
                    RangeSet::single(0),
                    ports4,
                    f,
                );
                let proto4 = self.field(byte(23), set.clone(), frag, f);
                let v4 = self.eq(eth_type(), ETH_IP, proto4, f);
                // IPv6: next header, ports at 54/56.
                let sp6 = Field::abs(54, FieldWidth::B2);
                let dp6 = Field::abs(56, FieldWidth::B2);
                let ports6 = self.ports(dir, sp6, dp6, &range, t, f);
                let proto6 = self.field(byte(20), set, ports6, f);
                self.eq(eth_type(), ETH_IP6, proto6, v4)
            }
        }
    }

    fn ports(&mut self, dir: Dir, sp: Field, dp: Field, r: &RangeSet, t: Next, f: Next) -> Next {
        match dir {
            Dir::Src => self.field(sp, r.clone(), t, f),
            Dir::Dst => self.field(dp, r.clone(), t, f),
            Dir::Either => {
                let d = self.field(dp, r.clone(), t, f);
                self.field(sp, r.clone(), t, d)
            }
            Dir::Both => {
                let d = self.field(dp, r.clone(), t, f);
                self.field(sp, r.clone(), d, f)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn addr_dir(
        &mut self,
        dir: Dir,
        src: u16,
        dst: u16,
        addrs: &RangeSet,
        mask: u32,
        t: Next,
        f: Next,
    ) -> Next {
        let at = |off| Field::abs(off, FieldWidth::B4).with_mask(mask);
        let set = addrs.clone();
        match dir {
            Dir::Src => self.field(at(src), set, t, f),
            Dir::Dst => self.field(at(dst), set, t, f),
            Dir::Either => {
                let d = self.field(at(dst), set.clone(), t, f);
                self.field(at(src), set, t, d)
            }
            Dir::Both => {
                let d = self.field(at(dst), set.clone(), t, f);
                self.field(at(src), set, d, f)
            }
        }
    }

    /// An IPv6 address (under a prefix) at `off`: 4-byte words, skipping
    /// words the prefix does not reach.
    fn addr6_at(&mut self, off: u16, addr: &[u8; 16], prefix: u8, t: Next, f: Next) -> Next {
        let mut next = t;
        for w in (0..4).rev() {
            let bits = (prefix as i32 - 32 * w as i32).clamp(0, 32) as u32;
            if bits == 0 {
                continue;
            }
            let mask = if bits == 32 {
                u32::MAX
            } else {
                !(u32::MAX >> bits)
            };
            let v = u32::from_be_bytes([
                addr[4 * w],
                addr[4 * w + 1],
                addr[4 * w + 2],
                addr[4 * w + 3],
            ]);
            let field = Field::abs(off + 4 * w as u16, FieldWidth::B4).with_mask(mask);
            next = self.field(field, RangeSet::single(v & mask), next, f);
        }
        next
    }

    fn addr6_dir(&mut self, dir: Dir, addr: &[u8; 16], prefix: u8, t: Next, f: Next) -> Next {
        match dir {
            Dir::Src => self.addr6_at(22, addr, prefix, t, f),
            Dir::Dst => self.addr6_at(38, addr, prefix, t, f),
            Dir::Either => {
                let d = self.addr6_at(38, addr, prefix, t, f);
                self.addr6_at(22, addr, prefix, t, d)
            }
            Dir::Both => {
                let d = self.addr6_at(38, addr, prefix, t, f);
                self.addr6_at(22, addr, prefix, d, f)
            }
        }
    }

    /// The protocol check that guards an accessor of `proto`, and where its
    /// bytes start.
    fn guard(&mut self, proto: Proto, t: Next, f: Next) -> (Next, Base, u32) {
        match proto {
            Proto::Ether => (t, Base::Abs, 0),
            Proto::Ip => (self.eq(eth_type(), ETH_IP, t, f), Base::Abs, 14),
            Proto::Ip6 => (self.eq(eth_type(), ETH_IP6, t, f), Base::Abs, 14),
            Proto::Arp => (self.eq(eth_type(), ETH_ARP, t, f), Base::Abs, 14),
            Proto::Rarp => (self.eq(eth_type(), ETH_RARP, t, f), Base::Abs, 14),
            Proto::Icmp6 => {
                let nh = self.eq(byte(20), 58, t, f);
                (self.eq(eth_type(), ETH_IP6, nh, f), Base::Abs, 54)
            }
            Proto::Tcp | Proto::Udp | Proto::Sctp | Proto::Icmp | Proto::Igmp => {
                let n = proto.ip_proto().unwrap_or(0) as u32;
                let frag = self.field(
                    Field::abs(20, FieldWidth::B2).with_mask(0x1fff),
                    RangeSet::single(0),
                    t,
                    f,
                );
                (self.ip4_proto(n, frag, f), Base::Ihl, 14)
            }
        }
    }

    /// Lowers an arithmetic expression; protocol guards of its loads are
    /// collected in `guards` (outermost first).
    fn val(&mut self, a: &Arith, guards: &mut Vec<Proto>) -> Val {
        match a {
            Arith::Num(n) => Val::Num(*n),
            Arith::Len => Val::Len,
            Arith::Neg(x) => Val::Neg(Box::new(self.val(x, guards))),
            Arith::Bin(op, x, y) => {
                let x = self.val(x, guards);
                let y = self.val(y, guards);
                Val::Bin(*op, Box::new(x), Box::new(y))
            }
            Arith::Load { proto, index, size } => {
                guards.push(*proto);
                let index = self.val(index, guards);
                let (base, off) = match proto {
                    Proto::Ether => (Base::Abs, 0),
                    Proto::Ip | Proto::Ip6 | Proto::Arp | Proto::Rarp => (Base::Abs, 14),
                    Proto::Icmp6 => (Base::Abs, 54),
                    _ => (Base::Ihl, 14),
                };
                let width = FieldWidth::from_bytes(*size as usize).unwrap_or(FieldWidth::B1);
                Val::Load {
                    base,
                    off,
                    index: Box::new(index),
                    width,
                }
            }
        }
    }

    fn rel(&mut self, op: RelOp, lhs: &Arith, rhs: &Arith, t: Next, f: Next) -> Next {
        let mut guards = Vec::new();
        let l = self.val(lhs, &mut guards);
        let r = self.val(rhs, &mut guards);
        let test = match field_test(op, &l, &r) {
            Some((field, set)) => self.field(field, set, t, f),
            None => match (&l, &r) {
                (Val::Num(a), Val::Num(b)) => {
                    if op.holds(*a, *b) {
                        t
                    } else {
                        f
                    }
                }
                _ => self.test(Test::Rel { op, lhs: l, rhs: r }, t, f),
            },
        };
        // Guards run first, in source order.
        let mut entry = test;
        for g in guards.iter().rev() {
            entry = self.guard(*g, entry, f).0;
        }
        entry
    }
}

/// `load [& mask] op constant` (either side) as a field test.
fn field_test(op: RelOp, l: &Val, r: &Val) -> Option<(Field, RangeSet)> {
    let (op, field_side, k) = match (l, r) {
        (_, Val::Num(k)) => (op, l, *k),
        (Val::Num(k), _) => (op.swapped(), r, *k),
        _ => return None,
    };
    let (load, mask) = match field_side {
        Val::Bin(ArOp::And, a, b) => match (&**a, &**b) {
            (ld @ Val::Load { .. }, Val::Num(m)) | (Val::Num(m), ld @ Val::Load { .. }) => (ld, *m),
            _ => return None,
        },
        ld @ Val::Load { .. } => (ld, u32::MAX),
        _ => return None,
    };
    let Val::Load {
        base,
        off,
        index,
        width,
    } = load
    else {
        return None;
    };
    let Val::Num(i) = **index else { return None };
    let off = u16::try_from(*off as u64 + i as u64).ok()?;
    let field = Field {
        base: *base,
        off,
        width: *width,
        mask: 0,
    }
    .with_mask(mask);
    // The test compares the *masked* value; with a mask narrower than the
    // width the masked value still is (field & mask), exactly as computed.
    let set = match op {
        RelOp::Eq => RangeSet::single(k),
        RelOp::Ne => RangeSet::single(k).complement(),
        RelOp::Lt => match k.checked_sub(1) {
            Some(h) => RangeSet::range(0, h),
            None => RangeSet::empty(),
        },
        RelOp::Le => RangeSet::range(0, k),
        RelOp::Gt => match k.checked_add(1) {
            Some(l) => RangeSet::range(l, u32::MAX),
            None => RangeSet::empty(),
        },
        RelOp::Ge => RangeSet::range(k, u32::MAX),
    };
    Some((field, set))
}
