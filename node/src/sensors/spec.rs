//! `--sensor SPEC`: which sensors a beater runs and how often.
//!
//! ```text
//! load | memory | processes          built-ins, read from /proc
//! NAME@DUR                           …every DUR instead of every 10s (load@30s)
//! cmd:NAME[@DUR]=PLUGIN [ARGS…]      a Nagios-compatible plugin, split like a shell would
//!                                    (quotes, backslashes) but run without one
//! ```

use std::time::Duration;

use crate::cli::values::parse_duration;

/// How often a sensor runs when its spec and the monitor's schedule do not say.
pub(crate) const DEFAULT_EVERY: Duration = Duration::from_secs(10);
/// Shortest sensor interval accepted.
pub(crate) const MIN_EVERY: Duration = Duration::from_millis(100);
/// Longest sensor name, in bytes (the probe names it produces must fit the wire's 32).
pub(crate) const MAX_NAME_LEN: usize = 32;

/// What a sensor reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SensorKind {
    /// `load`: load1, load5, load15.
    Load,
    /// `memory`: mem_used_bytes, mem_free_bytes, mem_used_pct, swap_used_pct.
    Memory,
    /// `processes`: procs_running, procs_total.
    Processes,
    /// `cmd:`: a plugin's argv.
    Cmd(Vec<String>),
}

/// A `--sensor` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SensorSpec {
    /// Its name: the built-in's, or the `cmd:` sensor's (what schedules refer to).
    pub(crate) name: String,
    /// Its interval, if the spec gives one.
    pub(crate) every: Option<Duration>,
    /// What it reads.
    pub(crate) kind: SensorKind,
}

impl SensorSpec {
    /// The built-in sensor called `name`, if there is one.
    pub(crate) fn builtin(name: &str) -> Option<Self> {
        let kind = match name {
            "load" => SensorKind::Load,
            "memory" => SensorKind::Memory,
            "processes" => SensorKind::Processes,
            _ => return None,
        };
        Some(Self {
            name: name.to_owned(),
            every: None,
            kind,
        })
    }
}

/// Parses `NAME[@DUR]` into the name and interval.
pub(crate) fn name_every(s: &str) -> Result<(&str, Option<Duration>), String> {
    let (name, every) = match s.split_once('@') {
        Some((n, d)) => (n, Some(parse_duration(d)?)),
        None => (s, None),
    };
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(ok) {
        return Err(format!(
            "sensor name `{name}`: 1–{MAX_NAME_LEN} letters, digits, `_`, `-` or `.`"
        ));
    }
    if every.is_some_and(|e| e < MIN_EVERY) {
        return Err(format!(
            "sensor `{name}`: the interval must be at least 100ms"
        ));
    }
    Ok((name, every))
}

/// Parses a `--sensor` value.
pub(crate) fn parse_sensor(s: &str) -> Result<SensorSpec, String> {
    if let Some(rest) = s.strip_prefix("cmd:") {
        let (head, command) = rest.split_once('=').ok_or_else(|| {
            format!("`{s}` is not cmd:NAME=PLUGIN ARGS (e.g. 'cmd:disk=/usr/lib/nagios/plugins/check_disk -w 10% /')")
        })?;
        let (name, every) = name_every(head.trim())?;
        let argv = shlex::split(command)
            .ok_or_else(|| format!("sensor `{name}`: unbalanced quotes in `{command}`"))?;
        if argv.is_empty() {
            return Err(format!("sensor `{name}`: the command is empty"));
        }
        return Ok(SensorSpec {
            name: name.to_owned(),
            every,
            kind: SensorKind::Cmd(argv),
        });
    }
    let (name, every) = name_every(s.trim())?;
    let mut spec = SensorSpec::builtin(name).ok_or_else(|| {
        format!("`{name}` is not a sensor: use load, memory, processes or cmd:NAME=PLUGIN ARGS")
    })?;
    spec.every = every;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_intervals() {
        let s = parse_sensor("load@30s").unwrap();
        assert_eq!(
            (s.name.as_str(), s.every, s.kind),
            ("load", Some(Duration::from_secs(30)), SensorKind::Load)
        );
        assert_eq!(parse_sensor("memory").unwrap().every, None);
        assert_eq!(
            parse_sensor("processes").unwrap().kind,
            SensorKind::Processes
        );
        assert!(parse_sensor("cpu").is_err());
        assert!(parse_sensor("load@soon").is_err());
        assert!(parse_sensor("load@10ms").is_err());
    }

    #[test]
    fn cmd_sensors_split_like_a_shell_without_one() {
        let s = parse_sensor(r#"cmd:check@1m=sh -c "echo OK|t=5;1;2; exit 1""#).unwrap();
        assert_eq!(s.name, "check");
        assert_eq!(s.every, Some(Duration::from_secs(60)));
        assert_eq!(
            s.kind,
            SensorKind::Cmd(vec![
                "sh".into(),
                "-c".into(),
                "echo OK|t=5;1;2; exit 1".into()
            ])
        );
        let d = parse_sensor("cmd:disk=/usr/lib/nagios/plugins/check_disk -w 10% /").unwrap();
        assert_eq!(
            d.kind,
            SensorKind::Cmd(vec![
                "/usr/lib/nagios/plugins/check_disk".into(),
                "-w".into(),
                "10%".into(),
                "/".into()
            ])
        );
        assert!(parse_sensor("cmd:disk").is_err());
        assert!(parse_sensor("cmd:=true").is_err());
        assert!(parse_sensor("cmd:a b=true").is_err());
        assert!(parse_sensor("cmd:x=").is_err());
        assert!(parse_sensor("cmd:x='open").is_err());
        assert!(parse_sensor(&format!("cmd:{}=true", "n".repeat(33))).is_err());
    }
}
