//! `exo-filter jit-dump FILE [--type TYPE] [--blind SEED]`: compiles a
//! handler with exo's JIT and prints each BPF instruction followed by the
//! x86-64 instructions it became (offset, bytes, Intel syntax), with the
//! prologues and the unwind stub between them. With `--type` the program is
//! verified first (and not compiled when rejected).

use crate::input::{fail, load_program};
use ash_compiler::{CompileOptions, compile};
use filter_lang::bpf::spec::{ProgramSpec, ProgramType};
use filter_lang::bpf::verifier::verify;
use filter_lang::bpf::{Insn, Op};
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Program: `.s` assembly or `.bin` bytecode.
    file: PathBuf,
    /// Verify as this program type first: `packet` or `memory:SIZE`.
    #[arg(long = "type", value_name = "TYPE")]
    ty: Option<ProgramType>,
    /// Compile with constant blinding, keys seeded by SEED.
    #[arg(long, value_name = "SEED")]
    blind: Option<u64>,
}

/// Appends the x86-64 instructions in `code[start..end]` to `out`.
fn disasm(out: &mut String, code: &[u8], start: usize, end: usize) {
    let mut dec = Decoder::with_ip(64, &code[start..end], start as u64, DecoderOptions::NONE);
    let mut fmt = IntelFormatter::new();
    fmt.options_mut().set_space_after_operand_separator(true);
    let mut text = String::new();
    while dec.can_decode() {
        let i = dec.decode();
        text.clear();
        fmt.format(&i, &mut text);
        let at = i.ip() as usize;
        let bytes: String = code[at..at + i.len()]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(out, "    {at:05x}  {bytes:<32} {text}");
    }
}

/// The listing: BPF instructions interleaved with their native code.
fn listing(words: &[Insn], c: &ash_compiler::Compiled) -> String {
    let mut out = String::new();
    let end_of_body = *c.insn_offsets.last().unwrap_or(&0);
    // Boundaries where a BPF instruction's code ends: the next instruction's
    // start, or the next function's prologue.
    let mut marks: Vec<usize> = c.functions.iter().map(|&(_, off)| off).collect();
    let mut pcs = Vec::new();
    let mut pc = 0;
    while pc < words.len() {
        let op = Op::decode(words, pc);
        let n = op.as_ref().map_or(1, |o| o.words());
        pcs.push((pc, op));
        marks.push(c.insn_offsets[pc]);
        pc += n;
    }
    marks.push(end_of_body);
    marks.sort_unstable();
    marks.dedup();
    let next_mark = |at: usize| {
        marks
            .iter()
            .copied()
            .find(|&m| m > at)
            .unwrap_or(end_of_body)
    };
    for (pc, op) in pcs {
        if let Some(&(_, off)) = c.functions.iter().find(|&&(start, _)| start == pc) {
            let label = if off == 0 {
                "entry".to_string()
            } else {
                format!("function at word {pc}")
            };
            let _ = writeln!(out, "; {label}: prologue");
            disasm(&mut out, &c.code, off, c.insn_offsets[pc]);
        }
        let text = op.map_or_else(|e| format!(".word  # {e}"), |o| o.to_string());
        let _ = writeln!(out, "{pc:4}: {text}");
        let start = c.insn_offsets[pc];
        disasm(&mut out, &c.code, start, next_mark(start).max(start));
    }
    if end_of_body < c.code.len() {
        let _ = writeln!(out, "; after the body: trap, unwind stub and epilogue");
        disasm(&mut out, &c.code, end_of_body, c.code.len());
    }
    for r in &c.relocations {
        let _ = writeln!(
            out,
            "; relocation {:?} {:?} at {:#x}",
            r.kind, r.target, r.offset
        );
    }
    out
}

pub fn run(a: Args) -> ExitCode {
    let prog = match load_program(&a.file) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if let Some(ty) = a.ty
        && let Err(e) = verify(&prog, &ProgramSpec::new(ty))
    {
        println!("rejected: {e}");
        return ExitCode::from(1);
    }
    let opts = CompileOptions { blinding: a.blind };
    let c = match compile(&prog.words, &opts) {
        Ok(c) => c,
        Err(e) => return fail(format_args!("{}: {e}", a.file.display())),
    };
    println!(
        "; {}: {} words -> {} bytes of x86-64 ({} layout passes{}), native stack at most {} bytes{}",
        a.file.display(),
        prog.words.len(),
        c.code.len(),
        c.passes,
        if a.blind.is_some() {
            ", constants blinded"
        } else {
            ""
        },
        c.max_native_stack,
        if a.ty.is_some() {
            ""
        } else {
            "; not verified (pass --type to verify)"
        }
    );
    print!("{}", listing(&prog.words, &c));
    ExitCode::SUCCESS
}
