//! An in-kernel frame sink: a bounded queue of frame copies shared with
//! whoever created it (kernel tests and boot-time services). Environments
//! will get rings in their own pages instead.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;

use super::hooks::FrameSink;

/// A delivered frame.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub bytes: Vec<u8>,
    pub arrival_ns: u64,
}

/// A bounded queue; the dispatch side is the [`FrameSink`], the creator
/// keeps a clone to take frames out.
#[derive(Clone)]
pub struct KernelQueue {
    inner: Arc<Mutex<VecDeque<Delivered>>>,
    capacity: usize,
}

impl KernelQueue {
    pub fn new(capacity: usize) -> KernelQueue {
        KernelQueue {
            inner: Arc::new(Mutex::new(VecDeque::new())),
            capacity,
        }
    }

    /// Takes the oldest frame.
    pub fn pop(&self) -> Option<Delivered> {
        self.inner.lock().pop_front()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FrameSink for KernelQueue {
    fn deliver(&mut self, frame: &[u8], arrival_ns: u64) -> Result<(), ()> {
        let mut q = self.inner.lock();
        if q.len() >= self.capacity {
            return Err(());
        }
        q.push_back(Delivered {
            bytes: frame.to_vec(),
            arrival_ns,
        });
        Ok(())
    }
}
