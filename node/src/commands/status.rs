//! `hbnode status`: a table of the nodes a running monitor knows, then one of the probes that
//! are not ok, with their values, units, the ranges in force (and where they come from: a
//! monitor `rule` or the `plugin`'s perfdata), min and max. `--json` shows every probe.

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
        let summary = client::get(&a.http, "/v1/summary", Duration::from_secs(5))?;
        let summary: SummaryHead = serde_json::from_str(&summary)
            .context("the monitor's summary is not what this hbnode expects")?;
        print!("{}", isolation_line(&summary.isolation));
        if let Some(w) = &summary.witnesses {
            print!("{}", witnesses_line(w));
        }
        print!("{}", table(&nodes));
    }
    Ok(ExitCode::SUCCESS)
}

/// What `hbnode status` reads of `/v1/summary`.
#[derive(Debug, serde::Deserialize)]
struct SummaryHead {
    isolation: IsolationHead,
    /// Witness mode (absent from older monitors, `null` when off).
    #[serde(default)]
    witnesses: Option<WitnessesHead>,
}

/// `/v1/summary`'s `witnesses`.
#[derive(Debug, serde::Deserialize)]
struct WitnessesHead {
    needed: usize,
    up: usize,
    fallback: bool,
    held: usize,
    witnesses: Vec<WitnessHead>,
}

/// One witness of [`WitnessesHead`].
#[derive(Debug, serde::Deserialize)]
struct WitnessHead {
    id: String,
    up: bool,
}

/// The WITNESSES line before the table: the quorum, each witness's state, nodes held, and a
/// warning while this monitor's own verdicts are final.
fn witnesses_line(w: &WitnessesHead) -> String {
    let peers: Vec<String> = w
        .witnesses
        .iter()
        .map(|p| format!("{} {}", p.id, if p.up { "up" } else { "DOWN" }))
        .collect();
    let mut line = format!(
        "WITNESSES: {} of {} monitors up, {} needed for a down ({}); {} held unreachable",
        w.up,
        w.witnesses.len() + 1,
        w.needed,
        peers.join(", "),
        w.held
    );
    if w.fallback {
        line.push_str(
            "\nQUORUM LOST: too few monitors to agree; this monitor's own verdicts are final",
        );
    }
    line.push_str("\n\n");
    line
}

/// `/v1/summary`'s `isolation`.
#[derive(Debug, Default, serde::Deserialize)]
struct IsolationHead {
    isolated: bool,
    since: Option<String>,
    held: usize,
}

/// A warning line before the table while the monitor thinks it is cut off (else nothing).
fn isolation_line(i: &IsolationHead) -> String {
    if !i.isolated {
        return String::new();
    }
    format!(
        "ISOLATED since {}: this monitor seems cut off from its nodes; {} held unreachable, not \
         reported down (check the monitor's own network)\n\n",
        i.since.as_deref().unwrap_or("?"),
        i.held
    )
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
        "TIMEOUT",
        "LOSS",
        "VALUE",
        "PROBES",
    ];
    let rows: Vec<[String; 9]> = nodes
        .iter()
        .map(|n| {
            [
                n.id.clone(),
                n.state.clone(),
                n.addr.to_string(),
                n.last_seen.clone(),
                format!("{:.1}s", n.silence_ms as f64 / 1000.0),
                n.timeout_ms
                    .map_or_else(|| "-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0)),
                format!("{:.1}%", n.loss * 100.0),
                n.value
                    .map_or_else(|| "-".into(), |v| format!("{v:.3}/{:.3}", n.threshold)),
                probes(n),
            ]
        })
        .collect();
    let mut out = crate::commands::table::render(&header, &rows, "(no nodes yet)");
    out.push_str(&links(nodes));
    out.push_str(&problem_probes(nodes));
    out
}

/// The budget detector's link estimates, as a second table after a blank line (nothing for
/// other detectors).
fn links(nodes: &[NodeView]) -> String {
    let header = [
        "NODE",
        "LINK LOSS",
        "MEAN BURST",
        "OFFSET P99",
        "BEATS",
        "TIMEOUT",
    ];
    let rows: Vec<[String; 6]> = nodes
        .iter()
        .filter_map(|n| n.link.map(|l| (n, l)))
        .map(|(n, l)| {
            [
                n.id.clone(),
                format!("{:.2}%", l.loss * 100.0),
                format!("{:.2}", l.mean_burst),
                format!("{:.0}ms", l.offset_p99_ms),
                l.beats.to_string(),
                n.timeout_ms
                    .map_or_else(|| "-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0)),
            ]
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!("\n{}", crate::commands::table::render(&header, &rows, ""))
}

/// The probes that are not ok, as a second table after a blank line (nothing if none).
fn problem_probes(nodes: &[NodeView]) -> String {
    let header = [
        "NODE", "PROBE", "STATE", "VALUE", "WARNING", "ERROR", "SOURCE", "MIN", "MAX",
    ];
    let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    let num = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| v.to_string());
    let rows: Vec<[String; 9]> = nodes
        .iter()
        .flat_map(|n| n.probes.iter().map(move |p| (n, p)))
        .filter(|(_, p)| p.state != "ok")
        .map(|(n, p)| {
            let unit = p.unit.as_deref().unwrap_or("");
            [
                n.id.clone(),
                p.name.clone(),
                p.state.clone(),
                p.value
                    .map_or_else(|| "NaN".into(), |v| format!("{v}{unit}")),
                opt(&p.warning),
                opt(&p.error),
                opt(&p.source),
                num(p.min),
                num(p.max),
            ]
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!("\n{}", crate::commands::table::render(&header, &rows, ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::views::ProbeView;

    #[test]
    fn an_isolated_monitor_says_so_before_the_table() {
        let s: SummaryHead = serde_json::from_str(
            r#"{"nodes":3,"isolation":{"isolated":true,"since":"2026-12-02T01:00:00.000Z","held":20,"quiet":0,"episodes":1}}"#,
        )
        .unwrap();
        let line = isolation_line(&s.isolation);
        assert!(
            line.starts_with("ISOLATED since 2026-12-02T01:00:00.000Z"),
            "{line}"
        );
        assert!(line.contains("20 held unreachable"), "{line}");
        assert_eq!(isolation_line(&IsolationHead::default()), "");
    }

    #[test]
    fn the_witnesses_line_shows_the_quorum_each_witness_and_the_fallback() {
        let s: SummaryHead = serde_json::from_str(
            r#"{"isolation":{"isolated":false,"held":0},"witnesses":{"needed":2,"up":1,"fallback":true,"held":0,"agreed":0,"unreachable_reported":0,"witnesses":[{"id":"m1","addr":"127.0.0.1:1","up":false,"last_heard":null,"messages":3},{"id":"m2","addr":"127.0.0.1:2","up":false,"last_heard":null,"messages":0}]}}"#,
        )
        .unwrap();
        let line = witnesses_line(s.witnesses.as_ref().unwrap());
        assert!(
            line.starts_with(
                "WITNESSES: 1 of 3 monitors up, 2 needed for a down (m1 DOWN, m2 DOWN)"
            ),
            "{line}"
        );
        assert!(line.contains("QUORUM LOST"), "{line}");
        let off: SummaryHead =
            serde_json::from_str(r#"{"isolation":{"isolated":false,"held":0},"witnesses":null}"#)
                .unwrap();
        assert!(off.witnesses.is_none());
    }

    /// Issue 14: a probe out of its plugin's own ranges shows them, with unit, min and max.
    #[test]
    fn probes_not_ok_are_listed_with_their_ranges_unit_min_and_max() {
        let node = |id: &str, probes: Vec<ProbeView>| NodeView {
            id: id.into(),
            state: "alive".into(),
            addr: "127.0.0.1:1".parse().unwrap(),
            incarnation: 1,
            seq: 1,
            last_seen: "2026-12-01T00:00:00.000Z".into(),
            last_seen_unix: 0.0,
            silence_ms: 100,
            state_since: String::new(),
            timeout_ms: None,
            value: None,
            threshold: 3.0,
            period_ms: 1000,
            beats: 1,
            lost: 0,
            loss: 0.0,
            duplicates: 0,
            reordered: 0,
            labels: Default::default(),
            link: None,
            probes,
        };
        let disk = ProbeView {
            name: "disk./".into(),
            state: "error".into(),
            value: Some(5960.0),
            unit: Some("MB".into()),
            warning: Some("5948".into()),
            error: Some("5958".into()),
            source: Some("plugin".into()),
            min: Some(0.0),
            max: Some(5968.0),
            ..Default::default()
        };
        let fine = ProbeView {
            name: "load1".into(),
            state: "ok".into(),
            value: Some(0.5),
            ..Default::default()
        };
        let text = table(&[
            node("web-1", vec![disk, fine.clone()]),
            node("web-2", vec![fine]),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].ends_with("disk./ error"), "{text}");
        assert!(lines[2].ends_with("1 ok"), "{text}");
        assert_eq!(lines[3], "", "{text}");
        let cells: Vec<&str> = lines[5].split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "web-1", "disk./", "error", "5960MB", "5948", "5958", "plugin", "0", "5968"
            ],
            "{text}"
        );
        assert_eq!(lines.len(), 6, "ok probes are not listed:\n{text}");
        assert!(!table(&[node("web-2", Vec::new())]).contains("PROBE "));
        assert!(!table(&[node("web-2", Vec::new())]).contains("LINK LOSS"));

        // Issue 15: the budget detector's link estimate, one row per node that has one.
        let mut lossy = node("wifi-1", Vec::new());
        lossy.timeout_ms = Some(7250);
        lossy.link = Some(crate::http::views::LinkView {
            loss: 0.2,
            mean_burst: 1.25,
            offset_p99_ms: 41.0,
            beats: 600,
            predicted_per_day: None,
            fleet_prior: None,
        });
        let text = table(&[lossy, node("web-2", Vec::new())]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[3], "", "{text}");
        assert!(lines[4].starts_with("NODE"), "{text}");
        let cells: Vec<&str> = lines[5].split_whitespace().collect();
        assert_eq!(
            cells,
            ["wifi-1", "20.00%", "1.25", "41ms", "600", "7.2s"],
            "{text}"
        );
        assert_eq!(lines.len(), 6, "only nodes with an estimate:\n{text}");
    }
}
