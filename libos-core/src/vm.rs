//! The environment's virtual memory, built by the library OS itself with
//! the kernel's map calls: a virtual range handed out page by page, a
//! record of every page it mapped (frame, rights, class, last use), the
//! frame cache, and the operations the revocation and repossession
//! handlers need (give pages back, forget frames the kernel took).
//!
//! The kernel side is behind [`Mmu`], so the bookkeeping is tested on the
//! host with a fake; [`KernelMmu`] is the real one.

use arrayvec::ArrayVec;
use exo_abi::{Error, MapFlags};

use crate::frames::{FramePool, FrameSource};
use crate::revoke;

/// Whether the library OS may give a page back when asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageClass {
    /// Never given back voluntarily (the kernel may still repossess it
    /// above the guarantee).
    Pinned,
    /// Contents the program can rebuild; given back on request.
    Reclaimable,
}

/// One mapped page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub vaddr: u64,
    pub frame: u64,
    pub flags: MapFlags,
    pub class: PageClass,
    /// Logical time of the last `touch` (or the mapping).
    pub last_use: u64,
    /// The frame is owned by this environment (false: granted by another,
    /// so it is only unmapped, never freed or cached).
    pub owned: bool,
}

/// The kernel operations the VM needs.
pub trait Mmu: FrameSource {
    /// Maps `frame` at `vaddr`. The VM only maps pages of its own range
    /// that no Rust reference points into yet.
    fn map(&mut self, vaddr: u64, frame: u64, flags: MapFlags) -> Result<(), Error>;
    /// Unmaps `vaddr` (the VM no longer hands out references into it).
    fn unmap(&mut self, vaddr: u64) -> Result<u64, Error>;
    /// Fills the mapped page at `vaddr` with zeros.
    fn zero(&mut self, vaddr: u64);
    /// Copies bytes out of mapped memory at `vaddr`.
    fn read(&mut self, vaddr: u64, out: &mut [u8]);
    /// Copies bytes into mapped writable memory at `vaddr`.
    fn write(&mut self, vaddr: u64, data: &[u8]);
}

/// A virtual range `[base, end)` with up to `PAGES` mapped pages and a
/// cache of `CACHE` frames.
#[derive(Debug)]
pub struct Vm<const PAGES: usize, const CACHE: usize> {
    next: u64,
    end: u64,
    pages: ArrayVec<Page, PAGES>,
    pub pool: FramePool<CACHE>,
    clock: u64,
}

impl<const PAGES: usize, const CACHE: usize> Vm<PAGES, CACHE> {
    pub const fn new(base: u64, end: u64) -> Self {
        Vm {
            next: base,
            end,
            pages: ArrayVec::new_const(),
            pool: FramePool::new(),
            clock: 0,
        }
    }

    /// Maps `count` fresh zeroed pages with `flags`; returns their address.
    pub fn alloc(
        &mut self,
        mmu: &mut impl Mmu,
        count: usize,
        flags: MapFlags,
        class: PageClass,
    ) -> Result<u64, Error> {
        let bytes = (count as u64).checked_mul(4096).ok_or(Error::TooLong)?;
        if self.pages.len() + count > PAGES || self.next + bytes > self.end {
            return Err(Error::TooLong);
        }
        let base = self.next;
        for i in 0..count as u64 {
            let vaddr = base + i * 4096;
            let mapped = self
                .pool
                .alloc(mmu)
                .and_then(|f| match mmu.map(vaddr, f, flags) {
                    Ok(()) => Ok(f),
                    Err(e) => {
                        let _ = self.pool.free(mmu, f);
                        Err(e)
                    }
                });
            match mapped {
                Ok(frame) => {
                    self.clock += 1;
                    self.pages.push(Page {
                        vaddr,
                        frame,
                        flags,
                        class,
                        last_use: self.clock,
                        owned: true,
                    });
                }
                Err(e) => {
                    let _ = self.free(mmu, base, i as usize);
                    return Err(e);
                }
            }
        }
        self.next += bytes;
        Ok(base)
    }

    /// Unmaps `count` pages from `vaddr` (zeroed into the frame cache).
    pub fn free(&mut self, mmu: &mut impl Mmu, vaddr: u64, count: usize) -> Result<(), Error> {
        for i in 0..count as u64 {
            let v = vaddr + i * 4096;
            let idx = self
                .pages
                .iter()
                .position(|p| p.vaddr == v)
                .ok_or(Error::NotMapped)?;
            self.release(mmu, idx)?;
        }
        Ok(())
    }

    /// Maps `frame`, which another environment granted to this one, at a
    /// fresh address; returns it.
    pub fn map_borrowed(
        &mut self,
        mmu: &mut impl Mmu,
        frame: u64,
        flags: MapFlags,
    ) -> Result<u64, Error> {
        if self.pages.is_full() || self.next + 4096 > self.end {
            return Err(Error::TooLong);
        }
        let vaddr = self.next;
        mmu.map(vaddr, frame, flags)?;
        self.next += 4096;
        self.clock += 1;
        self.pages.push(Page {
            vaddr,
            frame,
            flags,
            class: PageClass::Pinned,
            last_use: self.clock,
            owned: false,
        });
        Ok(vaddr)
    }

    /// Copies `out.len()` bytes from `vaddr` (every byte must lie in a page
    /// of this VM).
    pub fn read(&mut self, mmu: &mut impl Mmu, vaddr: u64, out: &mut [u8]) -> Result<(), Error> {
        self.check_range(vaddr, out.len(), false)?;
        mmu.read(vaddr, out);
        Ok(())
    }

    /// Copies `data` to `vaddr` (every byte must lie in a writable page of
    /// this VM).
    pub fn write(&mut self, mmu: &mut impl Mmu, vaddr: u64, data: &[u8]) -> Result<(), Error> {
        self.check_range(vaddr, data.len(), true)?;
        mmu.write(vaddr, data);
        Ok(())
    }

    fn check_range(&self, vaddr: u64, len: usize, write: bool) -> Result<(), Error> {
        let end = vaddr.checked_add(len as u64).ok_or(Error::BadAddress)?;
        let mut page = vaddr & !4095;
        while page < end {
            match self.page(page) {
                Some(p) if !write || p.flags.contains(MapFlags::WRITE) => {}
                _ => return Err(Error::BadAddress),
            }
            page += 4096;
        }
        Ok(())
    }

    fn release(&mut self, mmu: &mut impl Mmu, idx: usize) -> Result<(), Error> {
        let p = self.pages[idx];
        if !p.owned {
            mmu.unmap(p.vaddr)?;
            self.pages.swap_remove(idx);
            return Ok(());
        }
        if p.flags.contains(MapFlags::WRITE) {
            mmu.zero(p.vaddr);
            mmu.unmap(p.vaddr)?;
            self.pages.swap_remove(idx);
            self.pool.free(mmu, p.frame)
        } else {
            // Cannot zero a read-only page in place: the frame goes back to
            // the kernel, which zeroes on allocation.
            mmu.unmap(p.vaddr)?;
            self.pages.swap_remove(idx);
            mmu.free_frame(p.frame)
        }
    }

    /// Marks the page holding `vaddr` as used now (for the revocation
    /// policy's least-recently-used order).
    pub fn touch(&mut self, vaddr: u64) {
        self.clock += 1;
        let now = self.clock;
        if let Some(p) = self.pages.iter_mut().find(|p| p.vaddr == vaddr & !4095) {
            p.last_use = now;
        }
    }

    /// Gives up to `n` frames back to the kernel: cached frames first, then
    /// reclaimable pages (least recently used first). Returns how many.
    pub fn give_back(&mut self, mmu: &mut impl Mmu, n: usize) -> usize {
        let mut done = self.pool.give_back(mmu, n);
        while done < n {
            let victims = revoke::choose(&self.pages, 1);
            let Some(&idx) = victims.first() else { break };
            let p = self.pages[idx];
            if mmu.unmap(p.vaddr).is_err() {
                break;
            }
            self.pages.swap_remove(idx);
            if mmu.free_frame(p.frame).is_err() {
                break;
            }
            done += 1;
        }
        done
    }

    /// Forgets `frame` after the kernel repossessed it (it is already
    /// unmapped and gone); returns the page it backed.
    pub fn forget_frame(&mut self, frame: u64) -> Option<Page> {
        if self.pool.forget(frame) {
            return None;
        }
        let idx = self.pages.iter().position(|p| p.frame == frame)?;
        Some(self.pages.swap_remove(idx))
    }

    /// The record of the page at `vaddr`.
    pub fn page(&self, vaddr: u64) -> Option<&Page> {
        self.pages.iter().find(|p| p.vaddr == vaddr & !4095)
    }

    /// Pages mapped.
    pub fn mapped(&self) -> usize {
        self.pages.len()
    }
}

/// The kernel as [`Mmu`].
pub struct KernelMmu;

impl FrameSource for KernelMmu {
    fn alloc_frame(&mut self) -> Result<u64, Error> {
        crate::api::frame_alloc(None)
    }

    fn free_frame(&mut self, frame: u64) -> Result<(), Error> {
        // SAFETY: the VM frees only frames it has unmapped (or never
        // mapped): no mapping of them remains for the kernel to remove.
        unsafe { crate::api::frame_free(frame) }
    }
}

impl Mmu for KernelMmu {
    fn map(&mut self, vaddr: u64, frame: u64, flags: MapFlags) -> Result<(), Error> {
        // SAFETY: the VM maps only fresh pages of its own range; nothing
        // points into them before `alloc` returns their address.
        unsafe { crate::api::map(vaddr, frame, flags) }
    }

    fn unmap(&mut self, vaddr: u64) -> Result<u64, Error> {
        // SAFETY: the VM unmaps pages when their owner frees them or when
        // it gives reclaimable pages back; the program agreed, when it
        // allocated them, not to keep references across that.
        unsafe { crate::api::unmap(vaddr) }
    }

    fn zero(&mut self, vaddr: u64) {
        // SAFETY: `vaddr` is a writable page of the VM's range being freed;
        // no reference into it is live.
        unsafe { core::ptr::write_bytes(vaddr as *mut u8, 0, 4096) };
    }

    fn read(&mut self, vaddr: u64, out: &mut [u8]) {
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: the VM checked that every byte lies in one of its
            // mapped pages, which Rust code reaches only through these
            // copies (another environment may share the page, hence the
            // volatile accesses).
            *b = unsafe { core::ptr::read_volatile((vaddr + i as u64) as *const u8) };
        }
    }

    fn write(&mut self, vaddr: u64, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            // SAFETY: as in `read`, for a writable page.
            unsafe { core::ptr::write_volatile((vaddr + i as u64) as *mut u8, *b) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::tests::FakeKernel;
    extern crate std;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct FakeMmu {
        kernel: FakeKernel,
        mapped: BTreeMap<u64, u64>,
        zeroed: usize,
        memory: BTreeMap<u64, u8>,
    }

    impl FrameSource for FakeMmu {
        fn alloc_frame(&mut self) -> Result<u64, Error> {
            self.kernel.alloc_frame()
        }
        fn free_frame(&mut self, frame: u64) -> Result<(), Error> {
            assert!(
                !self.mapped.values().any(|&f| f == frame),
                "freeing a mapped frame"
            );
            self.kernel.free_frame(frame)
        }
    }

    impl Mmu for FakeMmu {
        fn map(&mut self, vaddr: u64, frame: u64, _: MapFlags) -> Result<(), Error> {
            if !self.kernel.owned.contains(&frame) {
                return Err(Error::NoCapability);
            }
            if self.mapped.insert(vaddr, frame).is_some() {
                return Err(Error::AlreadyMapped);
            }
            Ok(())
        }
        fn unmap(&mut self, vaddr: u64) -> Result<u64, Error> {
            self.mapped.remove(&vaddr).ok_or(Error::NotMapped)
        }
        fn zero(&mut self, vaddr: u64) {
            assert!(self.mapped.contains_key(&vaddr));
            self.zeroed += 1;
            self.memory.retain(|a, _| a & !4095 != vaddr);
        }
        fn read(&mut self, vaddr: u64, out: &mut [u8]) {
            for (i, b) in out.iter_mut().enumerate() {
                *b = self.memory.get(&(vaddr + i as u64)).copied().unwrap_or(0);
            }
        }
        fn write(&mut self, vaddr: u64, data: &[u8]) {
            for (i, b) in data.iter().enumerate() {
                self.memory.insert(vaddr + i as u64, *b);
            }
        }
    }

    fn mmu(quota: usize) -> FakeMmu {
        FakeMmu {
            kernel: FakeKernel {
                quota,
                ..FakeKernel::default()
            },
            ..FakeMmu::default()
        }
    }

    #[test]
    fn pages_are_mapped_contiguously_and_freed_into_the_cache() {
        let mut m = mmu(100);
        let mut vm = Vm::<32, 4>::new(0x10_0000, 0x20_0000);
        let a = vm
            .alloc(&mut m, 3, MapFlags::WRITE, PageClass::Pinned)
            .unwrap();
        let b = vm
            .alloc(&mut m, 1, MapFlags::WRITE, PageClass::Reclaimable)
            .unwrap();
        assert_eq!((a, b), (0x10_0000, 0x10_3000));
        assert_eq!(m.mapped.len(), 4);
        vm.free(&mut m, a, 3).unwrap();
        assert_eq!((m.mapped.len(), m.zeroed, vm.pool.cached()), (1, 3, 3));
        assert_eq!(vm.free(&mut m, a, 1), Err(Error::NotMapped));
        let c = vm
            .alloc(&mut m, 2, MapFlags::WRITE, PageClass::Pinned)
            .unwrap();
        assert_eq!(vm.pool.cached(), 1, "cached frames are reused");
        assert_eq!(m.kernel.owned.len(), 4);
        assert!(vm.page(c + 4096).is_some());
    }

    #[test]
    fn failed_allocation_rolls_back() {
        let mut m = mmu(3);
        let mut vm = Vm::<32, 4>::new(0x10_0000, 0x20_0000);
        assert_eq!(
            vm.alloc(&mut m, 5, MapFlags::WRITE, PageClass::Pinned),
            Err(Error::QuotaExceeded)
        );
        assert_eq!(vm.mapped(), 0);
        assert!(m.mapped.is_empty());
        let v = vm
            .alloc(&mut m, 3, MapFlags::WRITE, PageClass::Pinned)
            .unwrap();
        assert_eq!(v, 0x10_0000, "the failed range was not consumed");
        assert_eq!(
            vm.alloc(&mut m, 40, MapFlags::WRITE, PageClass::Pinned),
            Err(Error::TooLong)
        );
    }

    #[test]
    fn give_back_prefers_cache_then_least_recently_used_reclaimable() {
        let mut m = mmu(100);
        let mut vm = Vm::<32, 4>::new(0x10_0000, 0x20_0000);
        let pinned = vm
            .alloc(&mut m, 2, MapFlags::WRITE, PageClass::Pinned)
            .unwrap();
        let cache = vm
            .alloc(&mut m, 3, MapFlags::WRITE, PageClass::Reclaimable)
            .unwrap();
        vm.pool.prefetch(&mut m, 2).unwrap();
        vm.touch(cache);
        let before = m.kernel.owned.len();
        assert_eq!(vm.give_back(&mut m, 3), 3);
        assert_eq!(m.kernel.owned.len(), before - 3);
        assert_eq!(vm.pool.cached(), 0);
        assert!(
            vm.page(cache + 4096).is_none(),
            "the least recently used page went"
        );
        assert!(vm.page(cache).is_some(), "the touched page stayed");
        assert_eq!(vm.give_back(&mut m, 10), 2, "pinned pages are never given");
        assert!(vm.page(pinned).is_some() && vm.page(pinned + 4096).is_some());
    }

    #[test]
    fn borrowed_pages_are_unmapped_not_freed_and_accesses_are_checked() {
        let mut m = mmu(100);
        let mut vm = Vm::<32, 4>::new(0x10_0000, 0x20_0000);
        m.kernel.owned.insert(999); // a frame "granted" to us
        let v = vm.map_borrowed(&mut m, 999, MapFlags::empty()).unwrap();
        assert_eq!(
            vm.write(&mut m, v, b"x"),
            Err(Error::BadAddress),
            "read-only page"
        );
        let w = vm
            .alloc(&mut m, 2, MapFlags::WRITE, PageClass::Pinned)
            .unwrap();
        vm.write(&mut m, w + 4090, b"across pages").unwrap();
        let mut buf = [0u8; 12];
        vm.read(&mut m, w + 4090, &mut buf).unwrap();
        assert_eq!(&buf, b"across pages");
        assert_eq!(vm.read(&mut m, w + 8190, &mut buf), Err(Error::BadAddress));
        vm.free(&mut m, v, 1).unwrap();
        assert!(
            m.kernel.owned.contains(&999),
            "a borrowed frame is not freed"
        );
        assert_eq!(vm.pool.cached(), 0);
    }

    #[test]
    fn repossessed_frames_are_forgotten() {
        let mut m = mmu(100);
        let mut vm = Vm::<32, 4>::new(0x10_0000, 0x20_0000);
        let v = vm
            .alloc(&mut m, 2, MapFlags::WRITE, PageClass::Pinned)
            .unwrap();
        let f = vm.page(v).unwrap().frame;
        let p = vm.forget_frame(f).unwrap();
        assert_eq!(p.vaddr, v);
        assert_eq!(vm.mapped(), 1);
        assert_eq!(vm.forget_frame(f), None);
    }
}
