//! `hbnode status`: a table of the nodes a running monitor knows.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::StatusArgs;
use crate::http::client;
use crate::http::views::NodeView;

/// Runs `hbnode status`.
pub(crate) fn run(a: &StatusArgs) -> anyhow::Result<ExitCode> {
    let body = client::get(&a.http, "/v1/nodes", Duration::from_secs(5))?;
    let nodes: Vec<NodeView> = serde_json::from_str(&body)
        .context("the monitor's node list is not what this hbnode expects")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&nodes)?);
    } else {
        print!("{}", table(&nodes));
    }
    Ok(ExitCode::SUCCESS)
}

/// The PROBES cell: `-` without probes, `N ok`, or the probes that are not ok.
fn probes(n: &NodeView) -> String {
    let bad: Vec<String> = n
        .probes
        .iter()
        .filter(|p| p.state != "ok")
        .map(|p| format!("{} {}", p.name, p.state))
        .collect();
    match (n.probes.len(), bad.is_empty()) {
        (0, _) => "-".into(),
        (k, true) => format!("{k} ok"),
        (_, false) => bad.join(", "),
    }
}

/// Formats the node table.
pub(crate) fn table(nodes: &[NodeView]) -> String {
    let header = [
        "ID",
        "STATE",
        "ADDR",
        "LAST SEEN",
        "SILENCE",
        "LOSS",
        "VALUE",
        "PROBES",
    ];
    let rows: Vec<[String; 8]> = nodes
        .iter()
        .map(|n| {
            [
                n.id.clone(),
                n.state.clone(),
                n.addr.to_string(),
                n.last_seen.clone(),
                format!("{:.1}s", n.silence_ms as f64 / 1000.0),
                format!("{:.1}%", n.loss * 100.0),
                n.value
                    .map_or_else(|| "-".into(), |v| format!("{v:.3}/{:.3}", n.threshold)),
                probes(n),
            ]
        })
        .collect();
    crate::commands::table::render(&header, &rows, "(no nodes yet)")
}
