//! `exo-filter conformance DIR [--engine interp|jit|all]`: each `*.data` vector
//! is assembled, verified as `memory:SIZE` (SIZE = its `-- mem` length),
//! run, and r0 compared with `-- result`; vectors with an error section must
//! be rejected or fail. One line per failure, then `N passed, M failed`.
//!
//! Engines are listed in [`Engine`]; `all` runs every engine on every
//! vector. Adding an engine: a variant, a name, and a `run_*` function.

use crate::input::fail;
use filter_lang::bpf::asm::assemble;
use filter_lang::bpf::helpers::ConformanceHelpers;
use filter_lang::bpf::interp::{Interpreter, RunOptions, buffer_memory};
use filter_lang::bpf::spec::{ProgramSpec, ProgramType};
use filter_lang::bpf::vector::{Vector, parse_vector};
use filter_lang::bpf::verifier::{Verified, verify};
use filter_lang::bpf::{Insn, Program};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    /// The reference interpreter.
    Interp,
    /// exo's x86-64 JIT (ash-compiler).
    Jit,
    /// Every engine.
    All,
}

/// An execution engine.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Engine {
    Interp,
    Jit,
}

impl Engine {
    const ALL: &'static [Engine] = &[Engine::Interp, Engine::Jit];

    fn name(self) -> &'static str {
        match self {
            Engine::Interp => "interp",
            Engine::Jit => "jit",
        }
    }

    /// Runs a verified program on `mem`; returns r0 or why it failed.
    fn run(self, words: &[Insn], v: &Verified, mem: &mut [u8]) -> Result<u64, String> {
        match self {
            Engine::Interp => run_interp(words, v, mem),
            Engine::Jit => run_jit(words, v, mem),
        }
    }
}

fn run_interp(words: &[Insn], v: &Verified, buf: &mut [u8]) -> Result<u64, String> {
    let interp = Interpreter::new(words).map_err(|(pc, e)| format!("insn {pc}: {e}"))?;
    let (mut mem, args) = buffer_memory(buf);
    let opts = RunOptions {
        // The verifier's bound: exceeding it would be a verifier bug.
        budget: Some(v.insn_bound),
        ..RunOptions::default()
    };
    interp
        .run(&mut mem, &mut ConformanceHelpers, args, opts)
        .map(|o| o.r0)
        .map_err(|e| e.to_string())
}

/// Compiles with exo's JIT (using the verifier's facts, as the kernel does)
/// and runs the code placed in W^X host memory, with r1/r2 = the buffer's
/// real address and length (0, 0 when empty).
fn run_jit(words: &[Insn], v: &Verified, buf: &mut [u8]) -> Result<u64, String> {
    use ash_compiler::runtime::{Region, RegionMemory};
    let c = ash_compiler::compile_verified(words, v, &ash_compiler::CompileOptions::default())
        .map_err(|e| e.to_string())?;
    let code = ash_compiler::host::ExecBuffer::new(&c).map_err(|e| e.to_string())?;
    let (addr, len) = match buf.len() {
        0 => (0, 0),
        n => (buf.as_mut_ptr() as u64, n),
    };
    let regions = [Region {
        start: addr,
        len,
        writable: true,
    }];
    // SAFETY: the region is `buf`, alive and not otherwise used during the run.
    let mut mem = unsafe { RegionMemory::new(&regions) };
    // SAFETY: the verifier accepted the program as `memory:len`, and r1/r2
    // describe exactly that buffer.
    unsafe { code.call(addr, len as u64, &mut ConformanceHelpers, &mut mem) }
        .map_err(|f| f.to_string())
}

#[derive(clap::Args)]
pub struct Args {
    /// Directory of `*.data` vectors.
    dir: PathBuf,
    /// Which engine(s) to run.
    #[arg(long, value_enum, default_value = "all")]
    engine: EngineArg,
}

/// The program of a vector: `-- asm` assembled, else `-- raw`.
fn program(v: &Vector) -> Result<Program, String> {
    match (&v.asm, &v.raw) {
        (Some(text), _) => assemble(text).map_err(|e| format!("assembly: {e}")),
        (None, Some(words)) => Ok(Program::from_words(words.clone())),
        (None, None) => Err("no program".into()),
    }
}

/// Checks one vector on one engine.
fn check(path: &Path, engine: Engine) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let v = parse_vector(&text).map_err(|e| e.to_string())?;
    let prog = match program(&v) {
        Ok(p) => p,
        Err(_) if v.error.is_some() => return Ok(()),
        Err(e) => return Err(e),
    };
    if let (Some(text), Some(raw)) = (&v.asm, &v.raw)
        && assemble(text).map(|p| p.words).as_ref() != Ok(raw)
    {
        return Err("`-- asm` does not assemble to `-- raw`".into());
    }
    let size = u32::try_from(v.mem.len()).map_err(|_| "memory too large".to_string())?;
    let spec = ProgramSpec::new(ProgramType::Memory { size });
    let verified = match (verify(&prog, &spec), &v.error) {
        (Ok(ok), _) => ok,
        (Err(_), Some(_)) => return Ok(()),
        (Err(e), None) => return Err(format!("rejected by the verifier: {e}")),
    };
    let mut mem = v.mem.clone();
    match (
        engine.run(&prog.words, &verified, &mut mem),
        v.error.as_ref(),
        v.result,
    ) {
        (Err(_), Some(_), _) => Ok(()),
        (Err(e), None, _) => Err(format!("run failed: {e}")),
        (Ok(r0), Some(err), _) => Err(format!("expected failure ({err}) but ran to r0 = {r0:#x}")),
        (Ok(r0), None, Some(want)) if r0 == want => Ok(()),
        (Ok(r0), None, want) => Err(format!(
            "r0 = {r0:#x}, expected {}",
            want.map_or("an error".into(), |w| format!("{w:#x}"))
        )),
    }
}

pub fn run(a: Args) -> ExitCode {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&a.dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "data"))
            .collect(),
        Err(e) => {
            return fail(format_args!(
                "{}: cannot read directory: {e}",
                a.dir.display()
            ));
        }
    };
    if files.is_empty() {
        return fail(format_args!("{}: no *.data vectors", a.dir.display()));
    }
    files.sort();
    let engines: &[Engine] = match a.engine {
        EngineArg::Interp => &[Engine::Interp],
        EngineArg::Jit => &[Engine::Jit],
        EngineArg::All => Engine::ALL,
    };
    let (mut passed, mut failed) = (0, 0);
    for f in &files {
        for &e in engines {
            match check(f, e) {
                Ok(()) => passed += 1,
                Err(msg) => {
                    failed += 1;
                    let name = f.file_name().map_or(f.display().to_string(), |n| {
                        n.to_string_lossy().into_owned()
                    });
                    println!("FAIL {name} [{}]: {msg}", e.name());
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
