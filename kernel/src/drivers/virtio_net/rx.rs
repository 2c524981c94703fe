//! The receive queue: buffer `i` (2 KiB) behind descriptor `i`, all posted
//! at start; each used buffer is checked, handed to the caller, and posted
//! again.

use alloc::vec::Vec;

use super::{BUF_LEN, HDR_LEN};
use crate::drivers::dma::{DmaPage, PAGE};
use crate::drivers::virtio::VirtioError;
use crate::drivers::virtio::queue::{SplitQueue, UsedError};
use crate::drivers::virtio::transport::Transport;

const PER_PAGE: usize = PAGE / BUF_LEN;

/// A used receive buffer the driver could not accept, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxBad {
    /// The device reported fewer bytes than the virtio-net header.
    ShorterThanHeader(u32),
    /// The device reported more bytes than the buffer holds.
    LongerThanBuffer(u32),
    /// The header asks for offloads that were not negotiated.
    HeaderFlags { flags: u8, gso: u8 },
    /// The used element names a buffer that was not posted.
    NotPosted(u16),
    /// The used ring itself is inconsistent (index jump, id out of range).
    Ring(UsedError),
}

/// One used receive buffer.
pub enum RxEvent<'a> {
    /// A frame (without the virtio-net header), valid during the callback.
    Frame(&'a [u8]),
    /// A buffer the device returned with an impossible length or id.
    Bad(RxBad),
}

/// The RX virtqueue and its buffers.
pub struct RxQueue {
    pub(super) queue: SplitQueue,
    pages: Vec<DmaPage>,
    posted: Vec<bool>,
    /// The used ring was found inconsistent: the queue is not used again.
    broken: bool,
}

impl RxQueue {
    pub(super) fn new(index: u16, size: u16) -> Result<RxQueue, VirtioError> {
        let queue = SplitQueue::new(index, size)?;
        let n = usize::from(size);
        let mut pages = Vec::with_capacity(n.div_ceil(PER_PAGE));
        for _ in 0..n.div_ceil(PER_PAGE) {
            pages.push(DmaPage::new().map_err(VirtioError::Dma)?);
        }
        let mut rx = RxQueue {
            queue,
            pages,
            posted: alloc::vec![false; n],
            broken: false,
        };
        for id in 0..size {
            let phys = rx.buffer(id).0.phys() + rx.buffer(id).1 as u64;
            rx.queue.set_desc(id, phys, BUF_LEN as u32, true);
        }
        Ok(rx)
    }

    /// The page and offset of buffer `id`.
    fn buffer(&self, id: u16) -> (&DmaPage, usize) {
        let i = usize::from(id);
        (&self.pages[i / PER_PAGE], (i % PER_PAGE) * BUF_LEN)
    }

    fn post(&mut self, id: u16) {
        self.posted[usize::from(id)] = true;
        self.queue.push(id);
    }

    /// Offers every buffer (after DRIVER_OK).
    pub(super) fn post_all(&mut self, t: &Transport) {
        for id in 0..self.queue.size() {
            self.post(id);
        }
        self.queue.publish();
        t.notify(self.queue.notify_offset, self.queue.index());
    }

    /// Checks one used element; on success the frame's offset and length
    /// in the buffer.
    fn check(&self, id: u16, len: u32) -> Result<(usize, usize), RxBad> {
        if !self.posted[usize::from(id)] {
            return Err(RxBad::NotPosted(id));
        }
        let len = len as usize;
        if len < HDR_LEN {
            return Err(RxBad::ShorterThanHeader(len as u32));
        }
        if len > BUF_LEN {
            return Err(RxBad::LongerThanBuffer(len as u32));
        }
        let (page, off) = self.buffer(id);
        // flags (byte 0) and gso_type (byte 1) must be 0 without offloads.
        let word = page.read16(off);
        let (flags, gso) = (word as u8, (word >> 8) as u8);
        if flags != 0 || gso != 0 {
            return Err(RxBad::HeaderFlags { flags, gso });
        }
        Ok((off + HDR_LEN, len - HDR_LEN))
    }

    /// Hands each buffer the device had returned when the call began to
    /// `f` and posts it again; returns the number of used elements taken
    /// (buffers returned meanwhile are left for the next call, so a caller
    /// can tell when each batch was found).
    pub(super) fn poll(&mut self, t: &Transport, mut f: impl FnMut(super::RxEvent<'_>)) -> usize {
        if self.broken {
            return 0;
        }
        let batch = match self.queue.pending() {
            Ok(n) => n,
            Err(e) => {
                // The device moved its index by more than the ring holds:
                // nothing it says about this queue can be trusted any more.
                self.broken = true;
                f(RxEvent::Bad(RxBad::Ring(e)));
                return 1;
            }
        };
        let mut taken = 0;
        let mut reposted = false;
        for _ in 0..batch {
            let used = match self.queue.pop_used() {
                Ok(Some(u)) => u,
                Ok(None) => break,
                Err(e) => {
                    f(RxEvent::Bad(RxBad::Ring(e)));
                    taken += 1;
                    continue;
                }
            };
            taken += 1;
            match self.check(used.id, used.len) {
                Ok((off, len)) => {
                    let (page, _) = self.buffer(used.id);
                    f(RxEvent::Frame(page.settled_bytes(off, len)));
                }
                Err(RxBad::NotPosted(id)) => {
                    // Not ours to post again: it is already with the device.
                    f(RxEvent::Bad(RxBad::NotPosted(id)));
                    continue;
                }
                Err(bad) => f(RxEvent::Bad(bad)),
            }
            self.posted[usize::from(used.id)] = false;
            self.post(used.id);
            reposted = true;
        }
        if reposted {
            self.queue.publish();
            if self.queue.needs_notify() {
                t.notify(self.queue.notify_offset, self.queue.index());
            }
        }
        taken
    }
}

crate::kernel_test! {
    fn device_reported_lengths_and_ids_are_checked() {
        let mut rx = RxQueue::new(0, 8)?;
        ensure_eq!(rx.check(1, 100), Err(RxBad::NotPosted(1)));
        rx.posted[1] = true;
        ensure_eq!(rx.check(1, 0), Err(RxBad::ShorterThanHeader(0)));
        ensure_eq!(rx.check(1, HDR_LEN as u32 - 1), Err(RxBad::ShorterThanHeader(11)));
        ensure_eq!(rx.check(1, BUF_LEN as u32 + 1), Err(RxBad::LongerThanBuffer(2049)));
        ensure_eq!(rx.check(1, u32::MAX), Err(RxBad::LongerThanBuffer(u32::MAX)));
        ensure_eq!(rx.check(1, HDR_LEN as u32), Ok((BUF_LEN + HDR_LEN, 0)));
        ensure_eq!(rx.check(1, BUF_LEN as u32), Ok((BUF_LEN + HDR_LEN, BUF_LEN - HDR_LEN)));
        let (page, off) = rx.buffer(1);
        page.write16(off, 0x0001);
        ensure_eq!(rx.check(1, 64), Err(RxBad::HeaderFlags { flags: 1, gso: 0 }));
        Ok(())
    }
}
