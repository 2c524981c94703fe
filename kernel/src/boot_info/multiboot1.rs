//! Multiboot1 information structure (flags, command line, memory map).

use super::{BootInfo, BootInfoError, Loader, PhysReader, RegionKind, c_string, u32_at, u64_at};

const FLAG_CMDLINE: u32 = 1 << 2;
const FLAG_MMAP: u32 = 1 << 6;
const INFO_LEN: usize = 52;

/// Parses the Multiboot1 information structure at `info_phys`.
pub fn parse(info_phys: u64, mem: &dyn PhysReader) -> Result<BootInfo, BootInfoError> {
    let info = mem.read(info_phys, INFO_LEN)?;
    let flags = u32_at(info, 0, "multiboot1 flags")?;
    let mut boot = BootInfo::new(Loader::Multiboot1);
    if flags & FLAG_CMDLINE != 0 {
        let cmdline = u32_at(info, 16, "multiboot1 cmdline")?;
        boot.set_cmdline(c_string(u64::from(cmdline), mem)?)?;
    }
    if flags & FLAG_MMAP == 0 {
        return Err(BootInfoError::NoMemoryMap);
    }
    let length = u32_at(info, 44, "multiboot1 mmap_length")? as usize;
    let addr = u64::from(u32_at(info, 48, "multiboot1 mmap_addr")?);
    parse_mmap(mem.read(addr, length)?, &mut boot)?;
    Ok(boot)
}

/// Parses Multiboot1 memory-map entries: `size: u32` (not counting itself),
/// `base: u64`, `length: u64`, `type: u32`.
pub fn parse_mmap(mut entries: &[u8], boot: &mut BootInfo) -> Result<(), BootInfoError> {
    while !entries.is_empty() {
        let size = u32_at(entries, 0, "multiboot1 mmap entry")? as usize;
        if size < 20 {
            return Err(BootInfoError::Truncated {
                what: "multiboot1 mmap entry",
            });
        }
        let base = u64_at(entries, 4, "multiboot1 mmap entry")?;
        let len = u64_at(entries, 12, "multiboot1 mmap entry")?;
        let kind = u32_at(entries, 20, "multiboot1 mmap entry")?;
        boot.memory
            .push(base, len, RegionKind::from_multiboot(kind))?;
        entries = entries.get(size + 4..).ok_or(BootInfoError::Truncated {
            what: "multiboot1 mmap",
        })?;
    }
    if boot.memory.usable_bytes() == 0 {
        return Err(BootInfoError::NoMemoryMap);
    }
    Ok(())
}

crate::kernel_test! {
    fn multiboot1_memory_map_entries_are_parsed() {
        let mut bytes = alloc::vec::Vec::new();
        for (base, len, kind) in [(0u64, 0x9fc00u64, 1u32), (0x100000, 0x7ee0000, 1), (0xfffc0000, 0x40000, 2)] {
            bytes.extend_from_slice(&20u32.to_le_bytes());
            bytes.extend_from_slice(&base.to_le_bytes());
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(&kind.to_le_bytes());
        }
        let mut boot = BootInfo::new(Loader::Multiboot1);
        parse_mmap(&bytes, &mut boot)?;
        ensure_eq!(boot.memory.regions().len(), 3);
        ensure_eq!(boot.memory.usable_end(), 0x7fe0000);
        let mut bad = bytes.clone();
        bad[0..4].copy_from_slice(&8u32.to_le_bytes());
        ensure!(matches!(parse_mmap(&bad, &mut BootInfo::new(Loader::Multiboot1)), Err(BootInfoError::Truncated { .. })), "entry size 8 accepted");
        ensure!(parse_mmap(&bytes[..30], &mut BootInfo::new(Loader::Multiboot1)).is_err(), "truncated map accepted");
        Ok(())
    }
}
