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

#[cfg(feature = "qemu-tests")]
fn tag(kind: u32, body: &[u8]) -> alloc::vec::Vec<u8> {
    let mut t = alloc::vec::Vec::new();
    t.extend_from_slice(&kind.to_le_bytes());
    t.extend_from_slice(&(8 + body.len() as u32).to_le_bytes());
    t.extend_from_slice(body);
    while t.len() % 8 != 0 {
        t.push(0);
    }
    t
}

#[cfg(feature = "qemu-tests")]
fn info(tags: &[alloc::vec::Vec<u8>]) -> alloc::vec::Vec<u8> {
    let body: alloc::vec::Vec<u8> = tags.concat();
    let mut v = alloc::vec::Vec::new();
    v.extend_from_slice(&(8 + body.len() as u32).to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&body);
    v
}

#[cfg(feature = "qemu-tests")]
fn mmap_tag(entries: &[(u64, u64, u32)]) -> alloc::vec::Vec<u8> {
    let mut body = alloc::vec::Vec::new();
    body.extend_from_slice(&24u32.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    for (base, len, kind) in entries {
        body.extend_from_slice(&base.to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(&kind.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
    }
    tag(TAG_MMAP, &body)
}

crate::kernel_test! {
    fn multiboot2_tags_yield_memory_map_and_cmdline() {
        let bytes = info(&[
            tag(TAG_CMDLINE, b"loglevel=debug\0"),
            tag(2, b"GRUB\0"),
            mmap_tag(&[(0, 0x9fc00, 1), (0x100000, 0x7f00000, 1), (0xfffc0000, 0x40000, 2)]),
            tag(TAG_END, &[]),
        ]);
        let boot = parse_tags(&bytes)?;
        ensure_eq!(boot.cmdline(), "loglevel=debug");
        ensure_eq!(boot.memory.regions().len(), 3);
        ensure_eq!(boot.memory.usable_bytes(), 0x9fc00 + 0x7f00000);
        ensure_eq!(boot.memory.usable_end(), 0x8000000);
        ensure_eq!(boot.memory.regions()[2].kind, RegionKind::Reserved);
        Ok(())
    }
}

crate::kernel_test! {
    fn malformed_multiboot2_info_is_rejected() {
        let no_mmap = info(&[tag(TAG_CMDLINE, b"x\0"), tag(TAG_END, &[])]);
        ensure_eq!(parse_tags(&no_mmap).err(), Some(BootInfoError::NoMemoryMap));
        let mut truncated = info(&[mmap_tag(&[(0x100000, 0x1000000, 1)]), tag(TAG_END, &[])]);
        truncated.truncate(truncated.len() - 8);
        ensure!(matches!(parse_tags(&truncated), Err(BootInfoError::Truncated { .. })), "missing end tag accepted");
        let mut tiny = info(&[tag(TAG_END, &[])]);
        tiny[12..16].copy_from_slice(&4u32.to_le_bytes());
        ensure!(matches!(parse_tags(&tiny), Err(BootInfoError::Truncated { .. })), "tag size 4 accepted");
        // The tag's size ends right after "abc" (the padding is outside it).
        let unterminated = info(&[tag(TAG_CMDLINE, b"abc"), tag(TAG_END, &[])]);
        ensure_eq!(parse_tags(&unterminated).err(), Some(BootInfoError::UnterminatedString));
        let overflow = info(&[mmap_tag(&[(u64::MAX - 10, 100, 1)]), tag(TAG_END, &[])]);
        ensure!(matches!(parse_tags(&overflow), Err(BootInfoError::RegionOverflows { .. })), "wrapping region accepted");
        Ok(())
    }
}
