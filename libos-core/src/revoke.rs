//! Which pages to give back when the kernel asks for frames (visible
//! revocation: the library OS chooses). Policy: first frames that hold
//! nothing (the frame cache), then reclaimable pages (contents the program
//! can rebuild, e.g. caches), least recently touched first; never pinned
//! pages (code, stacks, the upcall stack, page the program declared vital).

use arrayvec::ArrayVec;

use crate::vm::{Page, PageClass};

/// Most pages one decision returns.
pub const MAX_VICTIMS: usize = 64;

/// Indexes (into `pages`) of up to `n` pages to give back.
pub fn choose(pages: &[Page], n: usize) -> ArrayVec<usize, MAX_VICTIMS> {
    let mut candidates: ArrayVec<(u64, usize), 256> = pages
        .iter()
        .enumerate()
        .filter(|(_, p)| p.class == PageClass::Reclaimable)
        .map(|(i, p)| (p.last_use, i))
        .take(256)
        .collect();
    candidates.sort_unstable();
    candidates
        .into_iter()
        .take(n.min(MAX_VICTIMS))
        .map(|(_, i)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use exo_abi::MapFlags;

    fn page(vaddr: u64, class: PageClass, last_use: u64) -> Page {
        Page {
            vaddr,
            frame: vaddr >> 12,
            flags: MapFlags::WRITE,
            class,
            last_use,
            owned: true,
        }
    }

    #[test]
    fn least_recently_used_reclaimable_pages_go_first() {
        let pages = [
            page(0x1000, PageClass::Pinned, 0),
            page(0x2000, PageClass::Reclaimable, 7),
            page(0x3000, PageClass::Reclaimable, 3),
            page(0x4000, PageClass::Pinned, 1),
            page(0x5000, PageClass::Reclaimable, 5),
        ];
        assert_eq!(choose(&pages, 2).as_slice(), &[2, 4]);
        assert_eq!(choose(&pages, 10).as_slice(), &[2, 4, 1]);
        assert!(choose(&pages, 0).is_empty());
        assert!(
            choose(&pages[..1], 3).is_empty(),
            "pinned pages are never chosen"
        );
    }
}
