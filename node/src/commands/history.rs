//! `hbnode history` and `hbnode readings`: the store's contents as a table, JSON lines or a
//! chart, read from the file (`--db`) or from a running monitor (`--http`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::cli::store::{HistoryArgs, ReadingsArgs};
use crate::http::client;
use crate::store::query::{self, HistoryRow, ReadingRow};
use crate::store::{DbPath, ms_ago};

/// Where a query reads from.
enum Source {
    Db(PathBuf),
    Http(String),
}

fn source(db: Option<&DbPath>, http: Option<&String>) -> anyhow::Result<Source> {
    match (db, http) {
        (Some(_), Some(_)) => bail!("give --db or --http, not both"),
        (_, Some(h)) => Ok(Source::Http(h.clone())),
        (Some(DbPath::Off), None) => {
            bail!("--db none: there is no store to read; give --db PATH or --http ADDR")
        }
        (db, None) => Ok(Source::Db(
            crate::store::resolve(db)?
                .context("no store to read; give --db PATH or --http ADDR")?,
        )),
    }
}

/// Percent-encodes a query-string value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn since_param(d: Duration) -> String {
    encode(&humantime::format_duration(d).to_string())
}

const HTTP_WAIT: Duration = Duration::from_secs(10);

/// Runs `hbnode history`.
pub(crate) fn history(a: &HistoryArgs) -> anyhow::Result<ExitCode> {
    let rows: Vec<HistoryRow> = match source(a.db.as_ref(), a.http.as_ref())? {
        Source::Db(path) => query::with_db(&path, |c| {
            query::history(c, a.node.as_deref(), ms_ago(a.since))
        })?,
        Source::Http(addr) => {
            let mut path = format!("/v1/history?since={}", since_param(a.since));
            if let Some(n) = &a.node {
                let _ = write!(path, "&node={}", encode(n));
            }
            let body = client::get(&addr, &path, HTTP_WAIT)?;
            serde_json::from_str(&body)
                .context("the monitor's history is not what this hbnode expects")?
        }
    };
    if a.json {
        for r in &rows {
            println!("{}", serde_json::to_string(r)?);
        }
    } else {
        print!("{}", history_table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `hbnode readings`.
pub(crate) fn readings(a: &ReadingsArgs) -> anyhow::Result<ExitCode> {
    let rows: Vec<ReadingRow> = match source(a.db.as_ref(), a.http.as_ref())? {
        Source::Db(path) => {
            let (rows, probes) = query::with_db(&path, |c| {
                let rows = query::readings(c, &a.node, &a.probe, ms_ago(a.since))?;
                let probes = if rows.is_empty() {
                    query::probes(c, &a.node)?
                } else {
                    Vec::new()
                };
                Ok((rows, probes))
            })?;
            if rows.is_empty() && !probes.contains(&a.probe) {
                let known = if probes.is_empty() {
                    "none".to_owned()
                } else {
                    probes.join(", ")
                };
                eprintln!(
                    "hbnode: no probe `{}` stored for node `{}` (its probes: {known})",
                    a.probe, a.node
                );
            }
            rows
        }
        Source::Http(addr) => {
            let path = format!(
                "/v1/nodes/{}/readings?probe={}&since={}",
                encode(&a.node),
                encode(&a.probe),
                since_param(a.since)
            );
            let body = client::get(&addr, &path, HTTP_WAIT)?;
            serde_json::from_str(&body)
                .context("the monitor's readings are not what this hbnode expects")?
        }
    };
    if let Some(file) = &a.plot {
        crate::store::plot::svg(file, &a.node, &a.probe, &rows)?;
        eprintln!(
            "hbnode: wrote a chart of {} readings to {}",
            rows.len(),
            file.display()
        );
    }
    if a.json {
        for r in &rows {
            println!("{}", serde_json::to_string(r)?);
        }
    } else if a.plot.is_none() {
        print!("{}", readings_table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// Fields every event record has, left out of the details column.
const COMMON: [&str; 7] = [
    "time",
    "event",
    "node",
    "addr",
    "incarnation",
    "event_id",
    "detector",
];

/// The history as an aligned table (times RFC 3339 UTC).
pub(crate) fn history_table(rows: &[HistoryRow]) -> String {
    let header = ["TIME (UTC)", "EVENT", "NODE", "ADDR", "DETAILS"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let details = match &r.record {
                serde_json::Value::Object(m) => m
                    .iter()
                    .filter(|(k, _)| !COMMON.contains(&k.as_str()))
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => format!("{k}={s}"),
                        v => format!("{k}={v}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            };
            [
                r.time.clone(),
                r.event.clone(),
                r.node.clone(),
                r.record["addr"].as_str().unwrap_or("-").to_owned(),
                details,
            ]
        })
        .collect();
    crate::commands::table::render(&header, &cells, "(no events in this period)")
}

/// Nagios status names.
pub(crate) fn status_name(s: u8) -> &'static str {
    match s {
        0 => "ok",
        1 => "warning",
        2 => "critical",
        _ => "unknown",
    }
}

/// Readings as an aligned table (times RFC 3339 UTC).
pub(crate) fn readings_table(rows: &[ReadingRow]) -> String {
    let header = ["TIME (UTC)", "NODE", "PROBE", "VALUE", "STATUS"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.time.clone(),
                r.node.clone(),
                r.probe.clone(),
                format!("{}", r.value),
                status_name(r.status).to_owned(),
            ]
        })
        .collect();
    crate::commands::table::render(&header, &cells, "(no readings in this period)")
}
