//! The store's writer thread: rows in from a bounded queue, out to SQLite in batched
//! transactions (by count and by time), old rows pruned, errors counted and logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use compact_str::CompactString;
use hb_core::NodeId;
use hb_core::probe::Sample;

use super::{NodeRow, Opened, ProbeRow, ms_ago};
use crate::runtime::record::EventRecord;
use crate::runtime::stats::{self, Stats, StoreTable};

/// Rows queued before further ones are dropped and counted.
pub(crate) const STORE_QUEUE: usize = 65_536;
/// Most rows per transaction.
const BATCH_ROWS: usize = 1000;
/// Longest a row waits for its batch to fill.
const BATCH_WAIT: Duration = Duration::from_millis(200);
/// How often rows older than the retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// At most one error log line per this interval (the rest are counted).
const LOG_EVERY: Duration = Duration::from_secs(10);
/// How long shutdown waits for the queue to be written out, in all (room for the close row
/// and the writer's end together): the store's share of
/// [`crate::runtime::wiring::SHUTDOWN_BUDGET`].
pub(crate) const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// One thing to write.
#[derive(Debug)]
pub(crate) enum Row {
    /// An event of the history, stored as its name and its JSON record (docs/events.md), so
    /// new event kinds need no schema change. Serialised on the writer thread, not the
    /// Detector's.
    Event {
        /// Decision time, wall clock ms.
        at_ms: i64,
        /// The event.
        record: Arc<EventRecord>,
    },
    /// One reading (node and probe ids are inline strings: no allocation on the Detector).
    Reading {
        /// Receive time of its beat, wall clock ms.
        at_ms: i64,
        /// The reading.
        sample: Sample,
    },
    /// A node's registry entry, inserted or replaced.
    Node(NodeRow),
    /// A batch of registry entries (the periodic snapshot).
    Nodes(Vec<NodeRow>),
    /// A probe's state (after hysteresis), inserted or replaced.
    Probe(ProbeRow),
    /// A node dropped from the registry (`forgotten`), with its probe states.
    Forget(String),
    /// Commits what is queued before it, then ends the writer (closing the file checkpoints
    /// the write-ahead log into it).
    Close,
}

/// The Detector's end of the queue: offers rows without ever waiting.
#[derive(Clone, Debug)]
pub(crate) struct StoreTx {
    tx: SyncSender<Row>,
    stats: Arc<Stats>,
}

impl StoreTx {
    /// Queues `row`; a full queue (a disk slower than ingest) drops it and counts the drop.
    pub(crate) fn offer(&self, row: Row) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(row) {
            stats::inc(&self.stats.store_dropped);
        }
    }

    /// A queue with no writer behind it, for tests: returns the receiving end too.
    #[cfg(test)]
    pub(crate) fn test_pair(cap: usize, stats: Arc<Stats>) -> (Self, Receiver<Row>) {
        let (tx, rx) = sync_channel(cap);
        (Self { tx, stats }, rx)
    }
}

/// The running writer thread.
#[derive(Debug)]
pub(crate) struct StoreWriter {
    tx: StoreTx,
    thread: Option<JoinHandle<()>>,
    _lock: std::fs::File,
}

impl StoreWriter {
    /// Starts the writer on the opened store, keeping readings and events for `retention`.
    pub(crate) fn start(
        opened: Opened,
        retention: Duration,
        stats: Arc<Stats>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(STORE_QUEUE);
        let Opened {
            path, conn, lock, ..
        } = opened;
        let mut w = Writer {
            conn,
            stats: Arc::clone(&stats),
            series: HashMap::new(),
            retention,
            path: path.display().to_string(),
            last_log: None,
            unlogged: 0,
        };
        let thread = std::thread::Builder::new()
            .name("hbnode-store".into())
            .spawn(move || w.run(&rx))?;
        Ok(Self {
            tx: StoreTx { tx, stats },
            thread: Some(thread),
            _lock: lock,
        })
    }

    /// A sending end for a Detector.
    pub(crate) fn sender(&self) -> StoreTx {
        self.tx.clone()
    }

    /// Queues a control row, waiting until `deadline` for room: shutdown only.
    fn send_waiting(&self, mut row: Row, deadline: Instant) -> bool {
        loop {
            match self.tx.tx.try_send(row) {
                Ok(()) => return true,
                Err(TrySendError::Full(r)) if Instant::now() < deadline => {
                    row = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
    }
}

impl Drop for StoreWriter {
    /// Writes out the queue and closes the file (at most [`CLOSE_WAIT`]); rows offered later
    /// count as dropped.
    fn drop(&mut self) {
        let Some(t) = self.thread.take() else { return };
        // One deadline for both waits: never more than CLOSE_WAIT in all.
        let deadline = Instant::now() + CLOSE_WAIT;
        if !self.send_waiting(Row::Close, deadline) {
            tracing::warn!("the store's queue stayed full; exiting without writing it out");
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if !crate::sinks::join_within(t, left) {
            tracing::warn!("the store's writer is stuck; exiting without it");
        }
    }
}

struct Writer {
    conn: Connection,
    stats: Arc<Stats>,
    /// (node, probe) → series id, for rows committed.
    series: HashMap<(NodeId, CompactString), i64>,
    retention: Duration,
    path: String,
    last_log: Option<Instant>,
    unlogged: u64,
}

impl Writer {
    fn run(&mut self, rx: &Receiver<Row>) {
        let mut batch: Vec<Row> = Vec::with_capacity(BATCH_ROWS);
        let mut next_prune = Instant::now();
        loop {
            if Instant::now() >= next_prune {
                self.prune();
                next_prune = Instant::now() + PRUNE_EVERY;
            }
            match rx.recv_timeout(next_prune.saturating_duration_since(Instant::now())) {
                Ok(r) => batch.push(r),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let fill_until = Instant::now() + BATCH_WAIT;
            while batch.len() < BATCH_ROWS && !matches!(batch.last(), Some(Row::Close)) {
                match rx.recv_timeout(fill_until.saturating_duration_since(Instant::now())) {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let closing = matches!(batch.last(), Some(Row::Close));
            self.commit(&mut batch);
            if closing {
                return;
            }
        }
    }

    /// Writes `batch` in one transaction (emptying it). If a row is one the store cannot hold
    /// (a constraint or type error: [`refusable`]), the batch is written again row by row,
    /// each under its own savepoint: the bad rows are counted as invalid and the rest
    /// committed, so one bad row never costs the others.
    fn commit(&mut self, batch: &mut Vec<Row>) {
        let rows = batch.iter().map(Row::rows).sum::<u64>();
        let mut counts = [0u64; 3];
        let mut result = self.write(batch, &mut counts, false);
        if result.as_ref().is_err_and(refusable) {
            // Rolled back: the series cache may name series that are not in the file.
            self.series.clear();
            counts = [0; 3];
            result = self.write(batch, &mut counts, true);
        }
        batch.clear();
        match result {
            Ok(refused) => {
                for (t, n) in StoreTable::ALL.into_iter().zip(counts) {
                    self.stats.store_written(t, n);
                }
                if let Some((n, e)) = refused {
                    self.series.clear();
                    self.stats.store_invalid.fetch_add(n, Ordering::Relaxed);
                    self.log("write a row", &e, n);
                }
            }
            Err(e) => {
                // Rolled back: nothing of this batch is in the file, the series cache may lie.
                self.series.clear();
                self.stats.store_failed.fetch_add(rows, Ordering::Relaxed);
                stats::inc(&self.stats.store_errors);
                self.log("write", &e, rows);
            }
        }
    }

    /// Writes `batch` in one transaction. With `isolate`, each row goes under its own
    /// savepoint and a [`refusable`] error rolls back that row only: returns how many rows
    /// were refused so, with the first error.
    fn write(
        &mut self,
        batch: &[Row],
        counts: &mut [u64; 3],
        isolate: bool,
    ) -> rusqlite::Result<Option<(u64, rusqlite::Error)>> {
        if batch.iter().all(|r| matches!(r, Row::Close)) {
            return Ok(None);
        }
        let mut refused: Option<(u64, rusqlite::Error)> = None;
        let series = &mut self.series;
        let tx = self.conn.transaction()?;
        {
            let mut event = tx.prepare_cached(
                "INSERT INTO events (at_ms, node, event, record) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut reading = tx.prepare_cached(
                "INSERT OR REPLACE INTO readings (series, at_ms, value, status) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut find_series =
                tx.prepare_cached("SELECT id FROM series WHERE node = ?1 AND probe = ?2")?;
            let mut add_series =
                tx.prepare_cached("INSERT INTO series (node, probe) VALUES (?1, ?2)")?;
            let mut node = tx.prepare_cached(
                "INSERT OR REPLACE INTO nodes (id, detector, addr, incarnation, seq, state, \
                 state_since_ms, last_seen_ms, period_ms, link) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut forget = tx.prepare_cached("DELETE FROM nodes WHERE id = ?1")?;
            let mut forget_probes = tx.prepare_cached("DELETE FROM probes WHERE node = ?1")?;
            let mut probe = tx.prepare_cached(
                "INSERT OR REPLACE INTO probes (node, probe, status, since_ms, value) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut put_node = |n: &NodeRow| {
                node.execute(params![
                    n.id,
                    n.detector,
                    n.addr.to_string(),
                    n.incarnation as i64,
                    n.seq as i64,
                    n.state.as_str(),
                    n.state_since_ms,
                    n.last_seen_ms,
                    i64::try_from(n.period_ms).unwrap_or(i64::MAX),
                    n.link.as_deref().and_then(super::encode_link),
                ])
                .map(drop)
            };
            // Runs one row's statements: under a savepoint when isolating, where a refusable
            // error undoes that row only and is counted.
            let mut guarded = |f: &mut dyn FnMut() -> rusqlite::Result<()>| {
                if !isolate {
                    return f();
                }
                tx.execute_batch("SAVEPOINT hbnode_row")?;
                match f() {
                    Ok(()) => tx.execute_batch("RELEASE hbnode_row"),
                    Err(e) if refusable(&e) => {
                        tx.execute_batch("ROLLBACK TO hbnode_row; RELEASE hbnode_row")?;
                        match &mut refused {
                            Some((n, _)) => *n += 1,
                            None => refused = Some((1, e)),
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            };
            for r in batch {
                match r {
                    Row::Event { at_ms, record } => guarded(&mut || {
                        event.execute(params![
                            at_ms,
                            record.node,
                            record.event,
                            record.to_json()
                        ])?;
                        counts[StoreTable::Events as usize] += 1;
                        Ok(())
                    })?,
                    Row::Reading { at_ms, sample } => guarded(&mut || {
                        let (node, probe) = (sample.node.as_str(), sample.probe.as_str());
                        let key = (sample.node.clone(), sample.probe.clone());
                        let id = match series.get(&key) {
                            Some(id) => *id,
                            None => {
                                let found: Option<i64> = find_series
                                    .query_row(params![node, probe], |r| r.get(0))
                                    .map(Some)
                                    .or_else(|e| match e {
                                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                                        e => Err(e),
                                    })?;
                                let id = match found {
                                    Some(id) => id,
                                    None => {
                                        add_series.execute(params![node, probe])?;
                                        tx.last_insert_rowid()
                                    }
                                };
                                series.insert(key, id);
                                id
                            }
                        };
                        reading.execute(params![id, at_ms, sample.value, sample.status])?;
                        counts[StoreTable::Readings as usize] += 1;
                        Ok(())
                    })?,
                    Row::Node(n) => guarded(&mut || {
                        put_node(n)?;
                        counts[StoreTable::Nodes as usize] += 1;
                        Ok(())
                    })?,
                    Row::Nodes(ns) => {
                        for n in ns {
                            guarded(&mut || {
                                put_node(n)?;
                                counts[StoreTable::Nodes as usize] += 1;
                                Ok(())
                            })?;
                        }
                    }
                    Row::Probe(p) => guarded(&mut || {
                        probe
                            .execute(params![
                                p.node,
                                p.probe,
                                p.status.as_str(),
                                p.since_ms,
                                p.value.filter(|v| v.is_finite()),
                            ])
                            .map(drop)
                    })?,
                    Row::Forget(id) => guarded(&mut || {
                        forget.execute(params![id])?;
                        forget_probes.execute(params![id]).map(drop)
                    })?,
                    Row::Close => {}
                }
            }
        }
        tx.commit()?;
        Ok(refused)
    }

    /// Deletes readings and events older than the retention.
    fn prune(&mut self) {
        let cutoff = ms_ago(self.retention);
        let result = (|| -> rusqlite::Result<usize> {
            let tx = self.conn.transaction()?;
            let mut n = tx.execute("DELETE FROM events WHERE at_ms < ?1", [cutoff])?;
            // Per series, along the primary key (no index on time alone).
            let ids: Vec<i64> = {
                let mut s = tx.prepare("SELECT id FROM series")?;
                s.query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            {
                let mut del =
                    tx.prepare("DELETE FROM readings WHERE series = ?1 AND at_ms < ?2")?;
                for id in ids {
                    n += del.execute(params![id, cutoff])?;
                }
            }
            tx.commit()?;
            Ok(n)
        })();
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, db = %self.path, "pruned rows past the retention"),
            Err(e) => self.error("prune", &e),
        }
    }

    /// Counts a failed operation (a prune) and logs it.
    fn error(&mut self, what: &str, e: &rusqlite::Error) {
        stats::inc(&self.stats.store_errors);
        self.log(what, e, 0);
    }

    /// Logs a storage error that cost `rows` rows, with what to do about its cause, at most
    /// once per [`LOG_EVERY`] (the rest are counted in the next line).
    fn log(&mut self, what: &str, e: &rusqlite::Error, rows: u64) {
        let now = Instant::now();
        if self.last_log.is_some_and(|t| now < t + LOG_EVERY) {
            self.unlogged += 1;
            return;
        }
        tracing::error!(
            db = %self.path, error = %e, operation = what, rows_lost = rows,
            suppressed = self.unlogged, "{}", advice(e)
        );
        self.last_log = Some(now);
        self.unlogged = 0;
    }
}

impl Row {
    /// How many table rows this is (a snapshot chunk is one per node; `Close` none).
    fn rows(&self) -> u64 {
        match self {
            Self::Nodes(ns) => ns.len() as u64,
            Self::Close => 0,
            _ => 1,
        }
    }
}

/// Whether `e` is about the row being written (a value the schema cannot hold) rather than the
/// file: such a row is refused alone and the rest of its batch written.
fn refusable(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{ConstraintViolation, TooBig, TypeMismatch};
    match e {
        rusqlite::Error::SqliteFailure(f, _) => {
            matches!(f.code, ConstraintViolation | TypeMismatch | TooBig)
        }
        rusqlite::Error::ToSqlConversionFailure(_) => true,
        _ => false,
    }
}

/// What an operator should do about a storage error: it names the real cause.
fn advice(e: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode as C;
    if refusable(e) {
        return "the store refused a row it cannot hold (counted in \
                hbnode_store_rows_dropped_total{reason=\"invalid\"}); the rest of its batch \
                was written; this is a bug in hbnode: please report it with this error";
    }
    match e.sqlite_error_code() {
        Some(C::DiskFull) => {
            "the store cannot write (rows are lost, detection carries on): the disk is full; \
             free space, or lower --retention"
        }
        Some(C::ReadOnly) => {
            "the store cannot write (rows are lost, detection carries on): the file or its \
             mount is read-only; check its permissions and the mount"
        }
        Some(C::PermissionDenied | C::CannotOpen) => {
            "the store cannot write (rows are lost, detection carries on): permission denied; \
             check the file's and its directory's owner and mode"
        }
        Some(C::DatabaseBusy | C::DatabaseLocked) => {
            "the store cannot write (rows are lost, detection carries on): another process \
             holds a lock on the file; stop whatever else opened it"
        }
        Some(C::DatabaseCorrupt | C::NotADatabase) => {
            "the store cannot write (rows are lost, detection carries on): the file is \
             corrupt; stop the monitor and move the file aside (a new one is created)"
        }
        _ => {
            "the store cannot write (rows are lost, detection carries on); check the disk: \
             free space, permissions, read-only mount"
        }
    }
}
