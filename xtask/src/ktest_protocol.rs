//! Parser for the kernel's test protocol (`kernel/src/ktest/runner.rs`).

/// One protocol line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Plan(usize),
    Start(String),
    Ok { name: String, micros: u64 },
    Fail { name: String, reason: String },
    Panic(String),
    Done { passed: usize, failed: usize },
}

/// Parses a serial line; `None` for anything that is not a protocol line.
pub fn parse(line: &str) -> Option<Event> {
    let rest = line.trim_end().strip_prefix("KTEST ")?;
    let (word, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    match word {
        "plan" => rest.trim().parse().ok().map(Event::Plan),
        "start" => Some(Event::Start(rest.trim().to_string())),
        "ok" => {
            let (name, micros) = rest.rsplit_once(' ')?;
            Some(Event::Ok {
                name: name.to_string(),
                micros: micros.parse().ok()?,
            })
        }
        "fail" => {
            let (name, reason) = rest.split_once(' ').unwrap_or((rest, "no reason given"));
            Some(Event::Fail {
                name: name.to_string(),
                reason: reason.to_string(),
            })
        }
        "panic" => Some(Event::Panic(rest.trim().to_string())),
        "done" => {
            // "<p> passed, <f> failed"
            let mut it = rest.split_whitespace();
            let passed = it.next()?.parse().ok()?;
            let failed = it.nth(1)?.parse().ok()?;
            Some(Event::Done { passed, failed })
        }
        _ => None,
    }
}

/// Accumulated state of a test boot.
#[derive(Debug, Default)]
pub struct Progress {
    pub plan: Option<usize>,
    /// `(name, None)` while running; `Some(Ok(micros))` or `Some(Err(reason))`.
    pub tests: Vec<(String, Option<Result<u64, String>>)>,
    pub done: Option<(usize, usize)>,
}

impl Progress {
    /// Applies one event.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Plan(n) => self.plan = Some(n),
            Event::Start(name) => self.tests.push((name, None)),
            Event::Ok { name, micros } => self.finish(&name, Ok(micros)),
            Event::Fail { name, reason } => self.finish(&name, Err(reason)),
            Event::Panic(name) => self.finish(&name, Err("panicked (see the panic report)".into())),
            Event::Done { passed, failed } => self.done = Some((passed, failed)),
        }
    }

    fn finish(&mut self, name: &str, result: Result<u64, String>) {
        match self
            .tests
            .iter_mut()
            .rev()
            .find(|(n, r)| n == name && r.is_none())
        {
            Some(entry) => entry.1 = Some(result),
            None => self.tests.push((
                name.to_string(),
                Some(Err(format!("result without start: {result:?}"))),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lines_parse() {
        assert_eq!(parse("KTEST plan 12"), Some(Event::Plan(12)));
        assert_eq!(
            parse("KTEST start mm::frame::x"),
            Some(Event::Start("mm::frame::x".into()))
        );
        assert_eq!(
            parse("KTEST ok mm::frame::x 1234"),
            Some(Event::Ok {
                name: "mm::frame::x".into(),
                micros: 1234
            })
        );
        assert_eq!(
            parse("KTEST fail a::b src/a.rs:3: x != y"),
            Some(Event::Fail {
                name: "a::b".into(),
                reason: "src/a.rs:3: x != y".into()
            })
        );
        assert_eq!(
            parse("KTEST done 3 passed, 1 failed"),
            Some(Event::Done {
                passed: 3,
                failed: 1
            })
        );
        assert_eq!(parse("[ 0.1] INFO KTEST plan 3"), None);
        assert_eq!(parse("KTEST plan lots"), None);
    }

    #[test]
    fn progress_tracks_running_and_finished_tests() {
        let mut p = Progress::default();
        p.apply(Event::Plan(2));
        p.apply(Event::Start("a".into()));
        assert_eq!(p.tests[0].1, None);
        p.apply(Event::Ok {
            name: "a".into(),
            micros: 5,
        });
        p.apply(Event::Start("b".into()));
        p.apply(Event::Panic("b".into()));
        assert_eq!(p.tests[0].1, Some(Ok(5)));
        assert!(matches!(p.tests[1].1, Some(Err(_))));
    }
}
