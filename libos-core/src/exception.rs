//! Exceptions, delivered by the kernel straight to the environment's own
//! handler. A handler sees the vector, error code and fault address, can
//! read and change every register of the interrupted code (including RIP,
//! RSP and RFLAGS), and decides whether the code resumes or the program
//! exits. Resumption happens in user mode (see [`crate::upcall`]).

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use exo_abi::UpcallFrame;

use crate::upcall::SavedRegs;

/// General-purpose registers of the interrupted code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    Rax,
    Rbx,
    Rcx,
    Rdx,
    Rsi,
    Rdi,
    Rbp,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
}

/// An exception being handled.
pub struct Fault<'a> {
    frame: &'a mut UpcallFrame,
    regs: &'a mut SavedRegs,
}

/// What happens after the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Resume the interrupted code (at the possibly changed RIP).
    Resume,
    /// End the program with this code.
    Exit(u64),
}

/// An exception handler.
pub type Handler = fn(&mut Fault<'_>) -> Resolution;

impl<'a> Fault<'a> {
    pub fn new(frame: &'a mut UpcallFrame, regs: &'a mut SavedRegs) -> Fault<'a> {
        Fault { frame, regs }
    }

    /// The exception vector (0 #DE, 3 #BP, 6 #UD, 7 #NM, 13 #GP, 14 #PF, 17 #AC, ...).
    pub fn vector(&self) -> u8 {
        self.frame.args[0] as u8
    }

    /// The error code the CPU pushed (0 for vectors without one).
    pub fn error(&self) -> u64 {
        self.frame.args[1]
    }

    /// The faulting address (page faults).
    pub fn addr(&self) -> u64 {
        self.frame.args[2]
    }

    pub fn rip(&self) -> u64 {
        self.frame.rip
    }

    pub fn set_rip(&mut self, rip: u64) {
        self.frame.rip = rip;
    }

    pub fn rsp(&self) -> u64 {
        self.frame.rsp
    }

    pub fn rflags(&self) -> u64 {
        self.frame.rflags
    }

    pub fn set_rflags(&mut self, flags: u64) {
        self.frame.rflags = flags;
    }

    fn slot(&mut self, r: Reg) -> &mut u64 {
        match r {
            Reg::Rax => &mut self.frame.rax,
            Reg::Rdi => &mut self.frame.rdi,
            Reg::Rsi => &mut self.frame.rsi,
            Reg::Rdx => &mut self.frame.rdx,
            Reg::R10 => &mut self.frame.r10,
            Reg::R8 => &mut self.frame.r8,
            Reg::R9 => &mut self.frame.r9,
            Reg::Rbx => &mut self.regs.rbx,
            Reg::Rcx => &mut self.regs.rcx,
            Reg::Rbp => &mut self.regs.rbp,
            Reg::R11 => &mut self.regs.r11,
            Reg::R12 => &mut self.regs.r12,
            Reg::R13 => &mut self.regs.r13,
            Reg::R14 => &mut self.regs.r14,
            Reg::R15 => &mut self.regs.r15,
        }
    }

    /// A register of the interrupted code.
    pub fn reg(&mut self, r: Reg) -> u64 {
        *self.slot(r)
    }

    /// Changes a register of the interrupted code.
    pub fn set_reg(&mut self, r: Reg, v: u64) {
        *self.slot(r) = v;
    }
}

static HANDLER: AtomicUsize = AtomicUsize::new(0);
static DELIVERED: AtomicU64 = AtomicU64::new(0);

/// Installs the exception handler.
pub fn set_handler(h: Handler) {
    HANDLER.store(h as usize, Ordering::Release);
}

/// Exceptions delivered to this program so far.
pub fn delivered() -> u64 {
    DELIVERED.load(Ordering::Relaxed)
}

/// Exit code of the default handler: `UNHANDLED_BASE + vector`.
pub const UNHANDLED_BASE: u64 = 0x100;

/// Runs the installed handler (or the default: report and exit).
pub fn dispatch(fault: &mut Fault<'_>) {
    DELIVERED.fetch_add(1, Ordering::Relaxed);
    let handler = crate::upcall::exception_handler_from(HANDLER.load(Ordering::Acquire));
    let resolution = match handler {
        Some(h) => h(fault),
        None => {
            crate::println!(
                "unhandled exception {} (error {:#x}, address {:#x}) at {:#x}",
                fault.vector(),
                fault.error(),
                fault.addr(),
                fault.rip()
            );
            Resolution::Exit(UNHANDLED_BASE + u64::from(fault.vector()))
        }
    };
    if let Resolution::Exit(code) = resolution {
        crate::api::exit(code);
    }
}
