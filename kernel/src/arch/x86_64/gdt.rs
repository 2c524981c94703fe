//! Global descriptor table, task-state segment and the interrupt stacks.
//!
//! Selector layout (fixed; the syscall/sysret MSRs in `syscall.rs` rely on it):
//! 0x08 kernel code, 0x10 kernel data, 0x18 user data, 0x20 user code, 0x28 TSS.
//!
//! Every interrupt and exception runs on an IST stack (see `idt.rs` for the
//! assignment) because the kernel's Rust code uses the red zone: an interrupt
//! pushed onto the interrupted ring-0 stack would clobber it.

use core::cell::UnsafeCell;

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

use super::stack::GuardedStack;

/// IST slot (1-based, as in the IDT gate) of the double-fault stack.
pub const IST_DOUBLE_FAULT: u16 = 1;
/// IST slot of the NMI stack.
pub const IST_NMI: u16 = 2;
/// IST slot of the machine-check stack.
pub const IST_MACHINE_CHECK: u16 = 3;
/// IST slot shared by all other exceptions.
pub const IST_EXCEPTION: u16 = 4;
/// IST slot of device interrupts.
pub const IST_IRQ: u16 = 5;

const IST_STACK_SIZE: usize = 32 * 1024;

static DOUBLE_FAULT_STACK: GuardedStack<IST_STACK_SIZE> = GuardedStack::new();
static NMI_STACK: GuardedStack<IST_STACK_SIZE> = GuardedStack::new();
static MACHINE_CHECK_STACK: GuardedStack<IST_STACK_SIZE> = GuardedStack::new();
static EXCEPTION_STACK: GuardedStack<IST_STACK_SIZE> = GuardedStack::new();
static IRQ_STACK: GuardedStack<IST_STACK_SIZE> = GuardedStack::new();

/// A statically allocated kernel stack: name, guard page, usable range.
#[derive(Clone, Copy, Debug)]
pub struct StaticStack {
    pub name: &'static str,
    pub guard_page: u64,
    pub bottom: u64,
    pub top: u64,
}

/// Number of statically allocated stacks.
pub const STATIC_STACKS: usize = 7;

/// All statically allocated stacks (boot stack, IST stacks, system-call
/// stack).
pub fn static_stacks() -> [StaticStack; STATIC_STACKS] {
    fn entry<const N: usize>(name: &'static str, s: &'static GuardedStack<N>) -> StaticStack {
        StaticStack {
            name,
            guard_page: s.guard_page(),
            bottom: s.bottom(),
            top: s.top(),
        }
    }
    [
        entry("boot", &super::boot::BOOT_STACK),
        entry("ist-double-fault", &DOUBLE_FAULT_STACK),
        entry("ist-nmi", &NMI_STACK),
        entry("ist-machine-check", &MACHINE_CHECK_STACK),
        entry("ist-exception", &EXCEPTION_STACK),
        entry("ist-irq", &IRQ_STACK),
        entry("syscall", &super::syscall::SYSCALL_STACK),
    ]
}

/// The TSS. Written in `init` before it is loaded and by `set_kernel_stack`
/// (RSP0) during boot; otherwise only the CPU reads it.
struct TssCell(UnsafeCell<TaskStateSegment>);

// SAFETY: single CPU; the TSS is written only in `init` (before `ltr`) and
// in `set_kernel_stack`, both with interrupts disabled.
unsafe impl Sync for TssCell {}

static TSS: TssCell = TssCell(UnsafeCell::new(TaskStateSegment::new()));

/// Segment selectors of the kernel GDT.
#[derive(Clone, Copy, Debug)]
pub struct Selectors {
    pub kernel_code: SegmentSelector,
    pub kernel_data: SegmentSelector,
    pub user_data: SegmentSelector,
    pub user_code: SegmentSelector,
    pub tss: SegmentSelector,
}

static GDT: Once<(GlobalDescriptorTable<8>, Selectors)> = Once::new();

/// Builds and loads the GDT and TSS and reloads the segment registers.
pub fn init() {
    let tss_ptr = TSS.0.get();
    // SAFETY: called once during early boot with interrupts off; nothing else
    // references the TSS yet.
    let tss = unsafe { &mut *tss_ptr };
    tss.interrupt_stack_table[usize::from(IST_DOUBLE_FAULT - 1)] =
        VirtAddr::new(DOUBLE_FAULT_STACK.top());
    tss.interrupt_stack_table[usize::from(IST_NMI - 1)] = VirtAddr::new(NMI_STACK.top());
    tss.interrupt_stack_table[usize::from(IST_MACHINE_CHECK - 1)] =
        VirtAddr::new(MACHINE_CHECK_STACK.top());
    tss.interrupt_stack_table[usize::from(IST_EXCEPTION - 1)] =
        VirtAddr::new(EXCEPTION_STACK.top());
    tss.interrupt_stack_table[usize::from(IST_IRQ - 1)] = VirtAddr::new(IRQ_STACK.top());

    let (gdt, sel) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::empty();
        let kernel_code = gdt.append(Descriptor::kernel_code_segment());
        let kernel_data = gdt.append(Descriptor::kernel_data_segment());
        let user_data = gdt.append(Descriptor::user_data_segment());
        let user_code = gdt.append(Descriptor::user_code_segment());
        // SAFETY: the TSS is a static that lives forever and is not moved.
        let tss = gdt.append(unsafe { Descriptor::tss_segment_unchecked(tss_ptr) });
        (
            gdt,
            Selectors {
                kernel_code,
                kernel_data,
                user_data,
                user_code,
                tss,
            },
        )
    });
    gdt.load();
    // SAFETY: the selectors index valid descriptors of the GDT just loaded;
    // the TSS descriptor is available (not busy) because it was just created.
    unsafe {
        CS::set_reg(sel.kernel_code);
        DS::set_reg(sel.kernel_data);
        ES::set_reg(sel.kernel_data);
        SS::set_reg(sel.kernel_data);
        load_tss(sel.tss);
    }
}

/// The selectors of the loaded GDT (panics before `init`).
pub fn selectors() -> Selectors {
    GDT.get().expect("gdt::init has not run").1
}

/// Sets RSP0, the stack the CPU switches to on an entry from ring 3 through
/// a gate without an IST slot. Every gate has one, so this is a safety net:
/// it points at the system-call stack.
pub fn set_kernel_stack(top: u64) {
    // SAFETY: interrupts are disabled in the kernel; the CPU reads RSP0 only
    // on a privilege change, which cannot happen while this runs.
    let tss = unsafe { &mut *TSS.0.get() };
    tss.privilege_stack_table[0] = VirtAddr::new(top);
}
