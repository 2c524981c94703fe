//! `exo-filter check FILE`: parses, compiles and verifies a handler-language
//! source file, a `.s` handler or a compiled object. Exit 0 with a summary
//! when everything is accepted; exit 1 with the error (line, column, the
//! source line, a caret, a hint) when the program is rejected; exit 2 when
//! the file cannot be read.

use crate::artifact::{AsmDecls, Kind, load_verified};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A handler-language file (`.exo`), a `.s` handler or an object.
    file: PathBuf,
    #[command(flatten)]
    decls: AsmDecls,
}

pub fn run(a: Args) -> ExitCode {
    let (l, proofs) = match load_verified(&a.file, &a.decls) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let what = match l.kind {
        Kind::Dsl => "source",
        Kind::Asm => "assembly",
        Kind::Object => "object",
    };
    println!("{}: {what} accepted", a.file.display());
    println!("  filters: {} (atoms)", l.object.filters.len());
    if let (Some(words), Some(v)) = (&l.object.filter_program, &proofs.filter_program) {
        println!(
            "  filter program: {} words, at most {} instructions per frame",
            words.len(),
            v.insn_bound
        );
    }
    match (&l.handler, &proofs.handler) {
        (Some(h), Some(v)) => {
            let words = h.program.as_ref().map_or(0, |p| p.words.len());
            println!(
                "  handler: {words} words, at most {} instructions per frame ({} analysed, {} states)",
                v.insn_bound, v.stats.processed, v.stats.states
            );
            for (i, r) in h.spec.regions.iter().enumerate() {
                println!(
                    "  region {}: {} bytes, {}",
                    h.region_names[i],
                    r.size,
                    if r.writable { "writable" } else { "read-only" }
                );
            }
            if !h.counter_names.is_empty() {
                println!("  counters: {}", h.counter_names.join(", "));
            }
        }
        (Some(_), None) => {
            println!(
                "  handler: WebAssembly module (run by the kernel's wasmi engine, not verified)"
            )
        }
        (None, _) => println!("  handler: none (frames go to the owner's ring)"),
    }
    ExitCode::SUCCESS
}
