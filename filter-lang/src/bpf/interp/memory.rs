//! The interpreter's memory: a few regions (context, packet, stack frames,
//! application regions, a test buffer) at fixed virtual addresses with gaps
//! between them. Every access is bounds-checked against exactly one region and
//! reported to an optional [`Observer`], so tests can see every byte a
//! program (or a helper acting for it) touched.

use crate::bpf::helpers::{HelperMemory, MemFault};
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

/// Virtual addresses of the interpreter's regions. Gaps between them make an
/// access that runs off one region fault instead of landing in another.
pub mod layout {
    /// The context structure (packet type).
    pub const CONTEXT_BASE: u64 = 0x1000_0000;
    /// The packet bytes.
    pub const PACKET_BASE: u64 = 0x2000_0000;
    /// The buffer of `memory` programs.
    pub const BUFFER_BASE: u64 = 0x3000_0000;
    /// Stack frames: frame `n` occupies `[STACK_BASE + n * STACK_STRIDE,
    /// + STACK_SIZE)`; its r10 is the end of that range.
    pub const STACK_BASE: u64 = 0x7000_0000;
    /// Distance between two stack frames.
    pub const STACK_STRIDE: u64 = 0x1000;
    /// Bytes of stack per frame.
    pub const STACK_SIZE: usize = 512;
    /// Application region `id` starts at `REGION_BASE + id * 2^32`.
    pub const REGION_BASE: u64 = 0x100_0000_0000;

    /// Base address of application region `id`.
    pub const fn region_base(id: u32) -> u64 {
        REGION_BASE + ((id as u64) << 32)
    }

    /// Lowest address of stack frame `frame`.
    pub const fn stack_base(frame: usize) -> u64 {
        STACK_BASE + frame as u64 * STACK_STRIDE
    }

    /// The frame pointer (r10) of frame `frame`.
    pub const fn frame_pointer(frame: usize) -> u64 {
        stack_base(frame) + STACK_SIZE as u64
    }
}

/// What a region is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RegionKind {
    Context,
    Packet,
    /// Stack frame `n` (0 = the main program's).
    Stack(usize),
    /// Application region with this id.
    App(u32),
    /// The buffer of a `memory` program.
    Buffer,
}

/// The bytes behind a region.
#[derive(Debug)]
pub enum Backing<'a> {
    Shared(&'a [u8]),
    Exclusive(&'a mut [u8]),
    Owned(Vec<u8>),
}

impl Backing<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Shared(b) => b,
            Backing::Exclusive(b) => b,
            Backing::Owned(b) => b,
        }
    }

    fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        match self {
            Backing::Shared(_) => None,
            Backing::Exclusive(b) => Some(b),
            Backing::Owned(b) => Some(b),
        }
    }
}

/// One region of memory.
#[derive(Debug)]
pub struct MemRegion<'a> {
    pub base: u64,
    pub kind: RegionKind,
    pub writable: bool,
    pub backing: Backing<'a>,
}

impl MemRegion<'_> {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.backing.bytes().len()
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The region's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.backing.bytes()
    }
}

/// One memory access, as reported to an [`Observer`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Access {
    /// The instruction that made it (for helpers: the call instruction).
    pub pc: usize,
    pub addr: u64,
    pub len: usize,
    pub write: bool,
    /// The region it fell in, or `None` when it faulted.
    pub region: Option<RegionKind>,
    /// Made by a helper on the program's behalf.
    pub by_helper: bool,
}

/// Sees every memory access (before it happens; faulting ones too).
pub trait Observer {
    fn on_access(&mut self, access: &Access);
}

/// A set of regions.
#[derive(Debug, Default)]
pub struct Memory<'a> {
    regions: Vec<MemRegion<'a>>,
}

impl<'a> Memory<'a> {
    /// No regions.
    pub fn new() -> Self {
        Memory {
            regions: Vec::new(),
        }
    }

    /// Adds a region. Regions must not overlap (the fixed layout guarantees
    /// it for the constructors in this module).
    pub fn add(&mut self, region: MemRegion<'a>) {
        self.regions.push(region);
    }

    /// Removes and returns the most recently added region.
    pub fn pop(&mut self) -> Option<MemRegion<'a>> {
        self.regions.pop()
    }

    /// The regions.
    pub fn regions(&self) -> &[MemRegion<'a>] {
        &self.regions
    }

    /// The region of kind `kind`, if present.
    pub fn region(&self, kind: RegionKind) -> Option<&MemRegion<'a>> {
        self.regions.iter().find(|r| r.kind == kind)
    }

    /// Adds a zeroed stack frame `frame` and returns its frame pointer.
    pub fn push_stack_frame(&mut self, frame: usize) -> u64 {
        self.add(MemRegion {
            base: layout::stack_base(frame),
            kind: RegionKind::Stack(frame),
            writable: true,
            backing: Backing::Owned(vec![0; layout::STACK_SIZE]),
        });
        layout::frame_pointer(frame)
    }

    /// The region index and offset of `[addr, addr + len)` if it lies wholly
    /// inside one region.
    fn locate(&self, addr: u64, len: usize) -> Option<(usize, usize)> {
        self.regions.iter().enumerate().find_map(|(i, r)| {
            let off = addr.checked_sub(r.base)?;
            let end = off.checked_add(len as u64)?;
            (end <= r.len() as u64).then_some((i, off as usize))
        })
    }

    /// The kind of region `[addr, addr + len)` lies in, if any.
    pub fn kind_at(&self, addr: u64, len: usize) -> Option<RegionKind> {
        self.locate(addr, len).map(|(i, _)| self.regions[i].kind)
    }

    /// Reads `out.len()` bytes at `addr`.
    pub fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), MemFault> {
        let fault = MemFault {
            addr,
            len: out.len(),
            write: false,
        };
        let (i, off) = self.locate(addr, out.len()).ok_or(fault)?;
        out.copy_from_slice(&self.regions[i].bytes()[off..off + out.len()]);
        Ok(())
    }

    /// Writes `data` at `addr`; faults outside regions and on read-only ones.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        let fault = MemFault {
            addr,
            len: data.len(),
            write: true,
        };
        let (i, off) = self.locate(addr, data.len()).ok_or(fault)?;
        let r = &mut self.regions[i];
        if !r.writable {
            return Err(fault);
        }
        let bytes = r.backing.bytes_mut().ok_or(fault)?;
        bytes[off..off + data.len()].copy_from_slice(data);
        Ok(())
    }

    /// Reads a little-endian value of `len` (1, 2, 4 or 8) bytes.
    pub fn load(&self, addr: u64, len: usize) -> Result<u64, MemFault> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b[..len])?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes the low `len` bytes of `v`, little-endian.
    pub fn store(&mut self, addr: u64, len: usize, v: u64) -> Result<(), MemFault> {
        self.write(addr, &v.to_le_bytes()[..len])
    }
}

/// Memory as a helper sees it during one call: every access is checked by
/// [`Memory`] and reported to the observer as made by a helper.
pub struct HelperView<'m, 'a, 'o> {
    mem: &'m mut Memory<'a>,
    // `HelperMemory::read` takes `&self`; the observer needs `&mut`.
    observer: RefCell<Option<&'m mut (dyn Observer + 'o)>>,
    pc: usize,
}

impl<'m, 'a, 'o> HelperView<'m, 'a, 'o> {
    /// A view for the helper call at `pc`.
    pub fn new(
        mem: &'m mut Memory<'a>,
        observer: Option<&'m mut (dyn Observer + 'o)>,
        pc: usize,
    ) -> Self {
        HelperView {
            mem,
            observer: RefCell::new(observer),
            pc,
        }
    }

    fn report(&self, addr: u64, len: usize, write: bool) {
        if let Some(o) = self.observer.borrow_mut().as_deref_mut() {
            o.on_access(&Access {
                pc: self.pc,
                addr,
                len,
                write,
                region: self.mem.kind_at(addr, len),
                by_helper: true,
            });
        }
    }
}

impl HelperMemory for HelperView<'_, '_, '_> {
    fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), MemFault> {
        self.report(addr, out.len(), false);
        self.mem.read(addr, out)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        self.report(addr, data.len(), true);
        self.mem.write(addr, data)
    }
}
