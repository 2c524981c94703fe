//! Test frames for the handler and demultiplexing benchmarks.

/// Builds an Ethernet + IPv4 frame (`ip_options` extra 32-bit words of IP
/// options) carrying `l4` as protocol `proto`.
pub fn ipv4_frame(src: [u8; 4], dst: [u8; 4], proto: u8, ip_options: usize, l4: &[u8]) -> Vec<u8> {
    let ihl = 5 + ip_options;
    let total = ihl * 4 + l4.len();
    let mut f = Vec::with_capacity(14 + total);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // destination MAC
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // source MAC
    f.extend_from_slice(&[0x08, 0x00]);
    f.push(0x40 | ihl as u8);
    f.push(0);
    f.extend_from_slice(&(total as u16).to_be_bytes());
    f.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, proto, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend(std::iter::repeat_n(1u8, ip_options * 4)); // NOP options
    f.extend_from_slice(l4);
    f
}

/// A UDP datagram (header + payload).
pub fn udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&src_port.to_be_bytes());
    u.extend_from_slice(&dst_port.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// A TCP segment header (20 bytes, no options) with `flags`, plus payload.
pub fn tcp(src_port: u16, dst_port: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&src_port.to_be_bytes());
    t.extend_from_slice(&dst_port.to_be_bytes());
    t.extend_from_slice(&1u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.push(5 << 4);
    t.push(flags);
    t.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

/// An ONC RPC call header (xid, CALL, rpcvers 2, prog, vers, proc) with
/// AUTH_NONE credentials and verifier.
pub fn rpc_call(xid: u32, prog: u32, vers: u32, proc_: u32) -> Vec<u8> {
    [xid, 0, 2, prog, vers, proc_, 0, 0, 0, 0]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect()
}

/// Deterministic filler bytes.
pub fn filler(n: usize, seed: u32) -> Vec<u8> {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as u8
        })
        .collect()
}
