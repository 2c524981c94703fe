//! Building the bare-metal images: the ring-3 programs first, then the
//! kernel that embeds them, then a layout check of the kernel ELF.
//!
//! Both are `no_std` binaries compiled for the host triple with the
//! bare-metal flags passed through `CARGO_ENCODED_RUSTFLAGS` together with an
//! explicit `--target`, which keeps the flags away from build scripts and
//! host crates (see ../shared/notes/bare-metal-on-stable-rust.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result, io};
use crate::paths;
use crate::process;

/// The host triple, used as an explicit `--target` for bare-metal builds.
pub const TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// Ring-3 programs built from `user/` and embedded in the kernel.
pub const USER_PROGRAMS: [&str; 5] = ["init", "pong", "probe", "bench", "netprobe"];

/// Rust flags for kernel and user code: frame pointers for backtraces,
/// static relocations, and the kernel code model (the kernel is linked in
/// the top 2 GiB; user programs at 4 MiB also fit its sign-extended 32-bit
/// absolute addresses).
const BARE_RUSTFLAGS: [&str; 3] = [
    "-Cforce-frame-pointers=yes",
    "-Crelocation-model=static",
    "-Ccode-model=kernel",
];

/// Which kernel to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// The normal kernel.
    Normal,
    /// With the `qemu-tests` feature: runs the in-QEMU tests at boot.
    Test,
}

/// Build options.
#[derive(Clone, Copy, Debug)]
pub struct BuildOptions {
    pub release: bool,
    pub flavor: Flavor,
}

/// A built kernel.
#[derive(Clone, Debug)]
pub struct KernelImage {
    pub elf: PathBuf,
}

fn profile_dir(release: bool) -> &'static str {
    if release { "release" } else { "debug" }
}

/// `cargo ARGS --target TRIPLE [--release] [-- TOOL_ARGS]` with the
/// bare-metal flags (`--target` must precede `--`, or cargo would apply the
/// flags to proc-macros and build scripts too).
fn bare_cargo(args: &[&str], release: bool, tool_args: &[&str]) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(paths::root())
        .args(args)
        .args(["--target", TRIPLE]);
    if release {
        c.arg("--release");
    }
    if !tool_args.is_empty() {
        c.arg("--").args(tool_args);
    }
    c.env("CARGO_ENCODED_RUSTFLAGS", BARE_RUSTFLAGS.join("\x1f"));
    c.env_remove("RUSTFLAGS");
    c
}

/// The `EXO_USER_PROGRAMS` value for the kernel build (name=path;...).
fn user_programs_env(programs: &[(String, PathBuf)]) -> String {
    programs
        .iter()
        .map(|(n, p)| format!("{n}={}", p.display()))
        .collect::<Vec<_>>()
        .join(";")
}

/// Builds the ring-3 programs; returns `(name, path)` of each (copied to
/// `<target>/exo/user/`).
pub fn build_user(release: bool) -> Result<Vec<(String, PathBuf)>> {
    process::run(
        &mut bare_cargo(&["build", "-p", "exo-user", "--bins"], release, &[]),
        "building ring-3 programs",
    )?;
    let dir = paths::out_dir().join("user").join(profile_dir(release));
    std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let built = paths::target_dir().join(TRIPLE).join(profile_dir(release));
    USER_PROGRAMS
        .iter()
        .map(|name| {
            let dst = dir.join(name);
            std::fs::copy(built.join(name), &dst)
                .map_err(io(format!("copying ring-3 program {name}")))?;
            Ok((name.to_string(), dst))
        })
        .collect()
}

/// Builds the ring-3 programs and the kernel.
pub fn build(opts: BuildOptions) -> Result<KernelImage> {
    let programs = build_user(opts.release)?;
    let mut args = vec!["build", "-p", "kernel"];
    if opts.flavor == Flavor::Test {
        args.extend(["--features", "qemu-tests"]);
    }
    let mut cmd = bare_cargo(&args, opts.release, &[]);
    cmd.env("EXO_USER_PROGRAMS", user_programs_env(&programs));
    process::run(&mut cmd, "building the kernel")?;
    let built = paths::target_dir()
        .join(TRIPLE)
        .join(profile_dir(opts.release))
        .join("kernel");
    let name = match (opts.flavor, opts.release) {
        (Flavor::Normal, false) => "kernel.elf",
        (Flavor::Normal, true) => "kernel-release.elf",
        (Flavor::Test, false) => "kernel-test.elf",
        (Flavor::Test, true) => "kernel-test-release.elf",
    };
    std::fs::create_dir_all(paths::out_dir()).map_err(io("creating the output directory"))?;
    let elf = paths::out_dir().join(name);
    std::fs::copy(&built, &elf).map_err(io(format!("copying {}", built.display())))?;
    check_layout(&elf)?;
    Ok(KernelImage { elf })
}

/// Clippy on the bare-metal crates with the same flags, only for those
/// crates (their dependencies are linted as host crates), plus
/// `baremetal-mem` as they build it (with its `c-symbols` feature). With
/// `tests`, the `qemu-tests` feature is on so the test code is linted too.
pub fn clippy_command(tests: bool) -> Command {
    let mut args = vec![
        "clippy",
        "-p",
        "kernel",
        "-p",
        "exo-user",
        "-p",
        "baremetal-mem",
        "--no-deps",
    ];
    if tests {
        args.extend(["--features", "kernel/qemu-tests"]);
    }
    let mut c = bare_cargo(&args, false, &["-D", "warnings"]);
    c.env_remove("EXO_USER_PROGRAMS");
    c
}

/// Checks what the Multiboot loaders rely on: a Multiboot1 header in the
/// first 8 KiB and a Multiboot2 header in the first 32 KiB of the file, and
/// loadable segments whose file offsets follow their physical addresses
/// linearly (the loaders copy one flat image).
pub fn check_layout(elf: &Path) -> Result<()> {
    use object::read::elf::{ElfFile64, ProgramHeader};
    let data = std::fs::read(elf).map_err(io(format!("reading {}", elf.display())))?;
    let find = |magic: u32, within: usize, align: usize| {
        data[..within.min(data.len())]
            .chunks_exact(4)
            .enumerate()
            .any(|(i, w)| {
                (i * 4) % align == 0 && u32::from_le_bytes([w[0], w[1], w[2], w[3]]) == magic
            })
    };
    if !find(0x1BAD_B002, 8192, 4) {
        return Err(Error::BadImage(format!(
            "{}: no Multiboot1 header in the first 8 KiB",
            elf.display()
        )));
    }
    if !find(0xE852_50D6, 32768, 8) {
        return Err(Error::BadImage(format!(
            "{}: no Multiboot2 header in the first 32 KiB",
            elf.display()
        )));
    }
    let file = ElfFile64::<object::LittleEndian>::parse(&*data)
        .map_err(|e| Error::BadImage(format!("{}: {e}", elf.display())))?;
    let endian = object::LittleEndian;
    let mut loads: Vec<(u64, u64, u64)> = file
        .elf_program_headers()
        .iter()
        .filter(|p| p.p_type(endian) == object::elf::PT_LOAD && p.p_filesz(endian) > 0)
        .map(|p| (p.p_paddr(endian), p.p_offset(endian), p.p_filesz(endian)))
        .collect();
    loads.sort_unstable();
    let Some(&(base_paddr, base_offset, _)) = loads.first() else {
        return Err(Error::BadImage(format!(
            "{}: no loadable segments",
            elf.display()
        )));
    };
    for (paddr, offset, _) in &loads {
        if paddr - base_paddr != offset - base_offset {
            return Err(Error::BadImage(format!(
                "{}: segment at physical {paddr:#x} is at file offset {offset:#x}, not {:#x}; \
                 the flat Multiboot image would be corrupt (check kernel/kernel.ld)",
                elf.display(),
                base_offset + (paddr - base_paddr)
            )));
        }
    }
    Ok(())
}
