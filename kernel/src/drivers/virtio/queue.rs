//! Split virtqueues (virtio 1.x §2.6): the descriptor table, the driver
//! ("available") ring and the device ("used") ring, each in its own DMA
//! page (modern devices take three independent addresses).
//!
//! The queue only moves descriptor ids; the driver on top owns the buffers
//! and decides which descriptor points where. Everything the device writes
//! (used ring index, ids, lengths) is validated before use.

use super::VirtioError;
use super::transport::QueueAddrs;
use crate::drivers::dma::{DmaPage, PAGE};

/// Largest queue this driver sets up: one page of 16-byte descriptors.
pub const MAX_SIZE: u16 = (PAGE / 16) as u16;

/// Descriptor flags.
mod desc_flags {
    /// The device writes the buffer (otherwise it reads it).
    pub const WRITE: u16 = 2;
}
/// Driver ring flag: the device need not interrupt for used buffers.
const AVAIL_NO_INTERRUPT: u16 = 1;
/// Device ring flag: the driver need not notify for new buffers.
const USED_NO_NOTIFY: u16 = 1;

/// One element of the used ring, checked against the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Used {
    pub id: u16,
    pub len: u32,
}

/// What the device wrote into the used ring that cannot be right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsedError {
    /// The used index moved by more than the queue size.
    IndexJump { last: u16, now: u16 },
    /// A used element names a descriptor outside the table.
    BadId(u32),
}

/// A split virtqueue of `size` entries.
#[derive(Debug)]
pub struct SplitQueue {
    index: u16,
    size: u16,
    desc: DmaPage,
    avail: DmaPage,
    used: DmaPage,
    /// Our next free slot in the driver ring (free-running).
    avail_idx: u16,
    /// The next used element to consume (free-running).
    last_used: u16,
    /// Doorbell offset in the notify window.
    pub notify_offset: usize,
}

impl SplitQueue {
    /// Allocates an empty queue; `size` must be a power of two up to
    /// [`MAX_SIZE`].
    pub fn new(index: u16, size: u16) -> Result<SplitQueue, VirtioError> {
        if size == 0 || size > MAX_SIZE || !size.is_power_of_two() {
            return Err(VirtioError::BadQueueSize { queue: index, size });
        }
        let page = || DmaPage::new().map_err(VirtioError::Dma);
        Ok(SplitQueue {
            index,
            size,
            desc: page()?,
            avail: page()?,
            used: page()?,
            avail_idx: 0,
            last_used: 0,
            notify_offset: 0,
        })
    }

    pub fn index(&self) -> u16 {
        self.index
    }

    pub fn size(&self) -> u16 {
        self.size
    }

    /// Where the device finds the three parts.
    pub fn addrs(&self) -> QueueAddrs {
        QueueAddrs {
            desc: self.desc.phys(),
            driver: self.avail.phys(),
            device: self.used.phys(),
        }
    }

    /// Points descriptor `id` at `len` bytes at `phys` (device-writable if
    /// `device_writes`); single-descriptor chains only.
    pub fn set_desc(&mut self, id: u16, phys: u64, len: u32, device_writes: bool) {
        assert!(
            id < self.size,
            "descriptor {id} beyond queue size {}",
            self.size
        );
        let at = usize::from(id) * 16;
        self.desc.write64(at, phys);
        self.desc.write32(at + 8, len);
        let flags = if device_writes { desc_flags::WRITE } else { 0 };
        self.desc.write16(at + 12, flags);
        self.desc.write16(at + 14, 0);
    }

    /// Offers descriptor `id` to the device (visible after [`Self::publish`]).
    pub fn push(&mut self, id: u16) {
        let slot = usize::from(self.avail_idx % self.size);
        self.avail.write16(4 + 2 * slot, id);
        self.avail_idx = self.avail_idx.wrapping_add(1);
    }

    /// Makes pushed descriptors visible: the index store comes after the
    /// ring entries (volatile stores are not reordered with each other, and
    /// x86 keeps stores in order).
    pub fn publish(&mut self) {
        core::sync::atomic::fence(core::sync::atomic::Ordering::Release);
        self.avail.write16(2, self.avail_idx);
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the device asks to be notified of new buffers.
    pub fn needs_notify(&self) -> bool {
        self.used.read16(0) & USED_NO_NOTIFY == 0
    }

    /// Asks the device not to interrupt for this queue (TX: buffers are
    /// reclaimed when the next frame is sent).
    pub fn suppress_interrupts(&mut self) {
        self.avail.write16(0, AVAIL_NO_INTERRUPT);
    }

    /// Elements the device has returned and the driver not yet taken.
    pub fn pending(&self) -> Result<u16, UsedError> {
        let now = self.used.read16(2);
        let n = now.wrapping_sub(self.last_used);
        if n > self.size {
            return Err(UsedError::IndexJump {
                last: self.last_used,
                now,
            });
        }
        Ok(n)
    }

    /// Takes the next used element, checked: `Ok(None)` when there is none.
    pub fn pop_used(&mut self) -> Result<Option<Used>, UsedError> {
        if self.pending()? == 0 {
            return Ok(None);
        }
        core::sync::atomic::fence(core::sync::atomic::Ordering::Acquire);
        let slot = usize::from(self.last_used % self.size);
        let id = self.used.read32(4 + 8 * slot);
        let len = self.used.read32(4 + 8 * slot + 4);
        self.last_used = self.last_used.wrapping_add(1);
        if id >= u32::from(self.size) {
            return Err(UsedError::BadId(id));
        }
        Ok(Some(Used { id: id as u16, len }))
    }
}
