//! The transmit queue: buffer `i` (2 KiB) behind descriptor `i`; free
//! descriptors on a stack, reclaimed from the used ring before each send.

use alloc::vec::Vec;
use core::fmt;

use super::{BUF_LEN, HDR_LEN, MAX_TX_FRAME};
use crate::drivers::dma::{DmaPage, PAGE};
use crate::drivers::virtio::VirtioError;
use crate::drivers::virtio::queue::{SplitQueue, UsedError};
use crate::drivers::virtio::transport::Transport;

const PER_PAGE: usize = PAGE / BUF_LEN;

/// Why a frame was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxError {
    /// Empty, or longer than [`MAX_TX_FRAME`].
    BadLength(usize),
    /// Every transmit buffer is in flight.
    QueueFull,
    /// The device returned an impossible used element.
    Device(UsedError),
    /// The device returned a descriptor that was not in flight.
    NotInFlight(u16),
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength(n) => write!(
                f,
                "a {n}-byte frame cannot be sent (1..={MAX_TX_FRAME} bytes)"
            ),
            Self::QueueFull => write!(f, "every transmit buffer is in flight; retry later"),
            Self::Device(e) => write!(f, "the device corrupted the transmit used ring: {e:?}"),
            Self::NotInFlight(id) => write!(
                f,
                "the device completed transmit descriptor {id}, which was not in flight"
            ),
        }
    }
}

/// The TX virtqueue and its buffers.
pub struct TxQueue {
    pub(super) queue: SplitQueue,
    pages: Vec<DmaPage>,
    free: Vec<u16>,
    in_flight: Vec<bool>,
}

impl TxQueue {
    pub(super) fn new(index: u16, size: u16) -> Result<TxQueue, VirtioError> {
        let mut queue = SplitQueue::new(index, size)?;
        queue.suppress_interrupts();
        let n = usize::from(size);
        let mut pages = Vec::with_capacity(n.div_ceil(PER_PAGE));
        for _ in 0..n.div_ceil(PER_PAGE) {
            pages.push(DmaPage::new().map_err(VirtioError::Dma)?);
        }
        Ok(TxQueue {
            queue,
            pages,
            free: (0..size).rev().collect(),
            in_flight: alloc::vec![false; n],
        })
    }

    fn buffer(&self, id: u16) -> (&DmaPage, usize) {
        let i = usize::from(id);
        (&self.pages[i / PER_PAGE], (i % PER_PAGE) * BUF_LEN)
    }

    /// Frames handed to the device and not yet completed.
    pub(super) fn in_flight(&self) -> usize {
        usize::from(self.queue.size()) - self.free.len()
    }

    /// Takes completed descriptors back.
    pub(super) fn reclaim(&mut self) -> Result<(), TxError> {
        while let Some(u) = self.queue.pop_used().map_err(TxError::Device)? {
            let slot = &mut self.in_flight[usize::from(u.id)];
            if !*slot {
                return Err(TxError::NotInFlight(u.id));
            }
            *slot = false;
            self.free.push(u.id);
        }
        Ok(())
    }

    pub(super) fn send(&mut self, t: &Transport, frame: &[u8]) -> Result<(), TxError> {
        if frame.is_empty() || frame.len() > MAX_TX_FRAME {
            return Err(TxError::BadLength(frame.len()));
        }
        if self.free.is_empty() {
            self.reclaim()?;
        }
        let id = self.free.pop().ok_or(TxError::QueueFull)?;
        let (page, off) = self.buffer(id);
        page.write_from(off, &[0u8; HDR_LEN]);
        page.write_from(off + HDR_LEN, frame);
        let phys = page.phys() + off as u64;
        self.queue
            .set_desc(id, phys, (HDR_LEN + frame.len()) as u32, false);
        self.in_flight[usize::from(id)] = true;
        self.queue.push(id);
        self.queue.publish();
        if self.queue.needs_notify() {
            t.notify(self.queue.notify_offset, self.queue.index());
        }
        Ok(())
    }
}
