//! Multiboot2 information: a list of 8-byte aligned tags.

use super::{BootInfo, BootInfoError, Loader, PhysReader, RegionKind, u32_at, u64_at};

const TAG_END: u32 = 0;
const TAG_CMDLINE: u32 = 1;
const TAG_MMAP: u32 = 6;

/// Parses the Multiboot2 information structure at `info_phys`.
pub fn parse(info_phys: u64, mem: &dyn PhysReader) -> Result<BootInfo, BootInfoError> {
    let header = mem.read(info_phys, 8)?;
    let total = u32_at(header, 0, "multiboot2 total_size")? as usize;
    if total < 16 {
        return Err(BootInfoError::Truncated {
            what: "multiboot2 info",
        });
    }
    parse_tags(mem.read(info_phys, total)?)
}

/// Parses a complete Multiboot2 information block (header included).
pub fn parse_tags(info: &[u8]) -> Result<BootInfo, BootInfoError> {
    let mut boot = BootInfo::new(Loader::Multiboot2);
    let mut have_mmap = false;
    let mut off = 8;
    loop {
        let kind = u32_at(info, off, "multiboot2 tag")?;
        let size = u32_at(info, off + 4, "multiboot2 tag")? as usize;
        if size < 8 {
            return Err(BootInfoError::Truncated {
                what: "multiboot2 tag",
            });
        }
        let tag = info.get(off..off + size).ok_or(BootInfoError::Truncated {
            what: "multiboot2 tag",
        })?;
        match kind {
            TAG_END => break,
            TAG_CMDLINE => {
                let s = &tag[8..];
                let n = s
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or(BootInfoError::UnterminatedString)?;
                boot.set_cmdline(&s[..n])?;
            }
            TAG_MMAP => {
                parse_mmap(tag, &mut boot)?;
                have_mmap = true;
            }
            _ => {}
        }
        off += size.next_multiple_of(8);
    }
    if !have_mmap || boot.memory.usable_bytes() == 0 {
        return Err(BootInfoError::NoMemoryMap);
    }
    Ok(boot)
}

fn parse_mmap(tag: &[u8], boot: &mut BootInfo) -> Result<(), BootInfoError> {
    let entry_size = u32_at(tag, 8, "multiboot2 mmap")? as usize;
    if entry_size < 24 {
        return Err(BootInfoError::Truncated {
            what: "multiboot2 mmap entry",
        });
    }
    for entry in tag[16..].chunks_exact(entry_size) {
        let base = u64_at(entry, 0, "multiboot2 mmap entry")?;
        let len = u64_at(entry, 8, "multiboot2 mmap entry")?;
        let kind = u32_at(entry, 16, "multiboot2 mmap entry")?;
        boot.memory
            .push(base, len, RegionKind::from_multiboot(kind))?;
    }
    Ok(())
}
