//! `ProgramRing`: a receive ring behind a filter program. The filter
//! (`udp dst port PORT_PROGRAM and len > PROGRAM_MIN_LEN`) needs `len`,
//! which atoms cannot express, so the object carries bytecode the kernel
//! verifies, compiles and runs for frames no atom filter takes. The host
//! sends a `pattern` request: the short datagrams must never arrive, the
//! long ones must, in order and intact. Each is echoed through the
//! transmit filter (its mirror image is what the program takes); a short
//! reply from the same port is refused, since the program would not take
//! its mirror image.

use exo_abi::Error;
use exo_abi::netprobe::{PORT_PROGRAM, PROGRAM_MIN_LEN, pattern_byte, pattern_len};
use exo_user::libos_core::{api as core_api, export as core_export};
use exo_user::println;
use libos_net::api;
use libos_net::frame;

use crate::check::{Check, ok, refused, that};
use crate::objects;
use crate::pages;

/// Ethernet + IPv4 + UDP headers before a datagram's payload.
const HEADERS: usize = 42;

/// Sequence number of the `i`-th datagram of a `pattern` request that is
/// longer than [`PROGRAM_MIN_LEN`] (the request numbers all of them).
fn nth_long(i: u64) -> u64 {
    (0..)
        .filter(|&seq| HEADERS + pattern_len(seq) > PROGRAM_MIN_LEN)
        .nth(i as usize)
        .unwrap_or(u64::MAX)
}

/// `ProgramRing`: expects `count` long datagrams.
pub fn run(count: u64) -> Result<(), Check> {
    let (id, mut ring) = pages::bind_ring(1, "program-ring", objects::PROGRAM_RING, &[], 0)?;
    println!(
        "netprobe: filter program on UDP port {PORT_PROGRAM} (len > {PROGRAM_MIN_LEN}) bound as binding {}",
        id.0
    );
    let entry = libos_net::export::binding(id.0);
    that(
        12,
        "the export shows a filter-program binding without atoms",
        entry.is_some_and(|e| {
            e.flags & exo_abi::net::export::ENTRY_FILTER_PROGRAM != 0 && e.filters == 0
        }),
    )?;
    let mut buf = [0u8; 2048];
    let mut got = 0u64;
    let give_up = core_export::now_ns() + 120_000_000_000;
    while got < count {
        while let Some(f) = ring.next(&mut buf) {
            that(2, "a frame longer than the limit", f.len > PROGRAM_MIN_LEN)?;
            let udp = frame::parse_udp(&buf[..f.len]).ok_or_else(|| {
                println!("netprobe: check 3: a frame that is not UDP reached the ring");
                3u64
            })?;
            that(4, "only the program's port", udp.dst_port == PORT_PROGRAM)?;
            let seq = nth_long(got);
            let p = udp.payload;
            if p.len() != pattern_len(seq)
                || (0..p.len()).any(|j| p[j] != pattern_byte(seq, j as u64))
            {
                println!(
                    "netprobe: check 5: datagram {got} ({} bytes) is not the host's datagram {seq} ({} bytes)",
                    p.len(),
                    pattern_len(seq)
                );
                return Err(5);
            }
            let n = ok(
                6,
                "building the echo",
                frame::echo_in_place(&mut buf[..f.len]).ok_or(Error::InvalidArgument),
            )?;
            ok(
                7,
                "echoing under the filter program",
                api::transmit(&buf[..n]),
            )?;
            if got == 0 {
                // The same reply cut short: the program would not take its
                // mirror image, and no atom filter of this probe does.
                let short = short_reply(&mut buf[..n]);
                refused(
                    8,
                    "a reply the program does not cover",
                    api::transmit(short),
                    Error::SourceNotBound,
                )?;
            }
            got += 1;
        }
        if core_export::now_ns() > give_up {
            println!("netprobe: check 9: {got} of {count} datagrams");
            return Err(9);
        }
        let _ = core_api::block(Some(core_export::now_ns() + 10_000_000));
    }
    that(10, "no ring overflow", ring.overflows() == 0)?;
    ok(11, "unbinding", api::unbind(id))?;
    println!("netprobe: {got} long datagrams through the filter program, none short");
    Ok(())
}

/// Rewrites the UDP reply in `f` to carry 8 payload bytes (IPv4 total
/// length, UDP length and checksums fixed) and returns the shorter frame.
fn short_reply(f: &mut [u8]) -> &[u8] {
    const PAYLOAD: usize = 8;
    let ip_len = (20 + 8 + PAYLOAD) as u16;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[24..26].copy_from_slice(&[0, 0]);
    let c = !frame::csum(&f[14..34], 0);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f[38..40].copy_from_slice(&((8 + PAYLOAD) as u16).to_be_bytes());
    f[40..42].copy_from_slice(&[0, 0]);
    &f[..HEADERS + PAYLOAD]
}
