//! The benchmark handlers: BPF assembly files under `bench/handlers/`,
//! assembled once and run as identical bytecode in every engine, each with
//! a frame that takes its full path (every handler returns 1 on it).

use crate::packets::{filler, ipv4_frame, rpc_call, tcp, udp};
use filter_lang::bpf::Insn;
use filter_lang::bpf::asm::assemble;
use std::path::PathBuf;

/// One handler with its input.
pub struct Handler {
    /// File stem under `bench/handlers/`.
    pub name: &'static str,
    pub words: Vec<Insn>,
    /// The frame it runs on.
    pub packet: Vec<u8>,
}

/// The directory holding the handler sources.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("handlers")
}

/// Assembles `bench/handlers/NAME.s`.
pub fn assemble_file(name: &str) -> Result<Vec<Insn>, String> {
    let path = dir().join(format!("{name}.s"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    assemble(&text)
        .map(|p| p.words)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A frame of `len` bytes whose first `n` bytes have a valid Internet
/// checksum (the 16-bit words, summed in host order, fold to 0xffff).
fn checksum_frame(n: usize, len: usize) -> Vec<u8> {
    let mut f = filler(len, n as u32);
    let sum: u64 = f[..n - 2]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]) as u64)
        .sum();
    let mut s = sum;
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    let w = !(s as u16);
    f[n - 2..n].copy_from_slice(&w.to_le_bytes());
    f
}

/// All handlers, in report order.
pub fn all() -> Result<Vec<Handler>, String> {
    let src = [10, 1, 2, 3];
    let dst = [10, 9, 8, 7];
    let specs: Vec<(&'static str, Vec<u8>)> = vec![
        (
            "null",
            ipv4_frame(src, dst, 17, 0, &udp(5555, 7000, &filler(18, 1))),
        ),
        (
            "udp_port",
            ipv4_frame(src, dst, 17, 0, &udp(5555, 7000, &filler(18, 1))),
        ),
        (
            "ipv4_subnet",
            ipv4_frame(src, dst, 17, 0, &udp(5555, 53, &filler(18, 2))),
        ),
        (
            "tcp_parse",
            ipv4_frame(src, dst, 6, 1, &tcp(40000, 80, 0x02, &[])),
        ),
        ("checksum_64", checksum_frame(64, 64)),
        ("checksum_512", checksum_frame(512, 512)),
        ("checksum_1500", checksum_frame(1500, 1514)),
        (
            "rpc_reply",
            ipv4_frame(
                src,
                dst,
                17,
                0,
                &udp(700, 111, &rpc_call(0xfeed, 100_000, 2, 3)),
            ),
        ),
    ];
    specs
        .into_iter()
        .map(|(name, packet)| {
            Ok(Handler {
                name,
                words: assemble_file(name)?,
                packet,
            })
        })
        .collect()
}
