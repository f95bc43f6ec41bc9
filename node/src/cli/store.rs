//! Flags of `hbnode history` and `hbnode readings`, and the `--db` and `--retention` values.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;

use super::values::parse_duration;

/// Parses `--retention` (at least a minute).
pub(crate) fn parse_retention(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(60) {
        return Err(format!("`{s}`: the retention must be at least 1m"));
    }
    Ok(d)
}

/// `--db`: a path, or `none`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DbPath {
    /// `--db none`: no store.
    Off,
    /// This file.
    File(PathBuf),
}

impl FromStr for DbPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" => Err("`--db` needs a path or `none`".into()),
            "none" => Ok(Self::Off),
            p => Ok(Self::File(PathBuf::from(p))),
        }
    }
}

/// Flags of `hbnode history`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// The store to read (default: the monitor's default store); conflicts with --http.
    #[arg(long, env = "HBNODE_DB", value_name = "PATH")]
    pub(crate) db: Option<DbPath>,

    /// Ask a running monitor's HTTP API (HOST:PORT) instead of reading a file.
    #[arg(long, value_name = "ADDR", conflicts_with = "db")]
    pub(crate) http: Option<String>,

    /// Only this node's events.
    #[arg(long, value_name = "ID")]
    pub(crate) node: Option<String>,

    /// How far back to look (e.g. 30m, 6h, 7d).
    #[arg(long, value_name = "DUR", default_value = "24h", value_parser = parse_duration)]
    pub(crate) since: Duration,

    /// One JSON object per line (time, at_ms, node, event, record) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Flags of `hbnode readings`.
#[derive(Debug, Args)]
pub(crate) struct ReadingsArgs {
    /// The store to read (default: the monitor's default store); conflicts with --http.
    #[arg(long, env = "HBNODE_DB", value_name = "PATH")]
    pub(crate) db: Option<DbPath>,

    /// Ask a running monitor's HTTP API (HOST:PORT) instead of reading a file.
    #[arg(long, value_name = "ADDR", conflicts_with = "db")]
    pub(crate) http: Option<String>,

    /// The node.
    #[arg(long, value_name = "ID", required = true)]
    pub(crate) node: String,

    /// The probe (e.g. load1).
    #[arg(long, value_name = "NAME", required = true)]
    pub(crate) probe: String,

    /// How far back to look (e.g. 30m, 6h, 7d).
    #[arg(long, value_name = "DUR", default_value = "1h", value_parser = parse_duration)]
    pub(crate) since: Duration,

    /// One JSON object per line (time, at_ms, node, probe, value, status) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,

    /// Also draw the readings as an SVG line chart to FILE (the table is then not printed).
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
}
