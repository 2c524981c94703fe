//! The physical-frame allocator front end: a small cache of frames the
//! environment owns but has not mapped, so most allocations and frees do
//! not enter the kernel. Frames come from and go back to a [`FrameSource`]
//! (the kernel, or a fake in tests). Cached frames are the first thing the
//! library OS gives back when the kernel asks for memory.
//!
//! Invariant: frames in the cache are owned, unmapped and zeroed (the VM
//! zeroes a page before unmapping it into the cache).

use arrayvec::ArrayVec;
use exo_abi::Error;

/// Where frames come from.
pub trait FrameSource {
    /// A fresh zeroed frame owned by this environment.
    fn alloc_frame(&mut self) -> Result<u64, Error>;
    /// Returns an owned, unmapped frame to the kernel.
    fn free_frame(&mut self, frame: u64) -> Result<(), Error>;
}

/// A cache of up to `N` owned, unmapped, zeroed frames.
#[derive(Debug, Default)]
pub struct FramePool<const N: usize> {
    cache: ArrayVec<u64, N>,
    /// Frames taken from the source over the pool's life.
    pub from_source: u64,
    /// Frames returned to the source.
    pub to_source: u64,
}

impl<const N: usize> FramePool<N> {
    pub const fn new() -> Self {
        FramePool {
            cache: ArrayVec::new_const(),
            from_source: 0,
            to_source: 0,
        }
    }

    /// A zeroed frame: from the cache, else from the source.
    pub fn alloc(&mut self, src: &mut impl FrameSource) -> Result<u64, Error> {
        if let Some(f) = self.cache.pop() {
            return Ok(f);
        }
        let f = src.alloc_frame()?;
        self.from_source += 1;
        Ok(f)
    }

    /// Takes back a zeroed, unmapped frame (to the cache if there is room).
    pub fn free(&mut self, src: &mut impl FrameSource, frame: u64) -> Result<(), Error> {
        match self.cache.try_push(frame) {
            Ok(()) => Ok(()),
            Err(_) => {
                src.free_frame(frame)?;
                self.to_source += 1;
                Ok(())
            }
        }
    }

    /// Fills the cache up to `n` frames (stops at the first error).
    pub fn prefetch(&mut self, src: &mut impl FrameSource, n: usize) -> Result<(), Error> {
        while self.cache.len() < n.min(N) {
            let f = src.alloc_frame()?;
            self.from_source += 1;
            self.cache.push(f);
        }
        Ok(())
    }

    /// Returns up to `n` cached frames to the source; how many went back.
    pub fn give_back(&mut self, src: &mut impl FrameSource, n: usize) -> usize {
        let mut done = 0;
        while done < n {
            let Some(f) = self.cache.pop() else { break };
            if src.free_frame(f).is_err() {
                self.cache.push(f);
                break;
            }
            self.to_source += 1;
            done += 1;
        }
        done
    }

    /// Frames in the cache.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Drops `frame` from the cache if it is there (the kernel took it).
    pub fn forget(&mut self, frame: u64) -> bool {
        match self.cache.iter().position(|&f| f == frame) {
            Some(i) => {
                self.cache.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    extern crate std;
    use std::collections::BTreeSet;

    /// A fake kernel: numbered frames, a quota, ownership checks.
    #[derive(Default)]
    pub struct FakeKernel {
        pub next: u64,
        pub owned: BTreeSet<u64>,
        pub quota: usize,
        pub calls: usize,
    }

    impl FrameSource for FakeKernel {
        fn alloc_frame(&mut self) -> Result<u64, Error> {
            self.calls += 1;
            if self.owned.len() >= self.quota {
                return Err(Error::QuotaExceeded);
            }
            self.next += 1;
            self.owned.insert(self.next);
            Ok(self.next)
        }

        fn free_frame(&mut self, frame: u64) -> Result<(), Error> {
            self.calls += 1;
            if self.owned.remove(&frame) {
                Ok(())
            } else {
                Err(Error::NotOwner)
            }
        }
    }

    #[test]
    fn cache_absorbs_alloc_free_cycles() {
        let mut k = FakeKernel {
            quota: 100,
            ..FakeKernel::default()
        };
        let mut pool = FramePool::<4>::new();
        let a = pool.alloc(&mut k).unwrap();
        pool.free(&mut k, a).unwrap();
        let calls = k.calls;
        for _ in 0..10 {
            let f = pool.alloc(&mut k).unwrap();
            assert_eq!(f, a, "the cached frame is reused");
            pool.free(&mut k, f).unwrap();
        }
        assert_eq!(k.calls, calls, "no kernel calls while the cache serves");
    }

    #[test]
    fn overflow_goes_back_and_give_back_empties_the_cache() {
        let mut k = FakeKernel {
            quota: 100,
            ..FakeKernel::default()
        };
        let mut pool = FramePool::<2>::new();
        let frames: std::vec::Vec<u64> = (0..5).map(|_| pool.alloc(&mut k).unwrap()).collect();
        for f in frames {
            pool.free(&mut k, f).unwrap();
        }
        assert_eq!(pool.cached(), 2);
        assert_eq!(k.owned.len(), 2, "three frames went back to the kernel");
        assert_eq!(pool.give_back(&mut k, 5), 2);
        assert!(k.owned.is_empty());
        assert_eq!((pool.from_source, pool.to_source), (5, 5));
    }

    #[test]
    fn source_errors_are_reported_and_prefetch_stops() {
        let mut k = FakeKernel {
            quota: 1,
            ..FakeKernel::default()
        };
        let mut pool = FramePool::<8>::new();
        assert_eq!(pool.prefetch(&mut k, 4), Err(Error::QuotaExceeded));
        assert_eq!(pool.cached(), 1);
        let f = pool.alloc(&mut k).unwrap();
        assert_eq!(pool.alloc(&mut k), Err(Error::QuotaExceeded));
        assert!(!pool.forget(f));
        pool.free(&mut k, f).unwrap();
        assert!(pool.forget(f));
        assert_eq!(pool.cached(), 0);
    }
}
