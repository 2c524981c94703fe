//! Ring-3 programs embedded in the kernel image and the validation of their
//! ELF headers.
//!
//! `cargo xtask` builds the `exo-user` binaries first and passes their paths
//! to `kernel/build.rs`, which `include_bytes!`s them (see `PROGRAMS`).
//! `env::loader` loads them into environments; here the kernel
//! checks that each image is a static x86-64 executable whose loadable
//! segments lie in the user half, are W^X, and whose entry point is in an
//! executable segment, and logs the result at boot.

use core::fmt;

use object::LittleEndian;
use object::elf::{EM_X86_64, ET_EXEC, FileHeader64, PF_R, PF_W, PF_X, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};

use crate::arch::layout::USER_END;

/// A page-aligned byte array (the embedded programs are stored in these).
#[repr(C, align(4096))]
pub struct PageAligned<const N: usize>(pub [u8; N]);

include!(concat!(env!("OUT_DIR"), "/user_programs.rs"));

/// Most loadable segments accepted per program.
pub const MAX_SEGMENTS: usize = 8;

/// One loadable segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Segment {
    pub vaddr: u64,
    pub mem_size: u64,
    pub file_offset: u64,
    pub file_size: u64,
    pub readable: bool,
    pub writable: bool,
    pub executable: bool,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = if self.readable { "R" } else { "-" };
        let w = if self.writable { "W" } else { "-" };
        let x = if self.executable { "X" } else { "-" };
        write!(
            f,
            "[{:#x}..{:#x} {r}{w}{x}]",
            self.vaddr,
            self.vaddr + self.mem_size
        )
    }
}

/// A validated user program image.
#[derive(Clone, Copy, Debug)]
pub struct UserImage {
    pub entry: u64,
    segments: [Segment; MAX_SEGMENTS],
    count: usize,
}

impl UserImage {
    pub fn segments(&self) -> &[Segment] {
        &self.segments[..self.count]
    }
}

/// Why an image was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Not a well-formed ELF64 little-endian file.
    Malformed(&'static str),
    NotX86_64,
    /// Not `ET_EXEC` (user programs are linked static, non-PIE).
    NotExecutable,
    NoLoadableSegments,
    TooManySegments,
    /// A segment reaches into the kernel half or wraps.
    OutsideUserHalf {
        vaddr: u64,
        mem_size: u64,
    },
    /// A segment is both writable and executable.
    WritableAndExecutable {
        vaddr: u64,
    },
    /// File size exceeds memory size, or the file range is out of bounds.
    BadFileRange {
        vaddr: u64,
    },
    /// The entry point is not inside an executable segment.
    EntryNotExecutable(u64),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed ELF: {what}"),
            Self::NotX86_64 => write!(f, "not an x86-64 ELF"),
            Self::NotExecutable => write!(
                f,
                "not a static executable (ET_EXEC); link with user/user.ld"
            ),
            Self::NoLoadableSegments => write!(f, "no PT_LOAD segments"),
            Self::TooManySegments => write!(f, "more than {MAX_SEGMENTS} PT_LOAD segments"),
            Self::OutsideUserHalf { vaddr, mem_size } => {
                write!(
                    f,
                    "segment {vaddr:#x}+{mem_size:#x} is outside the user half"
                )
            }
            Self::WritableAndExecutable { vaddr } => {
                write!(f, "segment at {vaddr:#x} is writable and executable")
            }
            Self::BadFileRange { vaddr } => {
                write!(f, "segment at {vaddr:#x} has an invalid file range")
            }
            Self::EntryNotExecutable(e) => {
                write!(f, "entry point {e:#x} is not in an executable segment")
            }
        }
    }
}

/// Validates an ELF image for ring 3.
pub fn parse(data: &[u8]) -> Result<UserImage, ElfError> {
    let header = FileHeader64::<LittleEndian>::parse(data)
        .map_err(|_| ElfError::Malformed("file header"))?;
    let endian = header
        .endian()
        .map_err(|_| ElfError::Malformed("byte order"))?;
    if header.e_machine(endian) != EM_X86_64 {
        return Err(ElfError::NotX86_64);
    }
    if header.e_type(endian) != ET_EXEC {
        return Err(ElfError::NotExecutable);
    }
    let phdrs = header
        .program_headers(endian, data)
        .map_err(|_| ElfError::Malformed("program headers"))?;
    let mut image = UserImage {
        entry: header.e_entry(endian),
        segments: [Segment::default(); MAX_SEGMENTS],
        count: 0,
    };
    for ph in phdrs.iter().filter(|ph| ph.p_type(endian) == PT_LOAD) {
        let flags = ph.p_flags(endian);
        let seg = Segment {
            vaddr: ph.p_vaddr(endian),
            mem_size: ph.p_memsz(endian),
            file_offset: ph.p_offset(endian),
            file_size: ph.p_filesz(endian),
            readable: flags & PF_R != 0,
            writable: flags & PF_W != 0,
            executable: flags & PF_X != 0,
        };
        let end = seg.vaddr.checked_add(seg.mem_size);
        if end.is_none_or(|e| e > USER_END) {
            return Err(ElfError::OutsideUserHalf {
                vaddr: seg.vaddr,
                mem_size: seg.mem_size,
            });
        }
        if seg.writable && seg.executable {
            return Err(ElfError::WritableAndExecutable { vaddr: seg.vaddr });
        }
        let file_end = seg.file_offset.checked_add(seg.file_size);
        if seg.file_size > seg.mem_size || file_end.is_none_or(|e| e > data.len() as u64) {
            return Err(ElfError::BadFileRange { vaddr: seg.vaddr });
        }
        let slot = image
            .segments
            .get_mut(image.count)
            .ok_or(ElfError::TooManySegments)?;
        *slot = seg;
        image.count += 1;
    }
    if image.count == 0 {
        return Err(ElfError::NoLoadableSegments);
    }
    let entry_ok = image
        .segments()
        .iter()
        .any(|s| s.executable && (s.vaddr..s.vaddr + s.mem_size).contains(&image.entry));
    if !entry_ok {
        return Err(ElfError::EntryNotExecutable(image.entry));
    }
    Ok(image)
}

/// Validates every embedded program and logs the result.
pub fn log_embedded() {
    if PROGRAMS.is_empty() {
        log::warn!("no ring-3 programs embedded (build the kernel with `cargo xtask`)");
    }
    for (name, bytes) in PROGRAMS {
        match parse(bytes) {
            Ok(image) => {
                log::info!(
                    "user program '{name}': {} bytes, entry {:#x}",
                    bytes.len(),
                    image.entry
                );
                for s in image.segments() {
                    log::info!(
                        "    PT_LOAD {s} file {:#x}+{:#x}",
                        s.file_offset,
                        s.file_size
                    );
                }
            }
            Err(e) => log::error!("user program '{name}' rejected: {e}"),
        }
    }
}

#[cfg(feature = "qemu-tests")]
fn first_program() -> Result<&'static [u8], crate::ktest::TestFailure> {
    PROGRAMS.first().map(|(_, b)| *b).ok_or_else(|| {
        crate::ktest::TestFailure::new(
            "no ring-3 program embedded; build with `cargo xtask`".into(),
        )
    })
}

#[cfg(feature = "qemu-tests")]
fn patched(offset: usize, bytes: &[u8]) -> Result<alloc::vec::Vec<u8>, crate::ktest::TestFailure> {
    let mut copy = first_program()?.to_vec();
    copy[offset..offset + bytes.len()].copy_from_slice(bytes);
    Ok(copy)
}

#[cfg(feature = "qemu-tests")]
fn first_phdr_offset() -> Result<usize, crate::ktest::TestFailure> {
    let data = first_program()?;
    let phoff = u64::from_le_bytes(data[32..40].try_into()?) as usize;
    let phentsize = usize::from(u16::from_le_bytes(data[54..56].try_into()?));
    let phnum = usize::from(u16::from_le_bytes(data[56..58].try_into()?));
    (0..phnum)
        .map(|i| phoff + i * phentsize)
        .find(|&off| {
            u32::from_le_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]]) == PT_LOAD
        })
        .ok_or_else(|| crate::ktest::TestFailure::new("no PT_LOAD header".into()))
}

crate::kernel_test! {
    fn embedded_programs_are_valid_user_executables() {
        ensure!(!PROGRAMS.is_empty(), "no ring-3 program embedded");
        for (name, bytes) in PROGRAMS {
            let image = parse(bytes).map_err(|e| alloc::format!("{name}: {e}"))?;
            ensure!(image.entry < USER_END, "{name}: entry {:#x} in kernel half", image.entry);
            ensure!(image.segments().iter().any(|s| s.executable), "{name}: no executable segment");
            ensure!(bytes.as_ptr().addr().is_multiple_of(4096), "{name}: image not page aligned");
            let mut shifted = alloc::vec![0u8; bytes.len() + 1];
            shifted[1..].copy_from_slice(bytes);
            let again = parse(&shifted[1..]).map_err(|e| alloc::format!("{name} at an odd address: {e}"))?;
            ensure_eq!(again.entry, image.entry);
        }
        Ok(())
    }
}

crate::kernel_test! {
    fn corrupt_user_images_are_rejected() {
        ensure_eq!(parse(&patched(0, b"\x7fELG")?).err(), Some(ElfError::Malformed("file header")));
        ensure_eq!(parse(&patched(18, &3u16.to_le_bytes())?).err(), Some(ElfError::NotX86_64));
        ensure_eq!(parse(&patched(16, &3u16.to_le_bytes())?).err(), Some(ElfError::NotExecutable));
        ensure_eq!(parse(&first_program()?[..40]).err(), Some(ElfError::Malformed("file header")));
        let ph = first_phdr_offset()?;
        let kernel_addr = 0xFFFF_8000_0000_0000u64;
        let err = parse(&patched(ph + 16, &kernel_addr.to_le_bytes())?).err();
        ensure!(matches!(err, Some(ElfError::OutsideUserHalf { .. })), "kernel-half segment accepted: {err:?}");
        let wx = PF_R | PF_W | PF_X;
        let err = parse(&patched(ph + 4, &wx.to_le_bytes())?).err();
        ensure!(matches!(err, Some(ElfError::WritableAndExecutable { .. })), "W+X segment accepted: {err:?}");
        let err = parse(&patched(ph + 32, &u64::MAX.to_le_bytes())?).err();
        ensure!(matches!(err, Some(ElfError::BadFileRange { .. })), "oversized segment accepted: {err:?}");
        Ok(())
    }
}
