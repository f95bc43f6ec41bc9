//! `cargo xtask bench store`: readings ingest with the embedded store on versus off, in the
//! same run, and the store's growth per node per day.
//!
//! The ingest benchmark's load generator (see `ingest.rs`) beats M nodes (default 10k) every
//! period (default 10 s), each beat carrying 5 readings, first to `hbnode monitor --db none`,
//! then to a monitor with a fresh `--db`. Each run reports its detection slack p50/p99 (the M
//! downs after the senders stop) and its false downs, so the store's cost on detection is a
//! same-run comparison. Growth: the file's size after the stored run (SIGTERM checkpoints the
//! write-ahead log) divided by the readings it committed gives bytes per reading, everything
//! else in the file (registry, events, series, indexes) included; a node reporting P probes
//! every period T writes P × 86400 / T readings a day.
//! Usage: `cargo xtask bench store [--nodes 10000] [--period 10s] [--window 20s]`.

use anyhow::Context as _;

use super::ingest::{self, StoreOpts};
use super::table::Row;

/// Probes per node.
const PROBES: usize = 5;

/// Runs the store benchmark; returns the rows for BENCHMARKS.md.
pub(crate) fn rows(args: &[String]) -> anyhow::Result<Vec<Row>> {
    let mut defaults = vec![
        "--nodes".to_owned(),
        "10000".into(),
        "--period".into(),
        "10s".into(),
        "--window".into(),
        "20s".into(),
    ];
    defaults.extend_from_slice(args);
    let opts = ingest::parse(&defaults)?;
    if opts.before.is_some() {
        anyhow::bail!("--before is a flag of bench ingest, not bench store");
    }
    let bin = ingest::build_hbnode()?;
    let dir = std::env::temp_dir().join(format!("hbnode-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    println!(
        "| nodes | store | beats/s | readings/s stored | dropped | false downs | downs seen | slack p50 | slack p99 | db bytes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &m in &opts.nodes {
        let db = dir.join(format!("bench-{m}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let off = ingest::run_one(
            &bin,
            m,
            &opts,
            StoreOpts {
                db: None,
                probes: PROBES,
            },
        )?;
        let on = ingest::run_one(
            &bin,
            m,
            &opts,
            StoreOpts {
                db: Some(&db),
                probes: PROBES,
            },
        )?;
        let bytes = std::fs::metadata(&db)
            .with_context(|| format!("no store at {}", db.display()))?
            .len()
            + std::fs::metadata(format!("{}-wal", db.display())).map_or(0, |m| m.len());
        for (name, r, b) in [("off", &off, 0), ("on", &on, bytes)] {
            println!(
                "| {m} | {name} | {:.0} | {:.0} | {:.0} | {} | {}/{m} | {:.2} ms | {:.2} ms | {b} |",
                r.beats_per_s,
                r.readings_stored,
                r.store_dropped,
                r.false_downs,
                r.downs,
                r.slack_p50_us as f64 / 1e3,
                r.slack_p99_us as f64 / 1e3,
            );
        }
        let readings_bytes = readings_bytes(&db)?;
        let per_reading = readings_bytes as f64 / on.readings_stored.max(1.0);
        let per_day = per_reading * PROBES as f64 * 86_400.0 / opts.period.as_secs_f64();
        let file_per_reading = bytes as f64 / on.readings_stored.max(1.0);
        rows.push(Row {
            name: format!(
                "store: detection slack p50 / p99 with the store on, {m} nodes × {PROBES} probes every {} ({} false downs; {:.0} readings stored, {:.0} dropped)",
                humantime::format_duration(opts.period),
                on.false_downs,
                on.readings_stored,
                on.store_dropped,
            ),
            figure: format!(
                "{:.2} / {:.2} ms",
                on.slack_p50_us as f64 / 1e3,
                on.slack_p99_us as f64 / 1e3
            ),
            baseline: format!(
                "store off (--db none): {:.2} / {:.2} ms, {} false downs",
                off.slack_p50_us as f64 / 1e3,
                off.slack_p99_us as f64 / 1e3,
                off.false_downs
            ),
            ratio: Some(on.slack_p99_us as f64 / (off.slack_p99_us as f64).max(1.0)),
            target: "p99 not worse, 0 false downs".into(),
        });
        rows.push(Row {
            name: format!(
                "store: monitor CPU per beat with {PROBES} readings, {m} nodes, store on"
            ),
            figure: format!("{:.2} µs/beat", on.monitor_us_per_beat),
            baseline: format!("store off: {:.2} µs/beat", off.monitor_us_per_beat),
            ratio: Some(on.monitor_us_per_beat / off.monitor_us_per_beat.max(1e-9)),
            target: "—".into(),
        });
        rows.push(Row {
            name: format!(
                "store: db growth per node per day, {PROBES} probes every {} (readings table and its series: {readings_bytes} B / {:.0} readings = {per_reading:.1} B per reading, × {:.0} readings/day; whole {bytes} B file incl. events and registry of this short run: {file_per_reading:.1} B per reading)",
                humantime::format_duration(opts.period),
                on.readings_stored,
                PROBES as f64 * 86_400.0 / opts.period.as_secs_f64(),
            ),
            figure: format!("{:.2} MB/node/day", per_day / 1e6),
            baseline: "raw payload (8 B value + 8 B time + 1 B status): 17 B per reading".into(),
            ratio: Some(per_reading / 17.0),
            target: "—".into(),
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rows)
}

/// Bytes of the pages holding the readings and series tables (SQLite's `dbstat`).
fn readings_bytes(db: &std::path::Path) -> anyhow::Result<u64> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let n: i64 = c
        .query_row(
            "SELECT sum(pgsize) FROM dbstat WHERE name IN ('readings', 'series') \
             OR name LIKE 'sqlite_autoindex_series%'",
            [],
            |r| r.get(0),
        )
        .context("SQLite's dbstat table is not available")?;
    Ok(u64::try_from(n).unwrap_or(0))
}
