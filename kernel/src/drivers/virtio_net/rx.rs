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

    /// Hands each used buffer to `f` and posts it again; returns the
    /// number of used elements taken.
    pub(super) fn poll(&mut self, t: &Transport, mut f: impl FnMut(super::RxEvent<'_>)) -> usize {
        let mut taken = 0;
        let mut reposted = false;
        loop {
            let used = match self.queue.pop_used() {
                Ok(Some(u)) => u,
                Ok(None) => break,
                Err(e) => {
                    f(RxEvent::Bad(RxBad::Ring(e)));
                    taken += 1;
                    if matches!(e, UsedError::IndexJump { .. }) {
                        break;
                    }
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
