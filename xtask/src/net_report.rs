//! The network report lines the kernel prints (`kernel/src/net/boot.rs`):
//! `NETSTAT`, `NETBIND` and `NETLAT`, each `TAG key=value ...`.

use std::collections::BTreeMap;

/// One parsed report line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportLine {
    pub fields: BTreeMap<String, String>,
}

impl ReportLine {
    /// Parses the part of `line` from `tag` on (`tag` followed by a space);
    /// `None` if the line has no such tag.
    pub fn parse(line: &str, tag: &str) -> Option<ReportLine> {
        let at = line.find(&format!("{tag} "))?;
        let fields = line[at + tag.len()..]
            .split_ascii_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(ReportLine { fields })
    }

    /// A numeric field, or an error naming it.
    pub fn num(&self, key: &str) -> Result<u64, String> {
        let v = self
            .fields
            .get(key)
            .ok_or_else(|| format!("the report has no `{key}` field: {:?}", self.fields))?;
        v.parse()
            .map_err(|_| format!("report field `{key}={v}` is not a number"))
    }

    /// A text field.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_parse_after_a_prefix() {
        let l = ReportLine::parse("[ 1.0] x NETSTAT rx_frames=12 truncated=3", "NETSTAT").unwrap();
        assert_eq!(l.num("rx_frames"), Ok(12));
        assert_eq!(l.num("truncated"), Ok(3));
        assert!(l.num("missing").is_err());
        assert!(ReportLine::parse("NETSTATS a=1", "NETSTAT").is_none());
        let b = ReportLine::parse("NETBIND id=0 name=udp_echo counter0=5", "NETBIND").unwrap();
        assert_eq!(b.text("name"), Some("udp_echo"));
    }
}
