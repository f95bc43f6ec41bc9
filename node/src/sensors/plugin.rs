//! `cmd:` sensors: run a Nagios-compatible plugin, no shell, with a timeout and bounded output.
//!
//! The exit code is the status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; anything else,
//! a signal, a failure to start or a timeout is 3). Readings: the probe `NAME` with the status
//! as its value, and `NAME.LABEL` for each performance data value, with the same status and
//! the item's unit, warn/crit ranges, min and max (the monitor judges the probe by those
//! ranges unless one of its own rules covers it).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;

use hb_core::probe::{ProbeMeta, Unit};

use super::Reading;
use super::perfdata;

/// Most bytes of a plugin's stdout read; the rest is discarded.
pub(crate) const MAX_OUTPUT: usize = 16 * 1024;

/// How a run ended.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    /// It exited: its status (0–3) and stdout.
    Exited(u8, String),
    /// It did not start.
    NotStarted(String),
    /// Killed after the timeout.
    TimedOut,
}

/// Runs `argv` (in its own process group, killed whole on timeout) and waits at most `timeout`.
pub(crate) async fn run(argv: &[String], timeout: Duration) -> Outcome {
    let Some((program, args)) = argv.split_first() else {
        return Outcome::NotStarted("empty command".into());
    };
    let mut child = match tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Outcome::NotStarted(e.to_string()),
    };
    let pid = child.id();
    let mut stdout = child.stdout.take();
    let work = async {
        let mut out = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(MAX_OUTPUT as u64).read_to_end(&mut out).await;
        }
        // Close our end: a plugin still writing gets EPIPE instead of blocking.
        drop(stdout);
        let status = child.wait().await;
        (status, out)
    };
    match tokio::time::timeout(timeout, work).await {
        Ok((Ok(status), out)) => {
            let code = status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .filter(|c| *c <= 3)
                .unwrap_or(3);
            Outcome::Exited(code, String::from_utf8_lossy(&out).into_owned())
        }
        Ok((Err(e), _)) => Outcome::NotStarted(e.to_string()),
        Err(_) => {
            // The whole group: `sh -c` would leave its children holding our pipe. The `--`
            // matters: procps kill(1) reads a bare `-PID` as an option (`kill -KILL -10` sent
            // SIGKILL to every process, pid -1).
            if let Some(pid) = pid.filter(|p| *p > 1) {
                let _ = tokio::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .await;
            }
            Outcome::TimedOut
        }
    }
}

/// The readings of sensor `name` for `outcome`, logging failures.
pub(crate) fn readings(name: &str, outcome: &Outcome) -> Vec<Reading> {
    match outcome {
        Outcome::Exited(code, out) => {
            let mut r = vec![Reading::new(name, f64::from(*code), *code)];
            for p in perfdata::of_output(out) {
                let probe = format!("{name}.{}", p.label);
                if probe.len() > hb_core::wire::MAX_PROBE_LEN {
                    tracing::debug!(sensor = name, %probe, "perfdata label too long for a probe name; skipped");
                    continue;
                }
                let meta = meta(name, &probe, &p);
                r.push(Reading {
                    meta,
                    ..Reading::new(&probe, p.value, *code)
                });
            }
            r
        }
        Outcome::NotStarted(e) => {
            tracing::error!(sensor = name, error = %e, "cannot run sensor plugin");
            vec![Reading::new(name, 3.0, 3)]
        }
        Outcome::TimedOut => {
            tracing::warn!(sensor = name, "sensor plugin timed out and was killed");
            vec![Reading::new(name, 3.0, 3)]
        }
    }
}

/// The meta of one perfdata item; what cannot ride on the wire is dropped and debug-logged.
fn meta(sensor: &str, probe: &str, p: &perfdata::Perf) -> ProbeMeta {
    if p.dropped > 0 {
        tracing::debug!(
            sensor,
            probe,
            dropped = p.dropped,
            "perfdata thresholds, min or max that are not Nagios ranges or numbers; dropped"
        );
    }
    let unit = Unit::new(&p.uom).unwrap_or_else(|e| {
        tracing::debug!(sensor, probe, error = %e, "perfdata unit dropped");
        Unit::NONE
    });
    ProbeMeta {
        unit,
        warning: p.warning,
        critical: p.critical,
        min: p.min,
        max: p.max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[actix_rt::test]
    async fn exit_code_and_perfdata_become_readings() {
        let out = run(
            &sh("echo 'WARN - t is 5|t=5;1;2 x=1.5s'; exit 1"),
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(
            out,
            Outcome::Exited(1, "WARN - t is 5|t=5;1;2 x=1.5s\n".into())
        );
        let got = readings("check", &out);
        assert_eq!(
            got.iter()
                .map(|r| (r.probe.as_str(), r.value, r.status))
                .collect::<Vec<_>>(),
            [("check", 1.0, 1), ("check.t", 5.0, 1), ("check.x", 1.5, 1)]
        );
        assert!(got[0].meta.is_empty());
        let t = got[1].meta;
        assert_eq!(
            (
                t.warning.map(|r| r.to_string()),
                t.critical.map(|r| r.to_string())
            ),
            (Some("1".into()), Some("2".into()))
        );
        assert_eq!(got[2].meta.unit.as_str(), "s");
    }

    /// Issue 14: check_disk's and check_load's perfdata keep unit, warn/crit, min and max; a
    /// unit no perfdata could carry back is dropped, the value kept.
    #[test]
    fn perfdata_items_keep_their_meta() {
        let out = Outcome::Exited(
            0,
            "OK | load1=0.740;5.000;10.000;0; /=2643MB;5948;5958;0;5968 odd=1verylongunit;x\n"
                .into(),
        );
        let got = readings("d", &out);
        let m = |i: usize| {
            let m = got[i].meta;
            (
                got[i].probe.as_str(),
                m.unit.to_string(),
                m.warning.map(|r| r.to_string()),
                m.critical.map(|r| r.to_string()),
                m.min,
                m.max,
            )
        };
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            m(1),
            ("d.load1", "".into(), s("5"), s("10"), Some(0.0), None)
        );
        assert_eq!(
            m(2),
            (
                "d./",
                "MB".into(),
                s("5948"),
                s("5958"),
                Some(0.0),
                Some(5968.0)
            )
        );
        assert_eq!(m(3), ("d.odd", "".into(), None, None, None, None));
        assert_eq!(got[3].value, 1.0);
    }

    #[actix_rt::test]
    async fn odd_exits_are_unknown() {
        let out = run(&sh("exit 7"), Duration::from_secs(20)).await;
        assert_eq!(out, Outcome::Exited(3, String::new()));
        let out = run(&sh("kill -9 $$"), Duration::from_secs(20)).await;
        assert!(matches!(out, Outcome::Exited(3, _)));
        let out = run(&["/nonexistent/plugin".to_owned()], Duration::from_secs(20)).await;
        assert!(matches!(out, Outcome::NotStarted(_)));
        assert_eq!(readings("p", &out), [Reading::new("p", 3.0, 3)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_plugin_is_killed_at_the_timeout() {
        let out = run(&sh("sleep 600"), Duration::from_millis(200)).await;
        assert_eq!(out, Outcome::TimedOut);
        assert_eq!(readings("slow", &out), [Reading::new("slow", 3.0, 3)]);
    }

    #[actix_rt::test]
    async fn output_is_bounded() {
        let out = run(
            &sh("head -c 100000 /dev/zero | tr '\\0' x; echo '|a=1'"),
            Duration::from_secs(20),
        )
        .await;
        // Cut off, the shell normally dies of SIGPIPE writing the rest (status 3).
        let Outcome::Exited(_, text) = out else {
            panic!("did not exit")
        };
        assert_eq!(text.len(), MAX_OUTPUT);
    }
}
