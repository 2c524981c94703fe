//! Symbolizes kernel addresses in serial output using the kernel ELF's
//! symbol table (function symbols, demangled).

use std::path::Path;

use object::{Object, ObjectSymbol, SymbolKind};

use crate::error::{Error, Result, io};

/// Function symbols of one ELF, sorted by address.
pub struct Symbolizer {
    symbols: Vec<(u64, u64, String)>,
}

impl Symbolizer {
    /// Loads the function symbols of `elf`.
    pub fn load(elf: &Path) -> Result<Symbolizer> {
        let data = std::fs::read(elf).map_err(io(format!("reading {}", elf.display())))?;
        let file = object::File::parse(&*data).map_err(|e| {
            Error::BadImage(format!("{} is not a readable ELF: {e}", elf.display()))
        })?;
        let mut symbols: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
            .filter_map(|s| {
                let name = s.name().ok()?;
                Some((
                    s.address(),
                    s.size(),
                    format!("{:#}", rustc_demangle::demangle(name)),
                ))
            })
            .collect();
        symbols.sort_by_key(|s| s.0);
        Ok(Symbolizer { symbols })
    }

    /// A symbolizer over given `(address, size, name)` symbols.
    #[cfg(test)]
    pub fn from_symbols(mut symbols: Vec<(u64, u64, String)>) -> Symbolizer {
        symbols.sort_by_key(|s| s.0);
        Symbolizer { symbols }
    }

    /// `name+0xoff` for `addr`, if it falls inside a known function.
    pub fn resolve(&self, addr: u64) -> Option<String> {
        let idx = self
            .symbols
            .partition_point(|s| s.0 <= addr)
            .checked_sub(1)?;
        let (start, size, name) = &self.symbols[idx];
        let off = addr - start;
        (off < (*size).max(1)).then(|| format!("{name}+{off:#x}"))
    }

    /// For a crash-report line with a code address (`rip=0x...` or a
    /// backtrace entry `#N 0x...`), the symbol of that address.
    pub fn annotate(&self, line: &str) -> Option<String> {
        let addr = crash_line_address(line)?;
        // Return addresses point after the call; look up the call itself.
        let lookup = if line.trim_start().starts_with('#') && !line.contains("#0 ") {
            addr - 1
        } else {
            addr
        };
        self.resolve(lookup)
    }
}

/// The code address on a crash-report line, if it has one.
pub fn crash_line_address(line: &str) -> Option<u64> {
    let t = line.trim();
    let hex = if let Some(rest) = t.strip_prefix("rip=") {
        rest.split_whitespace().next()?
    } else if t.starts_with('#') {
        t.split_whitespace().nth(1)?
    } else {
        return None;
    };
    u64::from_str_radix(hex.strip_prefix("0x")?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_found_on_rip_and_backtrace_lines() {
        assert_eq!(
            crash_line_address("rip=0xffffffff80101234 cs=0x8"),
            Some(0xffffffff80101234)
        );
        assert_eq!(
            crash_line_address("  #3 0x0000000000401000"),
            Some(0x401000)
        );
        assert_eq!(crash_line_address("rax=0x1"), None);
        assert_eq!(crash_line_address("  #3 garbage"), None);
    }

    #[test]
    fn resolve_uses_symbol_bounds() {
        let s = Symbolizer {
            symbols: vec![(0x1000, 0x10, "a".into()), (0x2000, 0x20, "b".into())],
        };
        assert_eq!(s.resolve(0x1004).as_deref(), Some("a+0x4"));
        assert_eq!(s.resolve(0x1010), None);
        assert_eq!(s.resolve(0x201f).as_deref(), Some("b+0x1f"));
        assert_eq!(s.resolve(0xfff), None);
    }
}
