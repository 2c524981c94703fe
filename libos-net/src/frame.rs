//! Ethernet/IPv4/UDP frames: what a user-space echo or a small UDP client
//! needs (checksums, building a reply). Pure functions, host-tested.

/// Ethernet header bytes.
pub const ETH: usize = 14;
/// Offset of the IPv4 header.
pub const IP: usize = ETH;

/// The RFC 1071 ones-complement sum of `b` plus `seed`, folded, not
/// inverted.
pub fn csum(b: &[u8], seed: u32) -> u16 {
    let mut s = u64::from(seed);
    for c in b.chunks(2) {
        s += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

/// A UDP datagram's parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp<'a> {
    pub src_ip: [u8; 4],
    pub dst_ip: [u8; 4],
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

/// Parses an Ethernet/IPv4/UDP frame (no options checks beyond lengths).
pub fn parse_udp(f: &[u8]) -> Option<Udp<'_>> {
    if f.len() < ETH + 20 || f[12..14] != [0x08, 0x00] || f[IP] >> 4 != 4 || f[IP + 9] != 17 {
        return None;
    }
    let ihl = usize::from(f[IP] & 0x0F) * 4;
    let l4 = IP + ihl;
    if ihl < 20 || f.len() < l4 + 8 {
        return None;
    }
    let ulen = usize::from(u16::from_be_bytes([f[l4 + 4], f[l4 + 5]]));
    if ulen < 8 || l4 + ulen > f.len() {
        return None;
    }
    Some(Udp {
        src_ip: f[IP + 12..IP + 16].try_into().ok()?,
        dst_ip: f[IP + 16..IP + 20].try_into().ok()?,
        src_port: u16::from_be_bytes([f[l4], f[l4 + 1]]),
        dst_port: u16::from_be_bytes([f[l4 + 2], f[l4 + 3]]),
        payload: &f[l4 + 8..l4 + ulen],
    })
}

/// Turns an Ethernet/IPv4/UDP request in `f` (as `parse_udp` accepts it)
/// into its echo in place: addresses and ports swapped, TTL 64, fresh
/// IPv4 and UDP checksums. Returns the reply's length (trailing padding
/// dropped), or `None` for a frame that is not such a datagram.
pub fn echo_in_place(f: &mut [u8]) -> Option<usize> {
    let udp = parse_udp(f)?;
    let ulen = udp.payload.len() + 8;
    let ihl = usize::from(f[IP] & 0x0F) * 4;
    let l4 = IP + ihl;
    for i in 0..6 {
        f.swap(i, 6 + i);
    }
    for i in 0..4 {
        f.swap(IP + 12 + i, IP + 16 + i);
    }
    for i in 0..2 {
        f.swap(l4 + i, l4 + 2 + i);
    }
    f[IP + 8] = 64;
    f[IP + 10..IP + 12].fill(0);
    let c = !csum(&f[IP..l4], 0);
    f[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
    f[l4 + 6..l4 + 8].fill(0);
    let pseudo = csum(&f[IP + 12..IP + 20], 17 + ulen as u32);
    let mut c = !csum(&f[l4..l4 + ulen], u32::from(pseudo));
    if c == 0 {
        c = 0xFFFF;
    }
    f[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
    Some(l4 + ulen)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;

    fn request(payload: &[u8]) -> std::vec::Vec<u8> {
        let mut f = vec![0u8; 42 + payload.len()];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&((28 + payload.len()) as u16).to_be_bytes());
        f[22] = 64;
        f[23] = 17;
        f[26..30].copy_from_slice(&[10, 0, 2, 2]);
        f[30..34].copy_from_slice(&[10, 0, 2, 15]);
        f[34..36].copy_from_slice(&5555u16.to_be_bytes());
        f[36..38].copy_from_slice(&7001u16.to_be_bytes());
        f[38..40].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        f[42..].copy_from_slice(payload);
        f
    }

    #[test]
    fn echoes_swap_endpoints_and_carry_valid_checksums() {
        let mut f = request(b"hello, echo");
        let n = echo_in_place(&mut f).expect("a UDP request");
        assert_eq!(n, f.len());
        let r = parse_udp(&f[..n]).expect("the reply parses");
        assert_eq!((r.src_ip, r.dst_ip), ([10, 0, 2, 15], [10, 0, 2, 2]));
        assert_eq!((r.src_port, r.dst_port), (7001, 5555));
        assert_eq!(r.payload, b"hello, echo");
        assert_eq!(csum(&f[14..34], 0), 0xFFFF, "IPv4 checksum");
        let pseudo = csum(&f[26..34], 17 + 8 + 11);
        assert_eq!(csum(&f[34..n], u32::from(pseudo)), 0xFFFF, "UDP checksum");
    }

    #[test]
    fn non_udp_frames_and_lying_lengths_are_refused() {
        let mut f = request(b"x");
        f[23] = 6;
        assert_eq!(echo_in_place(&mut f), None);
        let mut f = request(b"x");
        f[38..40].copy_from_slice(&500u16.to_be_bytes());
        assert_eq!(parse_udp(&f), None);
        assert_eq!(parse_udp(&f[..20]), None);
    }
}
