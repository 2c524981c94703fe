//! `exo-filter match 'EXPR' FILE.pcap`: prints how many packets of an
//! Ethernet capture the pcap-filter expression selects (tcpdump's meaning;
//! equal to `tcpdump -r FILE 'EXPR' | wc -l` for the supported syntax).
//!
//! The expression runs as it would in the kernel: as filter atoms when it
//! has an atom form, otherwise as a `packet` handler that is verified and
//! then run by the reference interpreter. `--explain` prints the compiled
//! form to stderr first.

use filter_lang::bpf::Program;
use filter_lang::bpf::interp::Interpreter;
use filter_lang::bpf::spec::{ProgramSpec, ProgramType};
use filter_lang::bpf::verifier::verify;
use filter_lang::pcap::{Target, bytecode, compile};
use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A pcap-filter expression, e.g. 'udp and dst port 53'.
    expr: String,
    /// An Ethernet capture in pcap format.
    file: PathBuf,
    /// Print the compiled filters or bytecode to stderr.
    #[arg(long)]
    explain: bool,
}

/// Why `match` could not count.
#[derive(Debug)]
pub enum MatchError {
    /// The expression does not parse or compile (rendered with a caret).
    Expr(String),
    /// The compiled handler was rejected by the verifier (a compiler bug).
    Verifier(String),
    /// The capture cannot be opened or read.
    Capture(PathBuf, String),
    /// The capture's link type is not Ethernet.
    LinkType(PathBuf, DataLink),
    /// The handler faulted at run time (a compiler or verifier bug).
    Run(usize, String),
}

impl fmt::Display for MatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchError::Expr(r) => write!(f, "{r}"),
            MatchError::Verifier(e) => {
                write!(f, "internal error: the compiled handler was rejected: {e}")
            }
            MatchError::Capture(p, e) => write!(f, "{}: {e}", p.display()),
            MatchError::LinkType(p, l) => write!(
                f,
                "{}: link type {l:?} is not supported; capture on an Ethernet interface",
                p.display()
            ),
            MatchError::Run(i, e) => {
                write!(f, "internal error: handler fault on packet {}: {e}", i + 1)
            }
        }
    }
}

enum Engine {
    Atoms(Vec<filter_lang::filter::Filter>),
    Bytecode(Interpreter),
}

fn prepare(a: &Args) -> Result<Engine, MatchError> {
    let c = compile(&a.expr).map_err(|e| MatchError::Expr(e.render(&a.expr)))?;
    match c.target {
        Target::Atoms(filters) => {
            if a.explain {
                eprintln!("{} filter(s):", filters.len());
                for f in &filters {
                    eprintln!("  {f}");
                }
            }
            Ok(Engine::Atoms(filters))
        }
        Target::Bytecode { ops, reason } => {
            let words = bytecode::encode(&ops);
            let prog = Program::from_words(words.clone());
            verify(&prog, &ProgramSpec::new(ProgramType::Packet))
                .map_err(|e| MatchError::Verifier(e.to_string()))?;
            if a.explain {
                eprintln!(
                    "bytecode ({} instructions; no atom form because {reason}):",
                    ops.len()
                );
                for (i, op) in ops.iter().enumerate() {
                    eprintln!("  {i:4}: {op:?}");
                }
            }
            let interp = Interpreter::new(&words)
                .map_err(|(pc, e)| MatchError::Verifier(format!("insn {pc}: {e}")))?;
            Ok(Engine::Bytecode(interp))
        }
    }
}

/// Counts the packets of `a.file` that `a.expr` selects.
pub fn count(a: &Args) -> Result<u64, MatchError> {
    let engine = prepare(a)?;
    let cap = |e: &dyn fmt::Display| MatchError::Capture(a.file.clone(), e.to_string());
    let file = std::fs::File::open(&a.file).map_err(|e| cap(&e))?;
    let mut reader = PcapReader::new(file).map_err(|e| cap(&e))?;
    let link = reader.header().datalink;
    if link != DataLink::ETHERNET {
        return Err(MatchError::LinkType(a.file.clone(), link));
    }
    let mut n = 0u64;
    let mut i = 0usize;
    while let Some(p) = reader.next_packet() {
        let p = p.map_err(|e| cap(&e))?;
        let hit = match &engine {
            Engine::Atoms(fs) => fs.iter().any(|f| f.matches(&p.data)),
            Engine::Bytecode(interp) => {
                // The kernel never hands a handler more than 65,535 bytes.
                let data = &p.data[..p.data.len().min(65_535)];
                bytecode::run(interp, data, p.orig_len)
                    .map_err(|e| MatchError::Run(i, e.to_string()))?
            }
        };
        n += hit as u64;
        i += 1;
    }
    Ok(n)
}

pub fn run(a: Args) -> ExitCode {
    match count(&a) {
        Ok(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("exo-filter match: {e}");
            ExitCode::from(2)
        }
    }
}
