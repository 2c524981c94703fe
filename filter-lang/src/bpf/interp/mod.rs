//! The reference interpreter: RFC 9669 semantics, the definition the JIT is
//! tested against.
//!
//! Memory is a set of regions at virtual addresses ([`memory::layout`]); every
//! load, store, atomic and helper access is bounds-checked and can be
//! observed ([`Observer`]). The interpreter counts executed instructions and
//! can stop at a budget. It is `no_std` and safe on any input (verified or
//! not), so the kernel can use it for debugging; it is not the fast path.
//!
//! Local calls give each frame its own 512-byte stack (r10 per frame) and
//! preserve r6-r9 across the call; helpers are called through
//! [`crate::bpf::helpers::Helpers`].

pub mod exec;
pub mod memory;

pub use exec::{Interpreter, Outcome, RunError, RunErrorKind, RunOptions};
pub use memory::{Access, Backing, MemRegion, Memory, Observer, RegionKind, layout};

use crate::bpf::ash::{AshEnv, AshHelpers, PacketBinding, RegionBinding};
use crate::bpf::spec::packet_ctx;
use alloc::vec;
use alloc::vec::Vec;

/// Memory for a `memory:SIZE` program over `buf`, and its r1, r2. An empty
/// buffer gives r1 = 0 (the verifier treats r1 as the scalar 0 then).
pub fn buffer_memory(buf: &mut [u8]) -> (Memory<'_>, [u64; 2]) {
    let len = buf.len() as u64;
    let mut mem = Memory::new();
    if buf.is_empty() {
        return (mem, [0, 0]);
    }
    mem.add(MemRegion {
        base: layout::BUFFER_BASE,
        kind: RegionKind::Buffer,
        writable: true,
        backing: Backing::Exclusive(buf),
    });
    (mem, [layout::BUFFER_BASE, len])
}

/// Memory and bindings for one run of a `packet` program.
pub struct PacketSetup<'a> {
    pub mem: Memory<'a>,
    /// Where each application region is (index = region id).
    pub regions: Vec<RegionBinding>,
    pub packet: PacketBinding,
    /// The address of the context (r1).
    pub ctx: u64,
}

/// Memory with a `packet` program's context at [`layout::CONTEXT_BASE`]
/// (r1) and the packet, read-only, at [`layout::PACKET_BASE`]; the
/// context's length field says `len` (at least the bytes present).
pub(crate) fn context_and_packet(packet: &[u8], len: u32, ifindex: u32) -> Memory<'_> {
    let mut ctx = vec![0u8; packet_ctx::SIZE];
    let data = layout::PACKET_BASE;
    let end = data + packet.len() as u64;
    ctx[0..8].copy_from_slice(&data.to_le_bytes());
    ctx[8..16].copy_from_slice(&end.to_le_bytes());
    ctx[16..20].copy_from_slice(&len.to_le_bytes());
    ctx[20..24].copy_from_slice(&ifindex.to_le_bytes());
    let mut mem = Memory::new();
    mem.add(MemRegion {
        base: layout::CONTEXT_BASE,
        kind: RegionKind::Context,
        writable: false,
        backing: Backing::Owned(ctx),
    });
    mem.add(MemRegion {
        base: data,
        kind: RegionKind::Packet,
        writable: false,
        backing: Backing::Shared(packet),
    });
    mem
}

/// Lays out the context, the packet (read-only) and the application regions
/// (`(bytes, writable)`, index = region id).
///
/// # Panics
/// If the packet is longer than [`packet_ctx::MAX_PACKET_LEN`] (the kernel
/// never hands a handler such a frame).
pub fn packet_memory<'a>(
    packet: &'a [u8],
    ifindex: u32,
    regions: Vec<(&'a mut [u8], bool)>,
) -> PacketSetup<'a> {
    assert!(packet.len() as u64 <= packet_ctx::MAX_PACKET_LEN);
    let mut mem = context_and_packet(packet, packet.len() as u32, ifindex);
    let data = layout::PACKET_BASE;
    let mut bindings = Vec::with_capacity(regions.len());
    for (id, (bytes, writable)) in regions.into_iter().enumerate() {
        let base = layout::region_base(id as u32);
        bindings.push(RegionBinding {
            base,
            size: bytes.len() as u32,
            writable,
        });
        mem.add(MemRegion {
            base,
            kind: RegionKind::App(id as u32),
            writable,
            backing: Backing::Exclusive(bytes),
        });
    }
    PacketSetup {
        mem,
        regions: bindings,
        packet: PacketBinding {
            addr: data,
            len: packet.len() as u32,
        },
        ctx: layout::CONTEXT_BASE,
    }
}

/// Runs a `packet` program once with the ASH helpers.
pub fn run_packet(
    interp: &Interpreter,
    setup: &mut PacketSetup<'_>,
    counters: &mut [u64],
    env: &mut dyn AshEnv,
    opts: RunOptions<'_>,
) -> Result<Outcome, RunError> {
    let mut helpers = AshHelpers {
        regions: &setup.regions,
        packet: setup.packet,
        counters,
        env,
    };
    interp.run(&mut setup.mem, &mut helpers, [setup.ctx, 0], opts)
}
