//! ARP for IPv4 over Ethernet (RFC 826): the request the kernel sends to
//! announce itself and find a gateway, a filter for replies addressed to
//! it, and a reply parser. (Answering ARP is a library OS's job:
//! `libos_net::arp`, an ASH the library binds for its address.)

use alloc::vec;
use alloc::vec::Vec;

use filter_lang::filter::{Atom, FieldWidth, Filter, FilterError};

use super::frame::{ARP_LEN, ETH_HEADER, ETHERTYPE_ARP};

const OP_REQUEST: u16 = 1;
const OP_REPLY: u16 = 2;

/// An IPv4 address.
pub type Ipv4 = [u8; 4];

/// Parses `a.b.c.d`.
pub fn parse_ipv4(s: &str) -> Option<Ipv4> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut out {
        *o = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// A broadcast "who has `target`? tell `ip` (at `mac`)" frame, padded to
/// the 60-byte Ethernet minimum.
pub fn request(mac: [u8; 6], ip: Ipv4, target: Ipv4) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].fill(0xFF);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    let a = &mut f[ETH_HEADER..ETH_HEADER + ARP_LEN];
    a[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    a[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    a[4] = 6;
    a[5] = 4;
    a[6..8].copy_from_slice(&OP_REQUEST.to_be_bytes());
    a[8..14].copy_from_slice(&mac);
    a[14..18].copy_from_slice(&ip);
    a[24..28].copy_from_slice(&target);
    f
}

/// Frames that are ARP replies to `ip`.
pub fn reply_filter(ip: Ipv4) -> Result<Filter, FilterError> {
    let cmp = |off: u16, width, mask, value| Atom::Cmp {
        off,
        width,
        mask,
        value,
    };
    Filter::new(vec![
        cmp(12, FieldWidth::B2, 0xFFFF, u32::from(ETHERTYPE_ARP)),
        cmp(20, FieldWidth::B2, 0xFFFF, u32::from(OP_REPLY)),
        cmp(38, FieldWidth::B4, 0xFFFF_FFFF, u32::from_be_bytes(ip)),
    ])
}

/// `(sender MAC, sender IP)` of an ARP reply.
pub fn parse_reply(frame: &[u8]) -> Option<([u8; 6], Ipv4)> {
    let a = frame.get(ETH_HEADER..ETH_HEADER + ARP_LEN)?;
    if frame[12..14] != ETHERTYPE_ARP.to_be_bytes() || a[6..8] != OP_REPLY.to_be_bytes() {
        return None;
    }
    let mac: [u8; 6] = a[8..14].try_into().ok()?;
    let ip: Ipv4 = a[14..18].try_into().ok()?;
    Some((mac, ip))
}
