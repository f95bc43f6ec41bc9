//! The fleet-sized views of the node list: `/v1/summary` (counts by node state and by probe
//! state) and the bounded, filtered, sorted page of `/v1/nodes?state=&match=&sort=&limit=&offset=`
//! that the status page polls.
//!
//! Both are computed in the HTTP handler from one merged [`Snapshot`], never in the Detector.
//! A page answer is bounded by [`MAX_LIMIT`] rows whatever the fleet's size; it carries the
//! number of matching nodes and the summary, so a client learns every count from one request.

use std::fmt;

use hb_core::probe::ProbeStatus;
use hb_core::{NodeMatch, NodeState};
use serde::Serialize;

use crate::http::views::{IsolationSnapshot, NodeView, Snapshot, WitnessSnapshot, state_rank};

/// Rows in a page when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: usize = 100;

/// The most rows one page may ask for; a larger `limit` is refused (400), not clamped, so a
/// client never silently gets less than it asked for.
pub(crate) const MAX_LIMIT: usize = 1000;

/// Probe states in the order the summary lists them.
const PROBE_STATES: [ProbeStatus; 4] = [
    ProbeStatus::Ok,
    ProbeStatus::Warning,
    ProbeStatus::Error,
    ProbeStatus::Unknown,
];

/// The query parameters `/v1/nodes` understands.
const PARAMS: &str = "state, match, sort, limit, offset";

/// How a page is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Sort {
    /// Down (and any state that needs a person) first, then by id.
    #[default]
    State,
    /// By id only.
    Id,
}

/// Which ids match: a glob with `*`/`?`, otherwise a substring (both case-sensitive, as ids).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum IdFilter {
    /// `web-*`, `db-?`.
    Glob(NodeMatch),
    /// `web-9` matches `web-9`, `web-90`, `aweb-9b`.
    Substring(String),
}

impl IdFilter {
    fn matches(&self, id: &str) -> bool {
        match self {
            Self::Glob(g) => g.matches(id),
            Self::Substring(s) => id.contains(s.as_str()),
        }
    }
}

/// A parsed `/v1/nodes?…` query.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PageQuery {
    /// Only nodes in these states (`None`: every state).
    pub(crate) states: Option<Vec<NodeState>>,
    /// Only ids that match.
    pub(crate) id: Option<IdFilter>,
    /// The order.
    pub(crate) sort: Sort,
    /// At most this many rows (1–[`MAX_LIMIT`]).
    pub(crate) limit: usize,
    /// Rows skipped first.
    pub(crate) offset: usize,
}

/// Why a query is refused (the handler answers 400 with this text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QueryError(String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn refuse(msg: impl Into<String>) -> QueryError {
    QueryError(msg.into())
}

impl PageQuery {
    /// Parses the decoded `(name, value)` pairs of a query string. Unknown or repeated
    /// parameters, unknown states, bad patterns and out-of-range numbers are refused.
    pub(crate) fn parse(pairs: &[(String, String)]) -> Result<Self, QueryError> {
        let mut q = Self {
            states: None,
            id: None,
            sort: Sort::State,
            limit: DEFAULT_LIMIT,
            offset: 0,
        };
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            if seen.contains(&name.as_str()) {
                return Err(refuse(format!("parameter `{name}` given twice")));
            }
            seen.push(name);
            match name.as_str() {
                "state" => q.states = parse_states(value)?,
                "match" => q.id = parse_match(value)?,
                "sort" => {
                    q.sort = match value.as_str() {
                        "state" => Sort::State,
                        "id" => Sort::Id,
                        other => {
                            return Err(refuse(format!("sort: `{other}` is not `state` or `id`")));
                        }
                    }
                }
                "limit" => {
                    q.limit = parse_number("limit", value)?;
                    if !(1..=MAX_LIMIT).contains(&q.limit) {
                        return Err(refuse(format!(
                            "limit: {} is out of range; give 1–{MAX_LIMIT} and page with offset",
                            q.limit
                        )));
                    }
                }
                "offset" => q.offset = parse_number("offset", value)?,
                other => {
                    return Err(refuse(format!(
                        "unknown parameter `{other}`; /v1/nodes takes {PARAMS}"
                    )));
                }
            }
        }
        Ok(q)
    }
}

fn parse_states(value: &str) -> Result<Option<Vec<NodeState>>, QueryError> {
    if value.is_empty() {
        return Ok(None);
    }
    let known = || {
        NodeState::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    value
        .split(',')
        .map(|name| {
            NodeState::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| refuse(format!("state: `{name}` is not one of {}", known())))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn parse_match(value: &str) -> Result<Option<IdFilter>, QueryError> {
    if value.is_empty() {
        return Ok(None);
    }
    if value.contains(['*', '?']) {
        return NodeMatch::new(value)
            .map(|g| Some(IdFilter::Glob(g)))
            .map_err(|e| refuse(format!("match: {e}")));
    }
    if value.len() > hb_core::MAX_ID_LEN {
        return Err(refuse(format!(
            "match: longer than a node id may be ({} bytes)",
            hb_core::MAX_ID_LEN
        )));
    }
    Ok(Some(IdFilter::Substring(value.to_owned())))
}

fn parse_number(name: &str, value: &str) -> Result<usize, QueryError> {
    value
        .parse()
        .map_err(|_| refuse(format!("{name}: `{value}` is not a whole number")))
}

/// Counts by node state and by probe state.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct Summary {
    /// Every node the monitor knows.
    pub(crate) nodes: usize,
    /// Nodes by state, every state listed (zeros too), down first.
    pub(crate) states: Vec<Count>,
    /// Probes of every node by state (`ok`, `warning`, `error`, `unknown`).
    pub(crate) probes: Vec<Count>,
    /// The isolation guard: whether the monitor thinks it is cut off.
    pub(crate) isolation: IsolationSnapshot,
    /// Witness mode (`--witness`): the quorum, whether this monitor is in fallback, each
    /// witness; `null` when off.
    pub(crate) witnesses: Option<WitnessSnapshot>,
}

/// One count of a [`Summary`].
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct Count {
    /// The state's name.
    pub(crate) state: &'static str,
    /// How many.
    pub(crate) count: usize,
}

/// One page of `/v1/nodes?…`.
#[derive(Debug, Serialize)]
pub(crate) struct Page<'a> {
    /// The whole fleet's counts.
    pub(crate) summary: Summary,
    /// Nodes that match the filter (all pages).
    pub(crate) matching: usize,
    /// Rows skipped.
    pub(crate) offset: usize,
    /// The most rows asked for.
    pub(crate) limit: usize,
    /// At most `limit` matching nodes, in order.
    pub(crate) nodes: Vec<&'a NodeView>,
}

/// The counts of `snap`.
pub(crate) fn summary(snap: &Snapshot) -> Summary {
    let mut states: Vec<NodeState> = NodeState::ALL.to_vec();
    states.sort_by_key(|s| state_rank(*s));
    let states = states
        .into_iter()
        .map(|s| Count {
            state: s.as_str(),
            count: snap.nodes.iter().filter(|n| n.state == s.as_str()).count(),
        })
        .collect();
    let mut probes: Vec<Count> = PROBE_STATES
        .iter()
        .map(|s| Count {
            state: s.as_str(),
            count: 0,
        })
        .collect();
    for p in snap.nodes.iter().flat_map(|n| &n.probes) {
        if let Some(c) = probes.iter_mut().find(|c| c.state == p.state) {
            c.count += 1;
        }
    }
    Summary {
        nodes: snap.nodes.len(),
        states,
        probes,
        isolation: snap.isolation.clone(),
        witnesses: snap.witnesses.clone(),
    }
}

/// The page of `snap` that `q` asks for.
pub(crate) fn page<'a>(snap: &'a Snapshot, q: &PageQuery) -> Page<'a> {
    let mut rows: Vec<&NodeView> = snap
        .nodes
        .iter()
        .filter(|n| {
            q.states
                .as_ref()
                .is_none_or(|want| n.node_state().is_some_and(|s| want.contains(&s)))
        })
        .filter(|n| q.id.as_ref().is_none_or(|f| f.matches(&n.id)))
        .collect();
    let matching = rows.len();
    match q.sort {
        // A state no rank knows sorts first: better shown than hidden.
        Sort::State => rows.sort_unstable_by(|a, b| {
            let rank = |n: &NodeView| n.node_state().map_or(0, state_rank);
            rank(a).cmp(&rank(b)).then_with(|| a.id.cmp(&b.id))
        }),
        Sort::Id => rows.sort_unstable_by(|a, b| a.id.cmp(&b.id)),
    }
    let nodes = rows.into_iter().skip(q.offset).take(q.limit).collect();
    Page {
        summary: summary(snap),
        matching,
        offset: q.offset,
        limit: q.limit,
        nodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node as the API would show it, built from JSON so that fields added to the views
    /// later need no edit here.
    fn node(id: &str, state: &str, probes: &[&str]) -> NodeView {
        let probes: Vec<_> = probes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                serde_json::json!({"name": format!("p{i}"), "state": s,
                    "state_since": "2026-12-01T10:00:00.000Z", "value": 1.0,
                    "last_reading": "2026-12-01T10:00:00.000Z"})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "id": id, "state": state, "addr": "127.0.0.1:1", "incarnation": 1, "seq": 1,
            "last_seen": "2026-12-01T10:00:00.000Z", "last_seen_unix": 0.0, "silence_ms": 0,
            "state_since": "2026-12-01T10:00:00.000Z", "value": null, "threshold": 3.0,
            "period_ms": 1000, "beats": 1, "lost": 0, "loss": 0.0, "duplicates": 0,
            "reordered": 0, "probes": probes
        }))
        .expect("a valid NodeView")
    }

    fn snap() -> Snapshot {
        Snapshot {
            nodes: vec![
                node("web-1", "alive", &["ok", "warning"]),
                node("web-10", "down", &["error"]),
                node("db-1", "left", &[]),
                node("web-2", "down", &["unknown"]),
                node("db-2", "alive", &["ok"]),
            ],
            ..Snapshot::default()
        }
    }

    fn pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    fn ids(q: &str) -> (usize, Vec<String>) {
        let q = PageQuery::parse(&pairs(q)).expect("a valid query");
        let s = snap();
        let p = page(&s, &q);
        (p.matching, p.nodes.iter().map(|n| n.id.clone()).collect())
    }

    #[test]
    fn down_nodes_come_first_then_by_id() {
        let (matching, ids) = ids("");
        assert_eq!(matching, 5);
        assert_eq!(ids, ["web-10", "web-2", "db-2", "web-1", "db-1"]);
        assert_eq!(
            ids_of("sort=id"),
            ["db-1", "db-2", "web-1", "web-10", "web-2"]
        );
    }

    fn ids_of(q: &str) -> Vec<String> {
        ids(q).1
    }

    #[test]
    fn filters_by_state_substring_and_glob() {
        assert_eq!(
            ids("state=down"),
            (2, vec!["web-10".into(), "web-2".into()])
        );
        assert_eq!(ids_of("state=left,alive"), ["db-2", "web-1", "db-1"]);
        assert_eq!(
            ids("match=web-1"),
            (2, vec!["web-10".into(), "web-1".into()])
        );
        assert_eq!(ids_of("match=*-1"), ["web-1", "db-1"]);
        assert_eq!(ids_of("match=db-?&state=alive"), ["db-2"]);
        assert_eq!(ids("match=nothing"), (0, vec![]));
    }

    #[test]
    fn a_page_is_bounded_and_counts_every_match() {
        assert_eq!(ids("limit=2"), (5, vec!["web-10".into(), "web-2".into()]));
        assert_eq!(ids("limit=2&offset=4"), (5, vec!["db-1".into()]));
        assert_eq!(ids("offset=99"), (5, vec![]));
        let q = PageQuery::parse(&[]).expect("empty query");
        assert_eq!(q.limit, DEFAULT_LIMIT);
    }

    #[test]
    fn summary_counts_nodes_and_probes_by_state_down_first() {
        let s = summary(&snap());
        assert_eq!(s.nodes, 5);
        let states: Vec<_> = s.states.iter().map(|c| (c.state, c.count)).collect();
        assert_eq!(
            states,
            [("down", 2), ("unreachable", 0), ("alive", 2), ("left", 1)]
        );
        let probes: Vec<_> = s.probes.iter().map(|c| (c.state, c.count)).collect();
        assert_eq!(
            probes,
            [("ok", 2), ("warning", 1), ("error", 1), ("unknown", 1)]
        );
    }

    #[test]
    fn bad_parameters_are_refused_with_the_reason() {
        for (q, says) in [
            ("limit=0", "limit: 0 is out of range; give 1–1000"),
            ("limit=1001", "limit: 1001 is out of range"),
            ("limit=ten", "limit: `ten` is not a whole number"),
            ("offset=-1", "offset: `-1` is not a whole number"),
            (
                "state=dead",
                "state: `dead` is not one of alive, down, left",
            ),
            ("sort=age", "sort: `age` is not `state` or `id`"),
            ("match=a b*", "match: a node pattern is 1–64 bytes"),
            (
                "page=2",
                "unknown parameter `page`; /v1/nodes takes state, match",
            ),
            ("limit=1&limit=2", "parameter `limit` given twice"),
        ] {
            let err = PageQuery::parse(&pairs(q)).expect_err(q).to_string();
            assert!(err.starts_with(says), "{q}: {err}");
        }
        let long = format!("match={}", "x".repeat(hb_core::MAX_ID_LEN + 1));
        assert!(PageQuery::parse(&pairs(&long)).is_err());
        assert_eq!(ids_of(&format!("limit={MAX_LIMIT}")).len(), 5);
    }
}
