//! The inputs the tests share: the example handler-language sources and
//! the committed captures, found relative to this crate.

use std::path::{Path, PathBuf};

/// One `examples/*.exo` file.
#[derive(Clone, Debug)]
pub struct Example {
    /// The file name (`udp_echo.exo`), as it goes into the source map.
    pub name: String,
    pub source: String,
}

fn workspace() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// `examples/`.
pub fn examples_dir() -> PathBuf {
    workspace().join("examples")
}

/// `filter-lang/tests/captures/`.
pub fn captures_dir() -> PathBuf {
    workspace().join("filter-lang/tests/captures")
}

/// Every `examples/*.exo`, sorted by name.
///
/// # Panics
/// When the directory or a file cannot be read (the tests need them).
pub fn examples() -> Vec<Example> {
    let dir = examples_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut out: Vec<Example> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|x| x == "exo"))
        .map(|p| Example {
            name: p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            source: std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The example called `name`.
///
/// # Panics
/// When there is no such example.
pub fn example(name: &str) -> Example {
    examples()
        .into_iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no example {name} in {}", examples_dir().display()))
}

/// The committed captures (`*.pcap`), sorted.
///
/// # Panics
/// When the directory cannot be read.
pub fn captures() -> Vec<PathBuf> {
    let dir = captures_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut out: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    out.sort();
    out
}
