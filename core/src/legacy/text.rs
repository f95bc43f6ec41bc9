//! Line-oriented text beats matched by a regex (Circus's watchdog: `pid;timestamp`).

use core::net::SocketAddr;

use regex::Regex;

use super::beat::{LegacyBeat, LegacyError};
use crate::id::NodeId;

/// Circus's watchdog message format.
pub const CIRCUS_REGEX: &str = r"^(?P<pid>.*);(?P<timestamp>.*)$";

/// A compiled text beat format.
#[derive(Clone, Debug)]
pub struct TextFormat {
    regex: Regex,
    has_id: bool,
    has_pid: bool,
}

impl TextFormat {
    /// Compiles `pattern`. Named groups used: `id` (node id), `pid` (process id, also the id
    /// when there is no `id` group). Neither: the node is the source IP.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()?;
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        Ok(Self {
            has_id: names.contains(&"id"),
            has_pid: names.contains(&"pid"),
            regex,
        })
    }

    /// The regex.
    pub fn pattern(&self) -> &str {
        self.regex.as_str()
    }

    /// Decodes one datagram from `from` (one trailing `\n` or `\r\n` is allowed).
    pub fn parse(&self, payload: &[u8], from: SocketAddr) -> Result<LegacyBeat, LegacyError> {
        let text = core::str::from_utf8(payload).map_err(|_| LegacyError::NotUtf8)?;
        let line = text.strip_suffix('\n').unwrap_or(text);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let caps = self.regex.captures(line).ok_or(LegacyError::NoMatch)?;
        let pid_text = caps.name("pid").map(|m| m.as_str().trim());
        let id = match (self.has_id, self.has_pid) {
            (true, _) => caps.name("id").map(|m| m.as_str().trim().to_string()),
            (false, true) => pid_text.map(str::to_string),
            _ => None,
        }
        .unwrap_or_else(|| from.ip().to_string());
        let mut beat = LegacyBeat::new(NodeId::new(&id)?);
        beat.pid = pid_text.and_then(|p| p.parse().ok());
        Ok(beat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> SocketAddr {
        "192.0.2.7:9".parse().unwrap()
    }

    #[test]
    fn circus_lines_name_the_node_by_pid() {
        let f = TextFormat::new(CIRCUS_REGEX).unwrap();
        let b = f.parse(b"4242;1700000000.5\n", from()).unwrap();
        assert_eq!((b.node.as_str(), b.pid), ("4242", Some(4242)));
        assert_eq!(f.parse(b"no separator", from()), Err(LegacyError::NoMatch));
        assert_eq!(f.parse(&[0xff, b';'], from()), Err(LegacyError::NotUtf8));
        assert!(matches!(f.parse(b";123", from()), Err(LegacyError::Id(_))));
    }

    #[test]
    fn id_group_wins_and_no_group_means_source_ip() {
        let f = TextFormat::new(r"^(?P<id>\w+) (?P<pid>\d+)$").unwrap();
        let b = f.parse(b"web 17\r\n", from()).unwrap();
        assert_eq!((b.node.as_str(), b.pid), ("web", Some(17)));
        let f = TextFormat::new(r"^alive$").unwrap();
        assert_eq!(
            f.parse(b"alive", from()).unwrap().node.as_str(),
            "192.0.2.7"
        );
    }

    #[test]
    fn invalid_regex_is_an_error() {
        assert!(TextFormat::new("(unclosed").is_err());
    }
}
