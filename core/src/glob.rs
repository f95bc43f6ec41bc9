//! Which nodes a per-node rule applies to: an exact id or a glob (`web-*`, `db-?`).
//!
//! One small type shared by every rule keyed by node (central schedules, threshold overrides),
//! so they all match the same way: `*` is any run of characters (also none), `?` exactly one;
//! matching is case-sensitive, like node ids. Wraps the `wildmatch` crate.

use core::fmt;

use wildmatch::WildMatch;

/// A node id pattern. `web-1` matches only `web-1`; `web-*` every id starting `web-`; `*` all.
#[derive(Clone)]
pub struct NodeMatch {
    pattern: String,
    glob: WildMatch,
}

/// Why a pattern is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeMatchError {
    /// Empty, longer than a node id may be, or containing whitespace or control characters.
    #[error(
        "a node pattern is 1–64 bytes without spaces or control characters (e.g. web-* or db-1)"
    )]
    Invalid,
}

impl NodeMatch {
    /// Parses a pattern.
    pub fn new(pattern: &str) -> Result<Self, NodeMatchError> {
        let bad = |c: char| c.is_whitespace() || c.is_control();
        if pattern.is_empty() || pattern.len() > crate::id::MAX_ID_LEN || pattern.chars().any(bad) {
            return Err(NodeMatchError::Invalid);
        }
        Ok(Self {
            pattern: pattern.to_owned(),
            glob: WildMatch::new(pattern),
        })
    }

    /// Whether `node` matches.
    pub fn matches(&self, node: &str) -> bool {
        self.glob.matches(node)
    }

    /// Whether the pattern has a wildcard (`*`, `?`), i.e. may match more than one id.
    pub fn is_glob(&self) -> bool {
        self.pattern.contains(['*', '?'])
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }
}

impl fmt::Debug for NodeMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NodeMatch").field(&self.pattern).finish()
    }
}

impl fmt::Display for NodeMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

impl PartialEq for NodeMatch {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for NodeMatch {}

impl core::str::FromStr for NodeMatch {
    type Err = NodeMatchError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_ids_and_globs_match_as_documented() {
        let exact = NodeMatch::new("web-1").unwrap();
        assert!(exact.matches("web-1"));
        assert!(!exact.matches("web-10"));
        let glob = NodeMatch::new("web-*").unwrap();
        assert!(glob.matches("web-1") && glob.matches("web-") && glob.matches("web-a.b"));
        assert!(!glob.matches("Web-1") && !glob.matches("db-1"));
        let one = NodeMatch::new("db-?").unwrap();
        assert!(one.matches("db-1") && !one.matches("db-12"));
        assert!(NodeMatch::new("*").unwrap().matches("anything"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert_eq!(NodeMatch::new(""), Err(NodeMatchError::Invalid));
        assert_eq!(NodeMatch::new("a b"), Err(NodeMatchError::Invalid));
        assert_eq!(
            NodeMatch::new(&"x".repeat(65)),
            Err(NodeMatchError::Invalid)
        );
        assert_eq!(NodeMatch::new("a\n"), Err(NodeMatchError::Invalid));
    }
}
