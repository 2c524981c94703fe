//! Loading what `check`, `compile` and `run` work on, into one shape:
//! a handler-language source file (`.exo`, or any file that is neither of
//! the others), a `.s` assembly handler (its regions, counters and filters
//! given on the command line), or a compiled object (recognized by its
//! magic, whatever its name).

use crate::input::fail;
use filter_lang::bpf::Program;
use filter_lang::bpf::asm::assemble;
use filter_lang::bpf::spec::{ProgramSpec, ProgramType, RegionDecl};
use filter_lang::bpf::verifier::{Verified, verify};
use filter_lang::dsl;
use filter_lang::object::{self, HandlerCode, Object};
use filter_lang::pcap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Declarations for `.s` handlers (the handler language and objects carry
/// their own).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AsmDecls {
    /// `.s` only: an application region, in id order: `SIZE:rw` or
    /// `SIZE:ro` (repeatable).
    #[arg(long = "region", value_name = "SIZE:rw|ro", value_parser = parse_region)]
    pub regions: Vec<RegionDecl>,
    /// `.s` only: the number of per-handler counters.
    #[arg(long, default_value_t = 0)]
    pub counters: u32,
    /// `.s` only: a pcap-filter expression selecting the frames
    /// (repeatable; their disjunction).
    #[arg(long = "filter", value_name = "EXPR")]
    pub filters: Vec<String>,
}

/// Parses a `--region` argument: `SIZE:rw` or `SIZE:ro`.
pub fn parse_region(s: &str) -> Result<RegionDecl, String> {
    let (size, mode) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}`: expected SIZE:rw or SIZE:ro"))?;
    let size = size
        .parse()
        .map_err(|_| format!("`{size}`: region size must be a number of bytes"))?;
    let writable = match mode {
        "rw" => true,
        "ro" => false,
        m => return Err(format!("`{m}`: region mode must be rw or ro")),
    };
    Ok(RegionDecl { size, writable })
}

/// What kind of file was loaded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Dsl,
    Asm,
    Object,
}

/// A handler ready to verify and run.
#[derive(Clone, Debug)]
pub struct Handler {
    /// BPF bytecode with source spans, or `None` for a WebAssembly module.
    pub program: Option<Program>,
    pub spec: ProgramSpec,
    pub region_names: Vec<String>,
    pub counter_names: Vec<String>,
    /// The source file the spans refer to, when known.
    pub source_file: Option<String>,
}

/// A loaded file.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub kind: Kind,
    pub handler: Option<Handler>,
    /// The compiled object form (filters and filter program included).
    pub object: Object,
}

/// Why a file could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file cannot be read.
    Read(PathBuf, std::io::Error),
    /// The program is invalid (a rejection: exit 1); the text is the full
    /// report.
    Rejected(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read(p, e) => write!(f, "{}: cannot read: {e}", p.display()),
            LoadError::Rejected(r) => write!(f, "{r}"),
        }
    }
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Loads `path`.
fn load(path: &Path, decls: &AsmDecls) -> Result<Loaded, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::Read(path.into(), e))?;
    let shown = path.display();
    if bytes.starts_with(&object::MAGIC) {
        let obj = object::decode(&bytes)
            .map_err(|e| LoadError::Rejected(format!("{shown}: invalid object: {e}")))?;
        return Ok(from_object(obj));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| LoadError::Rejected(format!("{shown}: not UTF-8 text")))?;
    let file = path
        .file_name()
        .map_or_else(|| "source".into(), |f| f.to_string_lossy().into_owned());
    if path.extension().is_some_and(|e| e == "s") {
        let program = assemble(&text).map_err(|e| LoadError::Rejected(format!("{shown}: {e}")))?;
        let mut obj = Object::new(ProgramType::Packet);
        for expr in &decls.filters {
            let c = pcap::compile(expr)
                .map_err(|e| LoadError::Rejected(format!("--filter: {}", e.render(expr))))?;
            match c.target {
                pcap::Target::Atoms(fs) => obj.filters.extend(fs),
                pcap::Target::Bytecode { ops, .. } if obj.filter_program.is_none() => {
                    obj.filter_program = Some(pcap::bytecode::encode(&ops));
                }
                pcap::Target::Bytecode { .. } => {
                    return Err(LoadError::Rejected(format!(
                        "--filter {expr}: only one filter may need bytecode; combine them with `or`"
                    )));
                }
            }
        }
        obj.decls = Some(object::Decls {
            regions: decls.regions.clone(),
            counters: decls.counters,
        });
        obj.handler = Some(HandlerCode::Bpf(program.words.clone()));
        obj.source_map = Some(object::SourceMap {
            file,
            spans: program.spans.clone(),
        });
        let mut l = from_object(obj);
        l.kind = Kind::Asm;
        return Ok(l);
    }
    let c = dsl::compile(&text)
        .map_err(|e| LoadError::Rejected(format!("{shown}: {}", e.render(&text))))?;
    let mut l = from_object(c.object(&file));
    l.kind = Kind::Dsl;
    Ok(l)
}

fn from_object(obj: Object) -> Loaded {
    let handler = obj.handler.as_ref().map(|_| {
        let spec = obj.spec();
        let (region_names, counter_names) = match &obj.symbols {
            Some(s) => (s.regions.clone(), s.counters.clone()),
            None => (
                names("region", spec.regions.len()),
                names("counter", spec.counters as usize),
            ),
        };
        Handler {
            program: obj.handler_program(),
            spec,
            region_names,
            counter_names,
            source_file: obj.source_map.as_ref().map(|m| m.file.clone()),
        }
    });
    Loaded {
        kind: Kind::Object,
        handler,
        object: obj,
    }
}

/// What the verifier proved about a loaded file's programs.
pub struct Proofs {
    pub filter_program: Option<Verified>,
    pub handler: Option<Verified>,
}

/// Verifies the filter program and the BPF handler; the error is the
/// report to print (a rejection).
fn verify_loaded(l: &Loaded) -> Result<Proofs, String> {
    let filter_program = match &l.object.filter_program {
        Some(words) => Some(
            verify(
                &Program::from_words(words.clone()),
                &ProgramSpec::new(ProgramType::Packet),
            )
            .map_err(|e| format!("filter program rejected: {e}"))?,
        ),
        None => None,
    };
    let handler = match &l.handler {
        Some(Handler {
            program: Some(p),
            spec,
            source_file,
            ..
        }) => Some(verify(p, spec).map_err(|e| match source_file {
            Some(f) => format!("handler rejected: {e}\n  in {f}"),
            None => format!("handler rejected: {e}"),
        })?),
        _ => None,
    };
    Ok(Proofs {
        filter_program,
        handler,
    })
}

/// Loads and verifies `path` for a subcommand: a read failure is reported
/// as an error (exit 2); a rejection, at load or by the verifier, is
/// printed as the verdict (exit 1).
pub fn load_verified(path: &Path, decls: &AsmDecls) -> Result<(Loaded, Proofs), ExitCode> {
    let l = match load(path, decls) {
        Ok(l) => l,
        Err(e @ LoadError::Read(..)) => return Err(fail(e)),
        Err(LoadError::Rejected(r)) => {
            println!("{r}");
            return Err(ExitCode::from(1));
        }
    };
    match verify_loaded(&l) {
        Ok(p) => Ok((l, p)),
        Err(r) => {
            println!("{}: {r}", path.display());
            Err(ExitCode::from(1))
        }
    }
}
