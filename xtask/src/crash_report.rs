//! Parser for the kernel's crash and panic reports (`kernel/src/crash.rs`).

use std::collections::HashMap;

/// Start marker of an exception report.
pub const CRASH_START: &str = "=== EXO CRASH REPORT ===";
/// Start marker of a panic report.
pub const PANIC_START: &str = "=== EXO PANIC ===";
/// End marker of both.
pub const END: &str = "=== END CRASH REPORT ===";

/// A parsed report.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub panic: bool,
    /// `key=value` fields (vector, name, error, rip, cr2, registers...).
    pub fields: HashMap<String, String>,
    /// `note:` lines.
    pub notes: Vec<String>,
    /// Panic message line (`panic at ...`).
    pub message: Option<String>,
    /// Backtrace addresses.
    pub frames: Vec<u64>,
    /// Whether the end marker was seen.
    pub complete: bool,
}

/// Registers every exception report must show.
pub const REQUIRED_FIELDS: [&str; 22] = [
    "vector", "name", "error", "rip", "cs", "rflags", "rsp", "ss", "cr2", "cr3", "rax", "rbx",
    "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r15",
];

/// Extracts the first report from serial `lines`.
pub fn parse(lines: &[String]) -> Option<Report> {
    let start = lines
        .iter()
        .position(|l| l.contains(CRASH_START) || l.contains(PANIC_START))?;
    let mut r = Report {
        panic: lines[start].contains(PANIC_START),
        ..Report::default()
    };
    let mut in_backtrace = false;
    for line in &lines[start + 1..] {
        let t = line.trim();
        if t.contains(END) {
            r.complete = true;
            break;
        }
        if let Some(note) = t.strip_prefix("note: ") {
            r.notes.push(note.to_string());
        } else if t.starts_with("panic") {
            r.message = Some(t.to_string());
        } else if t == "backtrace:" {
            in_backtrace = true;
        } else if in_backtrace {
            if let Some(addr) = crate::symbols::crash_line_address(t) {
                r.frames.push(addr);
            }
        } else {
            let t = t.strip_prefix("exception: ").unwrap_or(t);
            for word in t.split_whitespace() {
                if let Some((k, v)) = word.split_once('=') {
                    r.fields.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn exception_report_fields_are_extracted() {
        let r = parse(&lines(
            "boot\n=== EXO CRASH REPORT ===\nexception: vector=14 name=#PF (page fault) error=0x2\n\
             rip=0xffffffff80100000 cs=0x8\ncr2=0x00000000deadb000 cr3=0x1000\nnote: cr2 is in a guard page\n\
             backtrace:\n  #0 0xffffffff80100000\n  #1 0xffffffff80100010\n=== END CRASH REPORT ===\n",
        ))
        .expect("report found");
        assert!(!r.panic && r.complete);
        assert_eq!(r.fields["vector"], "14");
        assert_eq!(r.fields["name"], "#PF");
        assert_eq!(r.fields["cr2"], "0x00000000deadb000");
        assert_eq!(r.frames, vec![0xffffffff80100000, 0xffffffff80100010]);
        assert_eq!(r.notes, vec!["cr2 is in a guard page".to_string()]);
    }

    #[test]
    fn truncated_and_missing_reports_are_detected() {
        assert!(parse(&lines("just a boot log\n")).is_none());
        let r =
            parse(&lines("=== EXO PANIC ===\npanic at a.rs:1:1: boom\n")).expect("report found");
        assert!(r.panic && !r.complete);
        assert_eq!(r.message.as_deref(), Some("panic at a.rs:1:1: boom"));
    }
}
