//! `cmd:` sensors: run a Nagios-compatible plugin, no shell, with a timeout and bounded output.
//!
//! The exit code is the status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; anything else,
//! a signal, a failure to start or a timeout is 3). Readings: the probe `NAME` with the status
//! as its value, and `NAME.LABEL` for each performance data value, with the same status.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;

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
                r.push(Reading::new(&probe, p.value, *code));
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
        assert_eq!(
            readings("check", &out),
            [
                Reading::new("check", 1.0, 1),
                Reading::new("check.t", 5.0, 1),
                Reading::new("check.x", 1.5, 1),
            ]
        );
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
