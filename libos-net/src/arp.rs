//! Answering ARP for the library OS's own address, in the kernel.
//!
//! The exokernel answers no protocol itself: a library OS that owns an
//! IPv4 address binds an ARP responder, an ASH (`examples/arp_reply.exo`,
//! compiled at build time) that replies to "who has A?" at once, even
//! while its owner is blocked. The binding's filter is "ARP for IPv4 over
//! Ethernet whose target is A" ([`filter`]), written into the compiled
//! template at run time ([`Responder::new`]); so the binding owns exactly
//! the ARP traffic addressed to A, another environment cannot bind it
//! without a grant, and the kernel's transmit filter (mirror images)
//! lets it send exactly the replies that say "A is at my MAC".
//!
//! The handler's regions: `reply` (region 0, [`REPLY_BYTES`], writable:
//! the reply is built there) and `me` (region 1, [`IDENTITY_BYTES`],
//! read-only to the handler: the owner's MAC and address, [`identity`]).

use crate::object::{self, Cmp, ObjectError, Width};

/// The ARP responder compiled from `examples/arp_reply.exo` (its filter
/// is a placeholder: all of ARP).
pub static TEMPLATE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/arp_reply.xo"));

/// Bytes of region 0 (`reply`).
pub const REPLY_BYTES: usize = 64;
/// Bytes of region 1 (`me`).
pub const IDENTITY_BYTES: usize = 16;
/// Handler counters: requests answered, frames ignored.
pub const COUNTER_REPLIED: usize = 0;
pub const COUNTER_IGNORED: usize = 1;

/// Room for the responder object ([`TEMPLATE`] with its filter).
pub const OBJECT_MAX: usize = 8192;

const ETHERTYPE_ARP: u32 = 0x0806;

/// "ARP for IPv4 over Ethernet (hardware type 1, protocol 0x0800,
/// lengths 6 and 4) whose target protocol address is `ip`."
pub fn filter(ip: [u8; 4]) -> [Cmp; 4] {
    let cmp = |off, width, mask, value| Cmp {
        off,
        width,
        mask,
        value,
    };
    [
        cmp(12, Width::B2, 0xFFFF, ETHERTYPE_ARP),
        cmp(14, Width::B4, u32::MAX, 0x0001_0800),
        cmp(18, Width::B2, 0xFFFF, 0x0604),
        cmp(38, Width::B4, u32::MAX, u32::from_be_bytes(ip)),
    ]
}

/// The `me` region's contents: `mac` at bytes 0..6, `ip` at 6..10.
pub fn identity(mac: [u8; 6], ip: [u8; 4]) -> [u8; IDENTITY_BYTES] {
    let mut b = [0u8; IDENTITY_BYTES];
    b[0..6].copy_from_slice(&mac);
    b[6..10].copy_from_slice(&ip);
    b
}

/// The responder object for one address.
pub struct Responder {
    buf: [u8; OBJECT_MAX],
    len: usize,
}

impl Responder {
    /// The object answering ARP for `ip`.
    pub fn new(ip: [u8; 4]) -> Result<Responder, ObjectError> {
        let mut buf = [0u8; OBJECT_MAX];
        let len = object::with_filter(TEMPLATE, &filter(ip), &mut buf)?.len();
        Ok(Responder { buf, len })
    }

    /// The object's bytes, for `api::bind`.
    pub fn object(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use filter_lang::object::{HandlerCode, decode};

    fn arp(op: u8, tpa: [u8; 4]) -> [u8; 42] {
        let mut f = [0u8; 42];
        f[0..6].fill(0xFF);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, op]);
        f[28..32].copy_from_slice(&[10, 77, 0, 1]);
        f[38..42].copy_from_slice(&tpa);
        f
    }

    #[test]
    fn the_responder_takes_only_arp_for_its_address() {
        let r = Responder::new([10, 77, 0, 2]).unwrap();
        let o = decode(r.object()).expect("a valid object");
        assert_eq!(o.filters.len(), 1);
        let f = &o.filters[0];
        assert!(f.matches(&arp(1, [10, 77, 0, 2])), "a request for it");
        assert!(f.matches(&arp(2, [10, 77, 0, 2])), "a reply to it");
        assert!(!f.matches(&arp(1, [10, 77, 0, 3])), "another address");
        let mut ipv6 = arp(1, [10, 77, 0, 2]);
        ipv6[16..18].copy_from_slice(&[0x86, 0xDD]);
        assert!(!f.matches(&ipv6), "another protocol");
        let mut udp = arp(1, [10, 77, 0, 2]);
        udp[12..14].copy_from_slice(&[0x08, 0x00]);
        assert!(!f.matches(&udp), "not ARP");
        // The handler and its declarations are the template's.
        let t = decode(TEMPLATE).unwrap();
        assert!(matches!(o.handler, Some(HandlerCode::Bpf(_))));
        assert_eq!((o.handler, o.decls), (t.handler, t.decls.clone()));
        let d = t.decls.unwrap();
        assert_eq!(
            d.regions
                .iter()
                .map(|r| (r.size as usize, r.writable))
                .collect::<std::vec::Vec<_>>(),
            [(REPLY_BYTES, true), (IDENTITY_BYTES, false)]
        );
        assert_eq!(d.counters, 2);
    }

    #[test]
    fn the_identity_layout_is_the_handlers() {
        let b = identity([2, 0, 0, 0, 0, 1], [10, 77, 0, 2]);
        assert_eq!(&b[..10], &[2, 0, 0, 0, 0, 1, 10, 77, 0, 2]);
        assert!(b[10..].iter().all(|&x| x == 0));
    }
}
