//! The transmit filter: which frames an environment may send.
//!
//! A frame may leave only if its source MAC is the NIC's and its **mirror
//! image** — the frame with source and destination swapped (Ethernet
//! addresses; IPv4 addresses and TCP/UDP ports; ARP sender and target) —
//! would be taken by one of the sender's own filters. Put differently: an
//! environment may send exactly what would be a reply to traffic it is
//! bound to receive. Mirroring is an involution that keeps every other
//! byte, so if two owners' receive filters are disjoint (which the bind
//! checks enforce unless an owner granted an overlap), the frames they may
//! send are disjoint too: no libOS can send from another's address and
//! port.
//!
//! Filter programs are not checked for overlap, but they only see frames
//! no atom filter takes; their half of the rule matches: a frame whose
//! mirror image no atom filter takes may leave if one of the sender's
//! filter programs takes that image. Unclaimed traffic is first come,
//! first served among programs; claimed traffic stays its owner's.

use alloc::vec::Vec;

use exo_abi::Error;
use filter_lang::filter::Filter;

use super::frame::{ETH_HEADER, ETHERTYPE_ARP, ETHERTYPE_IPV4};

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

fn swap(f: &mut [u8], a: usize, b: usize, n: usize) {
    for i in 0..n {
        f.swap(a + i, b + i);
    }
}

/// `frame` with its sources and destinations swapped (see the module
/// documentation); fields a short frame lacks stay as they are.
pub fn mirror(frame: &[u8]) -> Vec<u8> {
    let mut f = frame.to_vec();
    if f.len() < ETH_HEADER {
        return f;
    }
    swap(&mut f, 0, 6, 6);
    let ethertype = u16::from_be_bytes([f[12], f[13]]);
    let ip = ETH_HEADER;
    if ethertype == ETHERTYPE_IPV4 && f.len() >= ip + 20 && f[ip] >> 4 == 4 {
        let ihl = usize::from(f[ip] & 0x0F) * 4;
        swap(&mut f, ip + 12, ip + 16, 4);
        let first_fragment = u16::from_be_bytes([f[ip + 6], f[ip + 7]]) & 0x1FFF == 0;
        let l4 = ip + ihl;
        if ihl >= 20
            && first_fragment
            && matches!(f[ip + 9], PROTO_TCP | PROTO_UDP)
            && f.len() >= l4 + 4
        {
            swap(&mut f, l4, l4 + 2, 2);
        }
    } else if ethertype == ETHERTYPE_ARP && f.len() >= ETH_HEADER + 28 {
        // sender hardware + protocol address (10 bytes) <-> target's
        swap(&mut f, ETH_HEADER + 8, ETH_HEADER + 18, 10);
    }
    f
}

/// Checks `frame` on a NIC with `mac`: `Ok` when it may leave, that is
/// when its length is sane, its source MAC is the NIC's and `takes` says
/// the sender would receive its mirror image (see [`by_filters`] and, for
/// filter programs, `Demux::program_permits`).
pub fn check(frame: &[u8], mac: [u8; 6], takes: impl FnOnce(&[u8]) -> bool) -> Result<(), Error> {
    if frame.len() < exo_abi::net::MIN_TX_FRAME as usize {
        return Err(Error::InvalidArgument);
    }
    if frame.len() > exo_abi::net::MAX_TX_FRAME as usize {
        return Err(Error::TooLong);
    }
    if frame[6..12] != mac {
        return Err(Error::SourceNotBound);
    }
    if takes(&mirror(frame)) {
        Ok(())
    } else {
        Err(Error::SourceNotBound)
    }
}

/// The atom-filter half of the rule: one of `filters` takes the mirror
/// image.
pub fn by_filters<'a>(filters: impl IntoIterator<Item = &'a Filter>) -> impl FnOnce(&[u8]) -> bool {
    move |m| filters.into_iter().any(|f| f.matches(m))
}

crate::kernel_test! {
    fn the_transmit_filter_admits_replies_and_refuses_spoofs() {
        use filter_lang::filter::{Atom, FieldWidth};
        let mac = [2, 0, 0, 0, 0, 1];
        let cmp = |off, width, mask, value| Atom::Cmp { off, width, mask, value };
        // "IPv4 UDP to port 7001", as the DSL compiles it.
        let mine = Filter::new(alloc::vec![
            cmp(12, FieldWidth::B2, 0xFFFF, 0x0800),
            cmp(23, FieldWidth::B1, 0xFF, 17),
            Atom::Shift { off: 14, width: FieldWidth::B1, mask: 0x0F, shift: 2 },
            cmp(16, FieldWidth::B2, 0xFFFF, 7001),
        ])?;
        let mut reply = alloc::vec![0u8; 42 + 4];
        reply[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        reply[6..12].copy_from_slice(&mac);
        reply[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        reply[14] = 0x45;
        reply[23] = 17;
        reply[34..36].copy_from_slice(&7001u16.to_be_bytes());
        reply[36..38].copy_from_slice(&5555u16.to_be_bytes());
        ensure_eq!(check(&reply, mac, by_filters([&mine])), Ok(()));
        // Another source port: someone else's endpoint.
        let mut spoof = reply.clone();
        spoof[34..36].copy_from_slice(&7002u16.to_be_bytes());
        ensure_eq!(check(&spoof, mac, by_filters([&mine])), Err(Error::SourceNotBound));
        // Another source MAC.
        let mut forged = reply.clone();
        forged[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        ensure_eq!(check(&forged, mac, by_filters([&mine])), Err(Error::SourceNotBound));
        ensure_eq!(check(&reply[..13], mac, by_filters([&mine])), Err(Error::InvalidArgument));
        ensure_eq!(check(&[0u8; 1515], mac, by_filters([&mine])), Err(Error::TooLong));
        ensure_eq!(check(&reply, mac, by_filters([])), Err(Error::SourceNotBound));
        // Mirroring twice gives the frame back.
        ensure_eq!(mirror(&mirror(&reply)), reply);
        Ok(())
    }
}
