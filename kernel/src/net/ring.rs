//! Receive rings in environment pages (layout: `exo_abi::net::ring`).
//!
//! The ring's frames are the environment's own, pinned by the binding.
//! The kernel writes them through the direct map, never through the
//! environment's mappings (which it may change at any time), and only
//! while the environment does not run (one CPU). The producer index lives
//! in kernel memory and is only ever written to the ring, never read
//! back; the consumer index is read from the ring and trusted for nothing
//! but "is there room" (`ring::is_full` treats garbage as full).

use alloc::vec::Vec;

use exo_abi::net::ring::{self, RingHeader, SlotHeader};

use super::hooks::FrameSink;
use crate::mm::frame::Frame;
use crate::mm::phys;

/// The ring had no free slot (or the frame was too long for one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// A ring being filled.
pub struct Ring {
    /// Page 0 holds the header, pages 1.. the slots.
    frames: Vec<Frame>,
    slots: u32,
    producer: u64,
    overflows: u64,
    /// Flags for every slot written (e.g. `SLOT_UNCLAIMED` for the
    /// default binding's frames).
    flags: u32,
}

impl Ring {
    /// Sets up the ring over `frames` (at least 2) for `binding`: writes
    /// its header, resets its indices.
    pub fn new(frames: Vec<Frame>, binding: u32) -> Option<Ring> {
        let slots = ring::slots_for(frames.len() as u64)?;
        phys::with_frame(frames[0], |h: &mut RingHeader| {
            *h = RingHeader {
                magic: ring::MAGIC,
                slots,
                slot_size: ring::SLOT_SIZE as u32,
                binding,
                ..RingHeader::default()
            }
        });
        Some(Ring {
            frames,
            slots,
            producer: 0,
            overflows: 0,
            flags: 0,
        })
    }

    /// Slots in the ring.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// The frames (to unpin when the binding goes).
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// Marks every frame this ring gets with `flags`.
    pub fn set_flags(&mut self, flags: u32) {
        self.flags = flags;
    }

    /// Copies `frame` into the next slot; `Err(Full)` when the ring is
    /// full (counted in the header's `overflows`) or the frame does not
    /// fit.
    pub fn push(&mut self, frame: &[u8], arrival_ns: u64, flags: u32) -> Result<(), Full> {
        let consumer = phys::with_frame(self.frames[0], |h: &mut RingHeader| {
            core::hint::black_box(h.consumer)
        });
        if frame.len() > ring::SLOT_DATA || ring::is_full(self.producer, consumer, self.slots) {
            self.overflows += 1;
            let n = self.overflows;
            phys::with_frame(self.frames[0], |h: &mut RingHeader| h.overflows = n);
            return Err(Full);
        }
        let index = (self.producer % u64::from(self.slots)) as u32;
        let offset = ring::slot_offset(index);
        let (page, within) = (offset / 4096, offset % 4096);
        let header = SlotHeader {
            len: frame.len() as u32,
            flags: flags | self.flags,
            arrival_ns,
        };
        let hb = slot_header_bytes(&header);
        phys::write_frame(self.frames[page], within, &hb);
        phys::write_frame(self.frames[page], within + hb.len(), frame);
        self.producer += 1;
        let p = self.producer;
        phys::with_frame(self.frames[0], |h: &mut RingHeader| h.producer = p);
        Ok(())
    }
}

fn slot_header_bytes(h: &SlotHeader) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&h.len.to_le_bytes());
    b[4..8].copy_from_slice(&h.flags.to_le_bytes());
    b[8..16].copy_from_slice(&h.arrival_ns.to_le_bytes());
    b
}

const _: () = assert!(core::mem::size_of::<SlotHeader>() == 16);

impl FrameSink for Ring {
    fn deliver(&mut self, frame: &[u8], arrival_ns: u64) -> Result<(), ()> {
        self.push(frame, arrival_ns, 0).map_err(drop)
    }
}

crate::kernel_test! {
    fn rings_fill_slots_count_overflows_and_ignore_a_garbage_consumer() {
        use crate::mm::frame::{self, FrameUse};
        let frames: Vec<Frame> = (0..2).map(|_| frame::alloc(FrameUse::Kernel)).collect::<Result<_, _>>()?;
        for f in &frames {
            phys::zero_frame(*f);
        }
        let mut r = Ring::new(frames.clone(), 7).ok_or("two pages make a ring")?;
        ensure_eq!(r.slots(), 2);
        ensure!(r.push(b"first frame", 11, 0).is_ok(), "first push");
        ensure!(r.push(&[0x5A; 1514], 12, 0).is_ok(), "second push");
        ensure!(r.push(b"third", 13, 0).is_err(), "a full ring took a frame");
        let h = phys::with_frame(frames[0], |h: &mut RingHeader| *h);
        ensure_eq!((h.magic, h.slots, h.producer, h.overflows, h.binding), (ring::MAGIC, 2, 2, 1, 7));
        let mut slot = [0u8; 32];
        phys::read_frame(frames[1], 0, &mut slot);
        ensure_eq!(u32::from_le_bytes(slot[0..4].try_into()?), 11);
        ensure_eq!(u64::from_le_bytes(slot[8..16].try_into()?), 11);
        ensure_eq!(&slot[16..27], b"first frame");
        // The consumer frees one slot; a consumer beyond the producer is
        // garbage and makes the ring look full.
        phys::with_frame(frames[0], |h: &mut RingHeader| h.consumer = 1);
        ensure!(r.push(b"third", 13, 0).is_ok(), "the freed slot was not reused");
        phys::with_frame(frames[0], |h: &mut RingHeader| h.consumer = 99);
        ensure!(r.push(b"fourth", 14, 0).is_err(), "a garbage consumer index let a frame in");
        for f in frames {
            frame::free(f)?;
        }
        Ok(())
    }
}
