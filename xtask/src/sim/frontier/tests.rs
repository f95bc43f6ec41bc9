//! The whole command at a tiny size: files, one CSV row per grid point with finite figures,
//! one well-formed two-panel SVG per link, the fleet table.

use clap::Parser;
use hb_tests::TempDir;

use super::*;

/// The frontier's flags alone; a flag given twice takes the later value.
#[derive(Parser)]
#[command(args_override_self = true)]
struct Cli {
    #[command(flatten)]
    a: FrontierArgs,
}

fn args(out: &Path, extra: &[&str]) -> FrontierArgs {
    let out = out.to_str().expect("utf-8 temp dir");
    let mut argv = vec![
        "frontier",
        "--links",
        "lan,loss=1%;delay=normal:20ms,10ms",
        "--timeouts",
        "2,4",
        "--phi-thresholds",
        "8",
        "--phi-pauses",
        "0,1s",
        "--chen-margins",
        "1",
        "--budgets",
        "1/hour",
        "--traces",
        "4",
        "--duration",
        "5m",
        "--crash-every",
        "1m",
        "--restart-after",
        "20s",
        "--fleet",
        "lan=9,loss=1%;delay=normal:20ms,10ms=1",
        "--budget",
        "1/hour",
        "--join-nodes",
        "10",
        "--join-runs",
        "1",
        "--out",
        out,
    ];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).expect("valid flags").a
}

/// A CSV line's fields (quoted fields may hold commas; `""` is a quote).
fn fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn finite(row: &[String], header: &[&str], col: &str) -> f64 {
    let i = header.iter().position(|h| *h == col).expect(col);
    let v: f64 = row[i]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?} in {row:?}", row[i]));
    assert!(v.is_finite(), "{col} = {v} in {row:?}");
    v
}

#[test]
fn a_tiny_frontier_writes_every_file_with_one_row_per_point() {
    let dir = TempDir::new("frontier-smoke");
    let a = args(&dir.0, &[]);
    let points = grid(&a).unwrap().len();
    assert_eq!(points, 2 * (2 + 2 + 1 + 1));
    run(&a).unwrap();

    let csv = std::fs::read_to_string(dir.0.join("frontier.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.join(","), CSV_HEADER.replace(' ', ""));
    let rows: Vec<Vec<String>> = lines.map(fields).collect();
    assert_eq!(rows.len(), points);
    for link in ["lan", "loss=1%;delay=normal:20ms,10ms"] {
        let mine: Vec<_> = rows.iter().filter(|r| r[0] == link).collect();
        assert_eq!(mine.len(), points / 2, "{link}");
        for col in ["pareto_mean", "pareto_p99"] {
            let i = header.iter().position(|h| *h == col).unwrap();
            assert!(mine.iter().all(|r| r[i] == "true" || r[i] == "false"));
            assert!(
                mine.iter().any(|r| r[i] == "true"),
                "{link}: no {col} point"
            );
        }
    }
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{r:?}");
        let (v, lo, hi) = (
            finite(r, &header, "false_alarms_per_hour"),
            finite(r, &header, "rate_lo"),
            finite(r, &header, "rate_hi"),
        );
        assert!(lo <= v && v <= hi && hi > 0.0, "{r:?}");
        let p_a = finite(r, &header, "p_a");
        assert!((0.0..=1.0).contains(&p_a));
        assert!(finite(r, &header, "t_d_mean_s") > 0.0, "{r:?}");
        assert!(finite(r, &header, "t_d_p99_s") > 0.0, "{r:?}");
    }

    let md = std::fs::read_to_string(dir.0.join("frontier.md")).unwrap();
    assert_eq!(md.matches("\n## `").count(), 2);

    let svgs: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("frontier-") && n.ends_with(".svg"))
        .collect();
    assert_eq!(svgs.len(), 2, "{svgs:?}");
    for slug in ["lan", "loss_1__delay_normal_20ms_10ms"] {
        let text = std::fs::read_to_string(dir.0.join(format!("frontier-{slug}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{slug}: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect();
        for panel in ["T_D mean (s)", "T_D p99 (s)"] {
            assert_eq!(
                texts.iter().filter(|t| t.trim() == panel).count(),
                1,
                "{slug}: one {panel} panel"
            );
        }
        for det in Det::ALL {
            assert!(
                texts.iter().any(|t| t.trim() == det.name()),
                "{slug}: {det:?}"
            );
        }
    }

    let fleet = std::fs::read_to_string(dir.0.join("fleet-mix.csv")).unwrap();
    let rows: Vec<Vec<String>> = fleet.lines().skip(1).map(fields).collect();
    // Three contenders × (two classes + the fleet), then both cohorts of each class joining.
    assert_eq!(rows.len(), 3 * (2 + 1) + 2 * 2, "{fleet}");
    assert_eq!(rows.iter().filter(|r| r[0] == "fleet").count(), 3);
    let joining: Vec<_> = rows
        .iter()
        .filter(|r| r[2].contains("joining fleet"))
        .collect();
    assert_eq!(joining.len(), 4, "{fleet}");
    for r in &joining {
        // 9 + 1 settled nodes and as many new ones, each with up-time and finite figures.
        assert!(r[3] == "9" || r[3] == "1", "{r:?}");
        assert!(r[4].parse::<f64>().unwrap() > 0.0, "{r:?}");
        let (v, lo, hi) = (
            r[6].parse::<f64>().unwrap(),
            r[7].parse::<f64>().unwrap(),
            r[8].parse::<f64>().unwrap(),
        );
        assert!(lo <= v && v <= hi && hi.is_finite(), "{r:?}");
    }
    let md = std::fs::read_to_string(dir.0.join("fleet-mix.md")).unwrap();
    assert!(md.contains("| **fleet** |"));
    assert!(md.contains("nodes joining a monitor that knows the fleet"));
}

#[test]
fn bad_frontier_flags_are_errors() {
    let dir = TempDir::new("frontier-flags");
    assert!(grid(&args(&dir.0, &["--jitter", "0.7"])).is_err());
    assert!(grid(&args(&dir.0, &["--timeouts", "0"])).is_err());
    assert!(grid(&args(&dir.0, &["--phi-thresholds=-1"])).is_err());
    assert!(grid(&args(&dir.0, &["--traces", "0"])).is_err());
    let parse = |extra: &[&str]| {
        Cli::try_parse_from(["frontier"].iter().chain(extra).copied()).map(|c| c.a)
    };
    assert!(parse(&["--links", "moon"]).is_err());
    assert!(parse(&["--budgets", "0/day"]).is_err());
    assert!(parse(&["--fleet", "lan"]).is_err());
    // A class the theory cannot plan (reordering) is refused before the grid runs.
    let a = args(&dir.0, &["--fleet", "congested=1"]);
    let e = mix::plan(&a).err().expect("congested reorders beats");
    assert!(format!("{e:#}").contains("congested"), "{e:#}");
    assert!(format!("{e:#}").contains("reorders"), "{e:#}");
    let a = args(
        &dir.0,
        &["--fleet", "lan=1,delay=normal:20ms,5ms+pareto:1ms,1.5=1"],
    );
    let e = mix::plan(&a).err().expect("a sum of two random delays");
    assert!(format!("{e:#}").contains("sum of two"), "{e:#}");
}

#[test]
fn the_grid_follows_the_flags() {
    let dir = TempDir::new("frontier-grid");
    let pts = grid(&args(&dir.0, &[])).unwrap();
    let lan: Vec<_> = pts.iter().filter(|p| p.link == 0).collect();
    let dets: Vec<_> = lan.iter().map(|p| p.det).collect();
    assert_eq!(
        dets,
        [
            Det::Fixed,
            Det::Fixed,
            Det::Phi,
            Det::Phi,
            Det::Chen,
            Det::Budget
        ]
    );
    assert_eq!(
        lan[1].scenario.fixed_timeout(),
        Some(Duration::from_secs(4))
    );
    assert_eq!(lan[3].knob2, Some(1.0));
    assert_eq!(lan[3].label, "φ=8 pause=1s");
    assert!(
        lan.iter()
            .all(|p| p.scenario.jitter == 0.05 && !p.scenario.check_invariants)
    );
}
