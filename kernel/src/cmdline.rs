//! Kernel command-line options: whitespace-separated `key=value` or `flag`
//! words. The first word may be the kernel's path (QEMU `-kernel` passes it);
//! it is ignored like every unknown word.
//!
//! Known options: `loglevel=off|error|warn|info|debug|trace`,
//! `exo.probe` (print the banner and exit: the KVM probe boot),
//! `exo.exit` (exit after boot instead of idling),
//! `exo.init=PROGRAM` (the first environment; default `init`),
//! `ktest.filter=SUBSTRING`, `ktest.exclude=SUBSTRING`, `ktest.crash=KIND`
//! (test builds).

/// A parsed view of the command line.
#[derive(Clone, Copy, Debug)]
pub struct CmdLine<'a>(&'a str);

impl<'a> CmdLine<'a> {
    pub fn new(line: &'a str) -> CmdLine<'a> {
        CmdLine(line)
    }

    /// Value of `key=value` (the last one wins).
    pub fn value(&self, key: &str) -> Option<&'a str> {
        self.0
            .split_ascii_whitespace()
            .filter_map(|w| w.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .next_back()
    }

    /// Whether the bare word `flag` is present.
    pub fn flag(&self, flag: &str) -> bool {
        self.0.split_ascii_whitespace().any(|w| w == flag)
    }

    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

crate::kernel_test! {
    fn cmdline_values_and_flags() {
        let c = CmdLine::new("/boot/kernel.elf loglevel=debug exo.probe ktest.filter=mm:: loglevel=warn");
        ensure_eq!(c.value("loglevel"), Some("warn"));
        ensure_eq!(c.value("ktest.filter"), Some("mm::"));
        ensure_eq!(c.value("missing"), None);
        ensure!(c.flag("exo.probe"), "flag not found");
        ensure!(!c.flag("exo"), "prefix of a flag matched");
        Ok(())
    }
}
