//! The embedded store (`--db`): one SQLite file holding the node registry, the event history
//! and the readings time series, so the monitor survives restarts and can be asked about the
//! past (`hbnode history`, `hbnode readings`, `/v1/history`, `/v1/nodes/{id}/readings`).
//!
//! - **Opening** ([`open`]) checks the file is ours (`PRAGMA application_id`), refuses corrupt,
//!   foreign or newer files with a clear error (never touching them), takes an exclusive
//!   `flock` on the file so two monitors cannot share it, applies the versioned migrations
//!   (`PRAGMA user_version`) and switches to WAL, so readers never block the writer.
//! - **Writing** happens on one thread ([`writer`]) fed by a bounded queue: the Detector offers
//!   rows with `try_send` and never waits on disk; a full queue drops and counts rows; SQLite
//!   errors (read-only or full disk, a locked file) are counted and logged, rate-limited, and
//!   detection carries on.
//! - **Reading** ([`query`]) uses its own read-only connection, never the writer's.
//!
//! Times in the file are wall-clock milliseconds since the Unix epoch (`*_ms` columns).

pub(crate) mod feed;
pub(crate) mod plot;
pub(crate) mod query;
pub(crate) mod writer;

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use hb_core::detector::LinkEstimate;
use hb_core::probe::ProbeStatus;
use hb_core::{NodeId, NodeState, RestoredNode, RestoredProbe};

use crate::runtime::clock::Clock;
use rusqlite::{Connection, OpenFlags};

/// `PRAGMA application_id` of an hbnode store: "HBND".
pub(crate) const APPLICATION_ID: i32 = 0x4842_4e44;

/// The schema, one migration per version (`PRAGMA user_version` = how many were applied).
/// Append only: never edit a released migration.
const MIGRATIONS: &[&str] = &[
    // 1: registry, history, readings.
    "CREATE TABLE nodes (
        id TEXT PRIMARY KEY,
        detector INTEGER NOT NULL,
        addr TEXT NOT NULL,
        incarnation INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        state TEXT NOT NULL,
        state_since_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        period_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        node TEXT NOT NULL,
        event TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX events_at ON events (at_ms);
    CREATE INDEX events_node_at ON events (node, at_ms);
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        node TEXT NOT NULL,
        probe TEXT NOT NULL,
        UNIQUE (node, probe)
    );
    CREATE TABLE readings (
        series INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        value REAL NOT NULL,
        status INTEGER NOT NULL,
        PRIMARY KEY (series, at_ms)
    ) WITHOUT ROWID;",
    // 2: probe states (after hysteresis), so a restart keeps probes in warning or error.
    "CREATE TABLE probes (
        node TEXT NOT NULL,
        probe TEXT NOT NULL,
        status TEXT NOT NULL,
        since_ms INTEGER NOT NULL,
        value REAL,
        PRIMARY KEY (node, probe)
    ) WITHOUT ROWID;",
    // 3: the budget detector's link estimate of each node (postcard bytes of
    // `hb_core::detector::LinkEstimate`; NULL for other detectors), so a restart keeps what it
    // measured of every link instead of falling back to the prior.
    "ALTER TABLE nodes ADD COLUMN link BLOB;",
];

pub(crate) use crate::cli::store::DbPath;

/// The default store: `hbnode.db` in `$STATE_DIRECTORY` (systemd's `StateDirectory=`), else in
/// the user's state directory (`$XDG_STATE_HOME/hbnode`, `~/.local/state/hbnode`).
pub(crate) fn default_path() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY").filter(|d| !d.is_empty()) {
        // systemd joins several directories with ':'; the first is ours.
        let first = dir
            .to_string_lossy()
            .split(':')
            .next()
            .map(PathBuf::from)
            .unwrap_or_default();
        return Ok(first.join("hbnode.db"));
    }
    let dirs = directories::ProjectDirs::from("", "", "hbnode")
        .context("cannot find a home or state directory; pass --db PATH or --db none")?;
    let dir = dirs
        .state_dir()
        .context("this platform has no state directory; pass --db PATH or --db none")?;
    Ok(dir.join("hbnode.db"))
}

/// Resolves `--db` (unset: [`default_path`]); `None` means no store.
pub(crate) fn resolve(db: Option<&DbPath>) -> anyhow::Result<Option<PathBuf>> {
    match db {
        Some(DbPath::Off) => Ok(None),
        Some(DbPath::File(p)) => Ok(Some(p.clone())),
        None => default_path().map(Some),
    }
}

/// Wall-clock ms since the Unix epoch.
pub(crate) fn unix_ms(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(i64::MAX)
}

/// Wall-clock ms since the Unix epoch, `ago` before now.
pub(crate) fn ms_ago(ago: Duration) -> i64 {
    unix_ms(SystemTime::now().checked_sub(ago).unwrap_or(UNIX_EPOCH))
}

/// RFC 3339 UTC with milliseconds of a `*_ms` column.
pub(crate) fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

/// One node of the registry, as stored.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NodeRow {
    /// The node id.
    pub(crate) id: String,
    /// Which Detector held it: 0 the main one, i the i-th `--listener` detector group.
    pub(crate) detector: u32,
    /// Last known address.
    pub(crate) addr: SocketAddr,
    /// Incarnation.
    pub(crate) incarnation: u64,
    /// Highest sequence number seen.
    pub(crate) seq: u64,
    /// `alive`, `down` or `left`.
    pub(crate) state: NodeState,
    /// When it entered that state (wall clock, ms).
    pub(crate) state_since_ms: i64,
    /// Its latest fresh beat (wall clock, ms).
    pub(crate) last_seen_ms: i64,
    /// Advertised beat period, ms.
    pub(crate) period_ms: u64,
    /// The budget detector's estimate of the node's link (`None` for other detectors).
    pub(crate) link: Option<Box<LinkEstimate>>,
}

/// Most bytes a [`LinkEstimate`] takes in postcard (30 `f32`s, a varint `u32` and an `f32`: at
/// most 129).
const LINK_BYTES: usize = 160;

/// A link estimate as the store keeps it.
pub(crate) fn encode_link(e: &LinkEstimate) -> Option<Vec<u8>> {
    let mut buf = [0u8; LINK_BYTES];
    postcard::to_slice(e, &mut buf).ok().map(|b| b.to_vec())
}

/// A stored link estimate; `None` for bytes that are not one (or hold a non-finite count).
pub(crate) fn decode_link(bytes: &[u8]) -> Option<LinkEstimate> {
    let (e, rest): (LinkEstimate, _) = postcard::take_from_bytes(bytes).ok()?;
    let s = e.summary(Duration::from_secs(1));
    (rest.is_empty() && s.loss.is_finite() && s.mean_burst.is_finite()).then_some(e)
}

impl NodeRow {
    /// The core's view of this row, for `Monitor::restore`, its times placed on `clock`.
    pub(crate) fn restored(&self, clock: &Clock) -> Option<RestoredNode> {
        Some(RestoredNode {
            id: NodeId::new(&self.id).ok()?,
            addr: self.addr,
            incarnation: self.incarnation,
            seq: self.seq,
            state: self.state,
            period: Duration::from_millis(self.period_ms),
            last_seen: clock.at_unix_ms(self.last_seen_ms),
            state_since: clock.at_unix_ms(self.state_since_ms),
        })
    }
}

/// One probe's state (after hysteresis), as stored.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProbeRow {
    /// The node id.
    pub(crate) node: String,
    /// The probe's name.
    pub(crate) probe: String,
    /// Its state.
    pub(crate) status: ProbeStatus,
    /// When it entered that state (wall clock, ms).
    pub(crate) since_ms: i64,
    /// Its latest reading (`None`: none, or not finite).
    pub(crate) value: Option<f64>,
}

impl ProbeRow {
    /// The core's view of this row, for `Monitor::restore_probes`, its time placed on `clock`.
    pub(crate) fn restored(&self, clock: &Clock) -> Option<RestoredProbe> {
        Some(RestoredProbe {
            node: NodeId::new(&self.node).ok()?,
            probe: self.probe.as_str().into(),
            status: self.status,
            since: clock.at_unix_ms(self.since_ms),
            value: self.value.unwrap_or(f64::NAN),
        })
    }
}

/// The oldest time any stored row needs placed on this run's clock: how far back
/// ([`Clock::reaching_back`]) the monitor's clock must reach, from `now_ms`, plus a second (so
/// the newest rows, rounded to ms, still come after the clock's first instant).
pub(crate) fn reach_back(nodes: &[NodeRow], probes: &[ProbeRow], now_ms: i64) -> Duration {
    let oldest = nodes
        .iter()
        .flat_map(|n| [n.last_seen_ms, n.state_since_ms])
        .chain(probes.iter().map(|p| p.since_ms))
        .min()
        .unwrap_or(now_ms);
    Duration::from_millis(u64::try_from(now_ms.saturating_sub(oldest)).unwrap_or(0))
        + Duration::from_secs(1)
}

fn parse_state(s: &str) -> Option<NodeState> {
    NodeState::ALL.into_iter().find(|n| n.as_str() == s)
}

/// An open store: the writer's connection, the lock that keeps other monitors out, and the
/// registry the previous run left.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The file.
    pub(crate) path: PathBuf,
    /// The read-write connection (handed to the writer thread).
    pub(crate) conn: Connection,
    /// Held for the process's life: an exclusive `flock` on the file.
    pub(crate) lock: File,
    /// Every node of the stored registry.
    pub(crate) nodes: Vec<NodeRow>,
    /// Every stored probe state.
    pub(crate) probes: Vec<ProbeRow>,
}

/// Opens (creating if needed) the store at `path` for a monitor.
pub(crate) fn open(path: &Path) -> anyhow::Result<Opened> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the store's directory {}", dir.display()))?;
    }
    let shown = path.display();
    // A new store is owner-only (its history names every node); SQLite gives its -wal and
    // -shm files the same mode.
    let lock = std::os::unix::fs::OpenOptionsExt::mode(
        File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
        0o600,
    )
    .open(path)
    .with_context(|| format!("cannot open the store {shown}"))?;
    if let Err(e) = lock.try_lock() {
        bail!(
            "the store {shown} is in use by another hbnode monitor ({e}); give each monitor its \
             own --db"
        );
    }
    let conn = Connection::open(path).with_context(|| format!("cannot open the store {shown}"))?;
    check_ours(&conn, path)?;
    migrate(&conn).with_context(|| format!("cannot prepare the store {shown}"))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .with_context(|| format!("cannot switch the store {shown} to WAL"))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(Duration::from_secs(1))?;
    let nodes =
        load_nodes(&conn).with_context(|| format!("cannot read the registry in {shown}"))?;
    let probes =
        load_probes(&conn).with_context(|| format!("cannot read the probe states in {shown}"))?;
    Ok(Opened {
        path: path.to_owned(),
        conn,
        lock,
        nodes,
        probes,
    })
}

/// Opens an existing store read-only (queries; safe while a monitor writes it).
pub(crate) fn open_read_only(path: &Path) -> anyhow::Result<Connection> {
    let shown = path.display();
    if !path.exists() {
        bail!("no store at {shown}: has a monitor run with this --db?");
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open the store {shown}"))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    check_ours(&conn, path)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version == 0 {
        bail!("the store {shown} is empty: no monitor has written it yet");
    }
    Ok(conn)
}

/// Refuses files that are not SQLite, are damaged, belong to another program or come from a
/// newer hbnode; stamps a brand-new empty file as ours.
fn check_ours(conn: &Connection, path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    let not_db = |e: rusqlite::Error| {
        anyhow::anyhow!(
            "{shown} is not an hbnode store: it is not an SQLite database or it is damaged ({e}); \
             it was left untouched: move it away or pass another --db"
        )
    };
    let app: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(not_db)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(not_db)?;
    if app == 0 && tables == 0 {
        return Ok(()); // new and empty: `migrate` stamps it
    }
    if app != APPLICATION_ID {
        bail!(
            "{shown} is an SQLite database of another program (application_id {app:#x}, {tables} \
             schema objects), not an hbnode store; it was left untouched: pass another --db"
        );
    }
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(not_db)?;
    if version > MIGRATIONS.len() as i64 {
        bail!(
            "{shown} was written by a newer hbnode (schema {version}, this one knows up to {}); \
             upgrade hbnode or pass another --db",
            MIGRATIONS.len()
        );
    }
    Ok(())
}

/// Applies the migrations the file lacks, each in its own transaction.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let mut version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    while let Some(sql) = usize::try_from(version)
        .ok()
        .and_then(|v| MIGRATIONS.get(v))
    {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        version += 1;
        tx.pragma_update(None, "user_version", version)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.commit()?;
    }
    Ok(())
}

/// Every stored node (rows that no longer parse are skipped with a warning).
fn load_nodes(conn: &Connection) -> rusqlite::Result<Vec<NodeRow>> {
    let mut stmt = conn.prepare(
        "SELECT id, detector, addr, incarnation, seq, state, state_since_ms, last_seen_ms, \
         period_ms, link FROM nodes ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, i64>(7)?,
            r.get::<_, i64>(8)?,
            r.get::<_, Option<Vec<u8>>>(9)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, det, addr, inc, seq, state, since, last, period, link) = row?;
        let link = link.and_then(|b| {
            let e = decode_link(&b);
            if e.is_none() {
                tracing::warn!(node = %id, "ignoring a stored link estimate that does not decode");
            }
            e
        });
        let (Ok(addr), Some(state)) = (addr.parse(), parse_state(&state)) else {
            tracing::warn!(node = %id, "skipping a stored node whose address or state is unreadable");
            continue;
        };
        out.push(NodeRow {
            id,
            detector: u32::try_from(det).unwrap_or(0),
            addr,
            // Stored bit for bit (SQLite integers are signed).
            incarnation: inc as u64,
            seq: seq as u64,
            state,
            state_since_ms: since,
            last_seen_ms: last,
            period_ms: u64::try_from(period).unwrap_or(0),
            link: link.map(Box::new),
        });
    }
    Ok(out)
}

/// Every stored probe state (rows that no longer parse are skipped with a warning).
fn load_probes(conn: &Connection) -> rusqlite::Result<Vec<ProbeRow>> {
    let mut stmt = conn
        .prepare("SELECT node, probe, status, since_ms, value FROM probes ORDER BY node, probe")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<f64>>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (node, probe, status, since_ms, value) = row?;
        let statuses = [
            ProbeStatus::Ok,
            ProbeStatus::Warning,
            ProbeStatus::Error,
            ProbeStatus::Unknown,
        ];
        let Some(status) = statuses.into_iter().find(|s| s.as_str() == status) else {
            tracing::warn!(%node, %probe, "skipping a stored probe whose state is unreadable");
            continue;
        };
        out.push(ProbeRow {
            node,
            probe,
            status,
            since_ms,
            value,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
