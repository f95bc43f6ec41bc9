//! Reading the store: the event history and one probe's readings, on a read-only connection
//! (safe while a monitor writes: WAL readers see the last committed batch).

use std::path::Path;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

/// Most rows one query returns (the newest are kept).
pub(crate) const MAX_ROWS: usize = 100_000;

/// One event of the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct HistoryRow {
    /// When the monitor decided, RFC 3339 UTC.
    pub(crate) time: String,
    /// The same, in ms since the Unix epoch.
    pub(crate) at_ms: i64,
    /// The node.
    pub(crate) node: String,
    /// The event's name.
    pub(crate) event: String,
    /// The event's full JSON record (docs/events.md).
    pub(crate) record: serde_json::Value,
}

/// One reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReadingRow {
    /// Receive time of the beat that carried it, RFC 3339 UTC.
    pub(crate) time: String,
    /// The same, in ms since the Unix epoch.
    pub(crate) at_ms: i64,
    /// The node.
    pub(crate) node: String,
    /// The probe.
    pub(crate) probe: String,
    /// The value.
    pub(crate) value: f64,
    /// Nagios status the sender attached: 0 ok, 1 warning, 2 critical, 3 unknown.
    pub(crate) status: u8,
}

/// Events since `since_ms` (of `node`, if given), oldest first, at most [`MAX_ROWS`] (newest).
pub(crate) fn history(
    conn: &Connection,
    node: Option<&str>,
    since_ms: i64,
) -> rusqlite::Result<Vec<HistoryRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at_ms, node, event, record FROM (
             SELECT id, at_ms, node, event, record FROM events
             WHERE at_ms >= ?1 AND (?2 IS NULL OR node = ?2)
             ORDER BY at_ms DESC, id DESC LIMIT ?3)
         ORDER BY at_ms, id",
    )?;
    let rows = stmt.query_map(params![since_ms, node, MAX_ROWS as i64], |r| {
        let at_ms: i64 = r.get(0)?;
        let record: String = r.get(3)?;
        Ok(HistoryRow {
            time: super::rfc3339(at_ms),
            at_ms,
            node: r.get(1)?,
            event: r.get(2)?,
            record: serde_json::from_str(&record).unwrap_or(serde_json::Value::String(record)),
        })
    })?;
    rows.collect()
}

/// Readings of `node`'s `probe` since `since_ms`, oldest first, at most [`MAX_ROWS`] (newest).
pub(crate) fn readings(
    conn: &Connection,
    node: &str,
    probe: &str,
    since_ms: i64,
) -> rusqlite::Result<Vec<ReadingRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at_ms, value, status FROM (
             SELECT r.at_ms, r.value, r.status FROM readings r JOIN series s ON s.id = r.series
             WHERE s.node = ?1 AND s.probe = ?2 AND r.at_ms >= ?3
             ORDER BY r.at_ms DESC LIMIT ?4)
         ORDER BY at_ms",
    )?;
    let rows = stmt.query_map(params![node, probe, since_ms, MAX_ROWS as i64], |r| {
        let at_ms: i64 = r.get(0)?;
        Ok(ReadingRow {
            time: super::rfc3339(at_ms),
            at_ms,
            node: node.to_owned(),
            probe: probe.to_owned(),
            value: r.get(1)?,
            status: u8::try_from(r.get::<_, i64>(2)?).unwrap_or(3),
        })
    })?;
    rows.collect()
}

/// The probes stored for `node` (for "no such probe" hints).
pub(crate) fn probes(conn: &Connection, node: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT probe FROM series WHERE node = ?1 ORDER BY probe")?;
    let rows = stmt.query_map([node], |r| r.get(0))?;
    rows.collect()
}

/// Opens `path` read-only and runs `f` on it (HTTP handlers call this in a blocking task).
pub(crate) fn with_db<T>(
    path: &Path,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> anyhow::Result<T> {
    let conn = super::open_read_only(path)?;
    Ok(f(&conn)?)
}
