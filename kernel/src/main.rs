//! The exo exokernel.
//!
//! Boot path: `arch::x86_64::boot` (Multiboot entry, long mode) calls
//! [`boot_entry`], which sets up the CPU tables, reads the boot information,
//! initializes memory, interrupts and time, prints the boot banner, and then
//! either runs the in-QEMU tests (`qemu-tests` builds), a requested crash
//! test, exits (probe boots), or idles taking interrupts.
//! See `docs/ARCHITECTURE.md`.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;
// Links `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp` (the kernel calls
// none of them by name; the compiler and the prebuilt `core` do).
extern crate baremetal_mem;

#[macro_use]
pub mod ktest;
pub mod console;

pub mod arch;
pub mod boot_info;
pub mod cmdline;
pub mod crash;
pub mod drivers;
pub mod env;
#[cfg(feature = "qemu-tests")]
pub mod envtest;
pub mod exit;
pub mod irq;
pub mod mm;
pub mod net;
#[cfg(feature = "qemu-tests")]
pub mod netenv;
pub mod pci;
pub mod sched;
pub mod syscall;
pub mod time;
pub mod user_programs;

use log::{LevelFilter, error, info};

use boot_info::BootInfo;
use cmdline::CmdLine;
use exit::{ExitCode, exit};

/// Kernel version, printed in the banner.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Entered from the boot stub on the boot stack, interrupts disabled.
pub extern "C" fn boot_entry(magic: u32, info_phys: u32) -> ! {
    arch::early_init();
    console::init(LevelFilter::Info);
    let boot = match boot_info::parse(magic, u64::from(info_phys), &mm::phys::BootMemory) {
        Ok(b) => b,
        Err(e) => fail("boot information", &e),
    };
    let cmdline = CmdLine::new(boot.cmdline());
    if let Some(level) = cmdline.value("loglevel").and_then(console::parse_level) {
        log::set_max_level(level);
    }
    start(&boot, cmdline)
}

fn fail(stage: &str, err: &dyn core::fmt::Display) -> ! {
    error!("boot failed: {stage}: {err}");
    exit(ExitCode::BootError)
}

fn start(boot: &BootInfo, cmdline: CmdLine<'_>) -> ! {
    let apic_phys = arch::apic::physical_base();
    let mem = match mm::init(boot, apic_phys) {
        Ok(m) => m,
        Err(e) => fail("memory", &e),
    };
    arch::apic::init(
        arch::layout::phys_to_virt(apic_phys),
        arch::trap::SPURIOUS_VECTOR,
    );
    let freq = match time::init() {
        Ok(f) => f,
        Err(e) => fail("timer", &e),
    };
    banner(boot, &cmdline, &mem, &freq);
    pci::log_devices();
    user_programs::log_embedded();
    if let Err(e) = env::init() {
        fail("environments", &e);
    }
    net::boot::start(&cmdline);

    #[cfg(feature = "qemu-tests")]
    if let Some(kind) = cmdline.value("ktest.crash") {
        ktest::crash::trigger(kind);
        exit(ExitCode::TestsFailed);
    }
    #[cfg(feature = "qemu-tests")]
    ktest::runner::run(
        cmdline.value("ktest.filter"),
        cmdline.value("ktest.exclude"),
    );

    #[cfg(not(feature = "qemu-tests"))]
    {
        if cmdline.flag("exo.probe") {
            info!("exo: boot complete, exiting as requested");
            exit(ExitCode::Success);
        }
        info!("exo: boot complete");
        let arg = cmdline
            .value("exo.arg")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        env::boot::run_first(cmdline.value("exo.init").unwrap_or("init"), arg);
        if cmdline.flag("exo.exit") {
            info!("exo: exiting as requested");
            exit(ExitCode::Success);
        }
        info!("exo: idling (Ctrl-A X quits QEMU)");
        loop {
            irq::idle();
        }
    }
}

fn banner(boot: &BootInfo, cmdline: &CmdLine<'_>, mem: &mm::MemoryReport, f: &time::Frequencies) {
    let mib = |b: u64| b >> 20;
    info!(
        "exo {VERSION} booting ({:?}), command line: \"{}\"",
        boot.loader,
        cmdline.as_str()
    );
    info!("memory map:");
    for r in boot.memory.regions() {
        info!(
            "    [{:#014x}-{:#014x}) {:>6} KiB {}",
            r.start,
            r.end,
            (r.end - r.start) >> 10,
            r.kind
        );
    }
    info!(
        "memory: {} MiB usable, {} frames ({} free), direct map {} MiB, heap {} KiB, PML4 at {:#x}",
        mib(mem.usable_bytes),
        mem.frames_total,
        mem.frames_free,
        mib(mem.direct_map_bytes),
        mem.heap_bytes >> 10,
        mem.pml4_phys
    );
    let (id, version) = arch::apic::id_and_version();
    info!(
        "timer: local APIC {id} (version {version:#x}) timer input {}.{:03} MHz, tick {} Hz; TSC {}.{:03} MHz",
        f.apic_timer_hz / 1_000_000,
        (f.apic_timer_hz / 1000) % 1000,
        f.tick_hz,
        f.tsc_hz / 1_000_000,
        (f.tsc_hz / 1000) % 1000
    );
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crash::panic(info)
}
