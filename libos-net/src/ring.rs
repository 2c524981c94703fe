//! Reading a receive ring (layout: `exo_abi::net::ring`).
//!
//! The kernel produces, the library OS consumes: [`RingReader`] keeps the
//! consumer index, reads the producer index the kernel publishes, copies
//! each frame out and then publishes the new consumer index, which frees
//! the slot. The logic works over any [`RingMemory`], so it is tested on
//! the host against a simulated producer; [`MappedRing`] is the ring's
//! pages in a running program.

use exo_abi::net::ring::{self, RingHeader, SLOT_DATA, SlotHeader, field};

/// Bytes of a ring: header page and slots.
pub trait RingMemory {
    /// Copies `out.len()` bytes at `offset`.
    fn read(&self, offset: usize, out: &mut [u8]);
    /// Writes `data` at `offset` (only the consumer index is ever written).
    fn write(&mut self, offset: usize, data: &[u8]);
}

/// Why a ring cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// The header does not carry the ring magic (not bound yet?).
    BadMagic,
    /// The kernel's slot size or count does not fit the memory.
    BadGeometry,
}

/// A received frame's metadata (the bytes went into the caller's buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Bytes copied (the frame length, capped at the buffer's).
    pub len: usize,
    /// `ring::SLOT_*` flags.
    pub flags: u32,
    /// Kernel clock at arrival.
    pub arrival_ns: u64,
}

fn read_u64<M: RingMemory>(m: &M, off: usize) -> u64 {
    let mut b = [0u8; 8];
    m.read(off, &mut b);
    u64::from_le_bytes(b)
}

/// The consumer side of a ring.
pub struct RingReader<M: RingMemory> {
    mem: M,
    slots: u32,
    consumer: u64,
}

impl<M: RingMemory> RingReader<M> {
    /// Checks the header the kernel wrote at bind time (`bytes`: the
    /// ring's size) and starts at its consumer index.
    pub fn new(mem: M, bytes: usize) -> Result<RingReader<M>, RingError> {
        if read_u64(&mem, field::MAGIC) != ring::MAGIC {
            return Err(RingError::BadMagic);
        }
        let mut h = [0u8; 8];
        mem.read(field::SLOTS, &mut h);
        let slots = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        if slots == 0 || size as usize != ring::SLOT_SIZE || ring::slot_offset(slots) > bytes {
            return Err(RingError::BadGeometry);
        }
        let consumer = read_u64(&mem, field::CONSUMER);
        Ok(RingReader {
            mem,
            slots,
            consumer,
        })
    }

    /// Frames the kernel published and this reader has not taken.
    pub fn pending(&self) -> u64 {
        read_u64(&self.mem, field::PRODUCER).saturating_sub(self.consumer)
    }

    /// Frames the kernel dropped because the ring was full.
    pub fn overflows(&self) -> u64 {
        read_u64(&self.mem, field::OVERFLOWS)
    }

    /// Slots in the ring.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// Copies the next frame into `out` and frees its slot.
    pub fn next(&mut self, out: &mut [u8]) -> Option<Received> {
        if self.pending() == 0 {
            return None;
        }
        let off = ring::slot_offset((self.consumer % u64::from(self.slots)) as u32);
        let mut hb = [0u8; core::mem::size_of::<SlotHeader>()];
        self.mem.read(off, &mut hb);
        let len = u32::from_le_bytes([hb[0], hb[1], hb[2], hb[3]]) as usize;
        let flags = u32::from_le_bytes([hb[4], hb[5], hb[6], hb[7]]);
        let arrival_ns = u64::from_le_bytes(hb[8..16].try_into().unwrap_or([0; 8]));
        let n = len.min(SLOT_DATA).min(out.len());
        self.mem.read(off + hb.len(), &mut out[..n]);
        self.consumer += 1;
        self.mem
            .write(field::CONSUMER, &self.consumer.to_le_bytes());
        Some(Received {
            len: n,
            flags,
            arrival_ns,
        })
    }

    /// The memory (tests).
    pub fn memory(&self) -> &M {
        &self.mem
    }
}

/// A ring's pages mapped at a fixed address of the running program.
pub struct MappedRing {
    base: u64,
    len: usize,
}

impl MappedRing {
    /// # Safety
    /// `[base, base + len)` must be mapped readable and writable for as
    /// long as the value lives, hold the ring the kernel fills, and no Rust
    /// reference may point into it (the kernel writes it between any two
    /// instructions of this program).
    pub unsafe fn new(base: u64, len: usize) -> MappedRing {
        MappedRing { base, len }
    }
}

impl RingMemory for MappedRing {
    fn read(&self, offset: usize, out: &mut [u8]) {
        assert!(offset + out.len() <= self.len, "read past the ring");
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: inside the mapped ring (checked above; `new`'s
            // contract); volatile because the kernel writes it.
            *b =
                unsafe { core::ptr::read_volatile((self.base as usize + offset + i) as *const u8) };
        }
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        assert!(offset + data.len() <= self.len, "write past the ring");
        for (i, b) in data.iter().enumerate() {
            // SAFETY: as in `read`; the ring is mapped writable.
            unsafe { core::ptr::write_volatile((self.base as usize + offset + i) as *mut u8, *b) };
        }
    }
}

/// The header as the kernel wrote it (diagnostics).
pub fn header<M: RingMemory>(m: &M) -> RingHeader {
    let mut b = [0u8; core::mem::size_of::<RingHeader>()];
    m.read(0, &mut b);
    let w = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
    let d = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or([0; 4]));
    RingHeader {
        magic: w(0),
        slots: d(8),
        slot_size: d(12),
        producer: w(16),
        consumer: w(24),
        overflows: w(32),
        binding: d(40),
        _pad: 0,
        reserved: [0; 2],
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    impl RingMemory for Vec<u8> {
        fn read(&self, offset: usize, out: &mut [u8]) {
            out.copy_from_slice(&self[offset..offset + out.len()]);
        }
        fn write(&mut self, offset: usize, data: &[u8]) {
            self[offset..offset + data.len()].copy_from_slice(data);
        }
    }

    /// The kernel's side, written from the ABI's layout.
    struct Producer {
        slots: u32,
        producer: u64,
    }

    impl Producer {
        fn bind(mem: &mut Vec<u8>, pages: u64) -> Producer {
            let slots = ring::slots_for(pages).expect("pages make a ring");
            mem.write(field::MAGIC, &ring::MAGIC.to_le_bytes());
            mem.write(field::SLOTS, &slots.to_le_bytes());
            mem.write(field::SLOTS + 4, &(ring::SLOT_SIZE as u32).to_le_bytes());
            Producer { slots, producer: 0 }
        }

        fn push(&mut self, mem: &mut Vec<u8>, frame: &[u8], arrival: u64) -> bool {
            let consumer = read_u64(mem, field::CONSUMER);
            if ring::is_full(self.producer, consumer, self.slots) {
                return false;
            }
            let off = ring::slot_offset((self.producer % u64::from(self.slots)) as u32);
            mem.write(off, &(frame.len() as u32).to_le_bytes());
            mem.write(off + 4, &0u32.to_le_bytes());
            mem.write(off + 8, &arrival.to_le_bytes());
            mem.write(off + 16, frame);
            self.producer += 1;
            mem.write(field::PRODUCER, &self.producer.to_le_bytes());
            true
        }
    }

    #[test]
    fn frames_come_out_in_order_and_free_their_slots() {
        let mut mem = vec![0u8; 3 * 4096];
        let mut p = Producer::bind(&mut mem, 3);
        assert_eq!(p.slots, 4);
        for i in 0..4u8 {
            assert!(p.push(&mut mem, &[i; 60], u64::from(i)));
        }
        assert!(!p.push(&mut mem, &[9; 60], 9), "a full ring took a frame");
        let mut r = RingReader::new(mem, 3 * 4096).expect("valid ring");
        assert_eq!(r.pending(), 4);
        let mut buf = [0u8; 2048];
        let got = r.next(&mut buf).expect("a frame");
        assert_eq!((got.len, got.arrival_ns, buf[0]), (60, 0, 0));
        let mut mem = r.memory().clone();
        assert!(
            p.push(&mut mem, &[7; 1514], 7),
            "the freed slot was not reusable"
        );
        let mut r = RingReader::new(mem, 3 * 4096).expect("valid ring");
        let mut seen = Vec::new();
        while let Some(f) = r.next(&mut buf) {
            seen.push((f.len, buf[0], f.arrival_ns));
        }
        assert_eq!(seen, vec![(60, 1, 1), (60, 2, 2), (60, 3, 3), (1514, 7, 7)]);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn short_buffers_get_a_prefix_and_bad_headers_are_refused() {
        let mut mem = vec![0u8; 2 * 4096];
        assert_eq!(
            RingReader::new(mem.clone(), 2 * 4096).err(),
            Some(RingError::BadMagic)
        );
        let mut p = Producer::bind(&mut mem, 2);
        assert!(p.push(&mut mem, &[5; 100], 1));
        assert_eq!(
            RingReader::new(mem.clone(), 4096).err(),
            Some(RingError::BadGeometry),
            "slots past the memory"
        );
        let mut r = RingReader::new(mem, 2 * 4096).expect("valid ring");
        let mut small = [0u8; 10];
        assert_eq!(r.next(&mut small).map(|f| f.len), Some(10));
        assert_eq!(header(r.memory()).consumer, 1);
    }
}
