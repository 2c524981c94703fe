//! The engines compared by `bench-jit`, each prepared once per handler and
//! then run repeatedly on the same frame: exo's interpreter and JIT, rbpf's
//! interpreter and JIT, and Linux's eBPF JIT (see [`crate::linux_bpf`]).

use ash_compiler::host::ExecBuffer;
use ash_compiler::runtime::{self, RegionMemory};
use ash_compiler::{CompileOptions, compile_verified};
use filter_lang::bpf::helpers::NoHelpers;
use filter_lang::bpf::interp::{Interpreter, PacketSetup, RunOptions, packet_memory};
use filter_lang::bpf::spec::packet_ctx;
use filter_lang::bpf::verifier::{Verified, verify};
use filter_lang::bpf::{Insn, Program, ProgramSpec, ProgramType};

/// exo's reference interpreter over its virtual packet layout.
pub struct ExoInterp<'p> {
    interp: Interpreter,
    setup: PacketSetup<'p>,
}

impl<'p> ExoInterp<'p> {
    pub fn new(words: &[Insn], packet: &'p [u8]) -> Result<ExoInterp<'p>, String> {
        let interp = Interpreter::new(words).map_err(|(pc, e)| format!("{pc}: {e}"))?;
        Ok(ExoInterp {
            interp,
            setup: packet_memory(packet, 0, Vec::new()),
        })
    }

    pub fn run(&mut self) -> u64 {
        let ctx = self.setup.ctx;
        match self.interp.run(
            &mut self.setup.mem,
            &mut NoHelpers,
            [ctx, 0],
            RunOptions::default(),
        ) {
            Ok(o) => o.r0,
            Err(e) => panic!("exo interpreter: {e}"),
        }
    }
}

/// Verifies `words` as a `packet` handler (no regions, no counters).
pub fn verify_packet(words: &[Insn]) -> Result<Verified, String> {
    let p = Program::from_words(words.to_vec());
    verify(&p, &ProgramSpec::new(ProgramType::Packet)).map_err(|e| format!("{e}"))
}

/// exo's JIT: compiled code in an [`ExecBuffer`], a real context.
pub struct ExoJit {
    code: ExecBuffer,
    calls_helpers: bool,
    ctx: Box<[u8; packet_ctx::SIZE]>,
    mem: RegionMemory<'static>,
}

impl ExoJit {
    /// Verifies and compiles `words` (with the verifier's facts, the
    /// kernel's path); the context points at `packet`, which
    /// must outlive the value and not move.
    pub fn new(words: &[Insn], packet: &[u8]) -> Result<ExoJit, String> {
        Self::with_options(words, packet, CompileOptions::default())
    }

    /// As [`ExoJit::new`], with compile options (e.g. constant blinding).
    pub fn with_options(
        words: &[Insn],
        packet: &[u8],
        opts: CompileOptions,
    ) -> Result<ExoJit, String> {
        let v = verify_packet(words)?;
        let c = compile_verified(words, &v, &opts).map_err(|e| e.to_string())?;
        let code = ExecBuffer::new(&c).map_err(|e| e.to_string())?;
        let mut ctx = Box::new([0u8; packet_ctx::SIZE]);
        let data = packet.as_ptr() as u64;
        ctx[0..8].copy_from_slice(&data.to_le_bytes());
        ctx[8..16].copy_from_slice(&(data + packet.len() as u64).to_le_bytes());
        ctx[16..20].copy_from_slice(&(packet.len() as u32).to_le_bytes());
        Ok(ExoJit {
            calls_helpers: c.calls_helpers,
            code,
            ctx,
            // SAFETY: no regions: the handlers call no helpers.
            mem: unsafe { RegionMemory::new(&[]) },
        })
    }

    pub fn run(&mut self) -> u64 {
        let ctx = self.ctx.as_ptr() as u64;
        if !self.calls_helpers {
            // SAFETY: as below, and the program calls no helpers.
            return unsafe { runtime::call_without_helpers(self.code.entry(), ctx, 0) };
        }
        // SAFETY: the program was verified as a packet handler and the
        // context describes the live packet given to `new`.
        match unsafe { runtime::call(self.code.entry(), ctx, 0, &mut NoHelpers, &mut self.mem) } {
            Ok(r0) => r0,
            Err(f) => panic!("exo JIT: helper fault {f:?}"),
        }
    }
}

/// The bytes rbpf takes.
fn rbpf_bytes(words: &[Insn]) -> &'static [u8] {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_bytes()).collect();
    Box::leak(bytes.into_boxed_slice())
}

/// The metadata buffer rbpf passes as r1: data and data_end at 0 and 8,
/// the layout of exo's context.
fn mbuff(packet: &[u8]) -> &'static mut [u8] {
    let mut m = vec![0u8; 16];
    let data = packet.as_ptr() as u64;
    m[0..8].copy_from_slice(&data.to_le_bytes());
    m[8..16].copy_from_slice(&(data + packet.len() as u64).to_le_bytes());
    Box::leak(m.into_boxed_slice())
}

/// rbpf's interpreter (`EbpfVmMbuff`: r1 = metadata buffer).
pub struct RbpfInterp {
    vm: rbpf::EbpfVmMbuff<'static>,
    packet: &'static [u8],
    mbuff: &'static [u8],
}

impl RbpfInterp {
    pub fn new(words: &[Insn], packet: &[u8]) -> Result<RbpfInterp, String> {
        let vm = rbpf::EbpfVmMbuff::new(Some(rbpf_bytes(words))).map_err(|e| e.to_string())?;
        let packet: &'static [u8] = Box::leak(packet.to_vec().into_boxed_slice());
        Ok(RbpfInterp {
            vm,
            packet,
            mbuff: mbuff(packet),
        })
    }

    pub fn run(&mut self) -> u64 {
        match self.vm.execute_program(self.packet, self.mbuff) {
            Ok(r0) => r0,
            Err(e) => panic!("rbpf interpreter: {e}"),
        }
    }
}

/// rbpf's x86-64 JIT.
pub struct RbpfJit {
    vm: rbpf::EbpfVmMbuff<'static>,
    packet: *mut u8,
    len: usize,
    mbuff: *mut u8,
}

impl RbpfJit {
    pub fn new(words: &[Insn], packet: &[u8]) -> Result<RbpfJit, String> {
        let mut vm = rbpf::EbpfVmMbuff::new(Some(rbpf_bytes(words))).map_err(|e| e.to_string())?;
        vm.jit_compile().map_err(|e| e.to_string())?;
        let packet: &'static mut [u8] = Box::leak(packet.to_vec().into_boxed_slice());
        let mb = mbuff(packet);
        Ok(RbpfJit {
            vm,
            len: packet.len(),
            packet: packet.as_mut_ptr(),
            mbuff: mb.as_mut_ptr(),
        })
    }

    pub fn run(&mut self) -> u64 {
        // SAFETY: both buffers were leaked in `new` and are only reached
        // through these pointers; each call's borrows end with the call.
        let (mem, mbuff) = unsafe {
            (
                std::slice::from_raw_parts_mut(self.packet, self.len),
                std::slice::from_raw_parts_mut(self.mbuff, 16),
            )
        };
        // SAFETY: the program is a verified handler reading only the packet
        // and its stack; the mbuff holds valid packet bounds.
        match unsafe { self.vm.execute_program_jit(mem, mbuff) } {
            Ok(r0) => r0,
            Err(e) => panic!("rbpf JIT: {e}"),
        }
    }

    /// Time to JIT-compile `words` with rbpf, in ns (one compile).
    pub fn compile_ns(words: &[Insn]) -> Result<f64, String> {
        let mut vm = rbpf::EbpfVmMbuff::new(Some(rbpf_bytes(words))).map_err(|e| e.to_string())?;
        let t = std::time::Instant::now();
        vm.jit_compile().map_err(|e| e.to_string())?;
        Ok(t.elapsed().as_nanos() as f64)
    }
}
