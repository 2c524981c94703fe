//! Loading a validated static ELF image into an environment: every page of
//! every `PT_LOAD` segment gets a fresh frame owned by the environment
//! (charged to it like any frame it allocates itself), filled from the
//! file, zero beyond it, and mapped with the segment's rights; then the
//! initial stack.

use exo_abi::layout::{STACK_PAGES, STACK_TOP};
use exo_abi::{EnvId, Error, MapFlags};

use super::Kernel;
use crate::mm::phys;
use crate::user_programs::{Segment, UserImage};

/// Frames an image and the initial stack take.
pub fn frames_needed(image: &UserImage) -> u32 {
    let pages: u64 = image
        .segments()
        .iter()
        .map(|s| {
            let start = s.vaddr & !4095;
            (s.vaddr + s.mem_size)
                .next_multiple_of(4096)
                .saturating_sub(start)
                / 4096
        })
        .sum();
    (pages + STACK_PAGES) as u32
}

impl Kernel {
    /// Loads `image` (from `bytes`) into environment `id` and maps its stack.
    pub fn load_image(&mut self, id: EnvId, image: &UserImage, bytes: &[u8]) -> Result<(), Error> {
        for seg in image.segments() {
            self.load_segment(id, seg, bytes)?;
        }
        for i in 1..=STACK_PAGES {
            let f = self.frame_alloc(id, None)?;
            self.map(
                id,
                STACK_TOP - i * 4096,
                f.index() as u64,
                MapFlags::WRITE.bits(),
            )?;
        }
        Ok(())
    }

    fn load_segment(&mut self, id: EnvId, seg: &Segment, bytes: &[u8]) -> Result<(), Error> {
        let mut flags = MapFlags::empty();
        flags.set(MapFlags::WRITE, seg.writable);
        flags.set(MapFlags::EXEC, seg.executable);
        let start = seg.vaddr & !4095;
        let end = (seg.vaddr + seg.mem_size).next_multiple_of(4096);
        let file = bytes
            .get(seg.file_offset as usize..(seg.file_offset + seg.file_size) as usize)
            .ok_or(Error::BadImage)?;
        for page in (start..end).step_by(4096) {
            let f = self.frame_alloc(id, None)?;
            // Bytes of the file that land in this page.
            let lo = page.max(seg.vaddr);
            let hi = (page + 4096).min(seg.vaddr + seg.file_size);
            if hi > lo {
                let src = &file[(lo - seg.vaddr) as usize..(hi - seg.vaddr) as usize];
                phys::write_frame(f, (lo - page) as usize, src);
            }
            self.map(id, page, f.index() as u64, flags.bits())?;
        }
        Ok(())
    }
}
