//! Sanity checks every received frame passes before it is classified, and
//! the drop reasons for those that do not.
//!
//! Rules (also in `docs/NET.md`; the malformed-burst scenario's host driver
//! implements them independently to predict the counters):
//!
//! 1. longer than [`MAX_FRAME`] (1514: Ethernet without FCS or VLAN tag):
//!    **oversized**;
//! 2. shorter than the 14-byte Ethernet header: **truncated**;
//! 3. EtherType IPv4 (0x0800):
//!    fewer than 20 bytes after the Ethernet header: **truncated**;
//!    version not 4 or IHL below 5: **malformed**;
//!    fewer bytes than IHL × 4: **truncated**;
//!    total length below IHL × 4: **malformed**;
//!    total length beyond the frame: **truncated**;
//! 4. EtherType ARP (0x0806) with fewer than 28 bytes after the Ethernet
//!    header: **truncated**;
//! 5. anything else passes (filters decide what they take; every filter
//!    load is bounds checked).

/// Longest frame accepted (Ethernet header + 1500, no FCS, no VLAN tag).
pub const MAX_FRAME: usize = 1514;
/// Ethernet header bytes.
pub const ETH_HEADER: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// Bytes of an Ethernet/IPv4 ARP packet.
pub const ARP_LEN: usize = 28;

/// Why a received frame was dropped before classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadFrame {
    /// Shorter than its headers say (or than an Ethernet header).
    Truncated,
    /// Header fields that cannot be right (IPv4 version, IHL, length), or a
    /// buffer the device returned with an impossible length or id.
    Malformed,
    /// Longer than [`MAX_FRAME`].
    Oversized,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Applies the rules of the module documentation.
pub fn check(frame: &[u8]) -> Result<(), BadFrame> {
    if frame.len() > MAX_FRAME {
        return Err(BadFrame::Oversized);
    }
    if frame.len() < ETH_HEADER {
        return Err(BadFrame::Truncated);
    }
    let payload = &frame[ETH_HEADER..];
    match be16(frame, 12) {
        ETHERTYPE_IPV4 => check_ipv4(payload),
        ETHERTYPE_ARP if payload.len() < ARP_LEN => Err(BadFrame::Truncated),
        _ => Ok(()),
    }
}

fn check_ipv4(ip: &[u8]) -> Result<(), BadFrame> {
    if ip.len() < 20 {
        return Err(BadFrame::Truncated);
    }
    let (version, ihl) = (ip[0] >> 4, usize::from(ip[0] & 0xF));
    if version != 4 || ihl < 5 {
        return Err(BadFrame::Malformed);
    }
    if ip.len() < ihl * 4 {
        return Err(BadFrame::Truncated);
    }
    let total = usize::from(be16(ip, 2));
    if total < ihl * 4 {
        return Err(BadFrame::Malformed);
    }
    if total > ip.len() {
        return Err(BadFrame::Truncated);
    }
    Ok(())
}

crate::kernel_test! {
    fn frame_checks_follow_the_documented_rules() {
        let mut f = alloc::vec![0u8; 60];
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&46u16.to_be_bytes());
        ensure_eq!(check(&f), Ok(()));
        ensure_eq!(check(&f[..13]), Err(BadFrame::Truncated));
        ensure_eq!(check(&f[..30]), Err(BadFrame::Truncated));
        f[14] = 0x65;
        ensure_eq!(check(&f), Err(BadFrame::Malformed));
        f[14] = 0x44;
        ensure_eq!(check(&f), Err(BadFrame::Malformed));
        f[14] = 0x4F;
        ensure_eq!(check(&f[..40]), Err(BadFrame::Truncated));
        f[14] = 0x45;
        f[16..18].copy_from_slice(&19u16.to_be_bytes());
        ensure_eq!(check(&f), Err(BadFrame::Malformed));
        f[16..18].copy_from_slice(&47u16.to_be_bytes());
        ensure_eq!(check(&f), Err(BadFrame::Truncated));
        f[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
        ensure_eq!(check(&f[..41]), Err(BadFrame::Truncated));
        ensure_eq!(check(&f[..42]), Ok(()));
        ensure_eq!(check(&alloc::vec![0u8; MAX_FRAME]), Ok(()));
        ensure_eq!(check(&alloc::vec![0u8; MAX_FRAME + 1]), Err(BadFrame::Oversized));
        Ok(())
    }
}
