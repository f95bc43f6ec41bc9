//! Merges the `--config` TOML file under the command line and the environment.
//!
//! The file's keys are the flags' long names. A value is used only where the command line
//! and `HBNODE_*` variables left the flag unset, so precedence is: command line > environment
//! > file > built-in default. Unknown keys and sections are errors, never ignored.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Context as _, bail};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// Why parsing failed: clap's own error (which prints usage, help or version) or ours.
#[derive(Debug)]
pub(crate) enum ParseError {
    /// From clap, including `--help` and `--version`.
    Clap(clap::Error),
    /// From the config file.
    Config(anyhow::Error),
}

impl From<clap::Error> for ParseError {
    fn from(e: clap::Error) -> Self {
        Self::Clap(e)
    }
}

/// Parses `argv` (program name first) with the environment and the config file it names.
pub(crate) fn parse_from(argv: Vec<OsString>) -> Result<Cli, ParseError> {
    // First pass without required-ness: a required flag (`beat --to`) may come from the file.
    let lenient = Cli::command().mut_subcommands(|s| s.mut_args(|a| a.required(false)));
    let matches = lenient.try_get_matches_from(&argv)?;
    let Some(path) = matches.get_one::<std::path::PathBuf>("config").cloned() else {
        let matches = Cli::command().try_get_matches_from(&argv)?;
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let extra = file_args(&path, &matches).map_err(ParseError::Config)?;
    let mut argv = argv;
    argv.extend(extra);
    let matches = Cli::command().try_get_matches_from(&argv)?;
    Ok(Cli::from_arg_matches(&matches)?)
}

/// The flags the file at `path` adds, given what is already set.
fn file_args(path: &Path, matches: &ArgMatches) -> anyhow::Result<Vec<OsString>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
    let root = Cli::command();
    let (sub_name, sub_matches) = matches.subcommand().context("a subcommand is required")?;
    let sub_cmd = root
        .find_subcommand(sub_name)
        .context("unknown subcommand")?;
    let mut out = Vec::new();
    for (key, value) in &table {
        if let toml::Value::Table(section) = value {
            if key == sub_name {
                for (k, v) in section {
                    push_flag(
                        &mut out,
                        sub_cmd,
                        sub_matches,
                        &format!("[{key}] {k}"),
                        k,
                        v,
                    )
                    .with_context(|| format!("in config file {}", path.display()))?;
                }
            } else if root.find_subcommand(key).is_none() {
                let sections: Vec<_> = root
                    .get_subcommands()
                    .filter(|c| {
                        !c.is_hide_set() && c.get_arguments().any(|a| a.get_long().is_some())
                    })
                    .map(|c| format!("[{}]", c.get_name()))
                    .collect();
                bail!(
                    "config file {}: unknown section [{key}]; sections are {}",
                    path.display(),
                    sections.join(", ")
                );
            }
        } else {
            push_flag(&mut out, &root, matches, key, key, value)
                .with_context(|| format!("in config file {}", path.display()))?;
        }
    }
    Ok(out)
}

fn push_flag(
    out: &mut Vec<OsString>,
    cmd: &clap::Command,
    matches: &ArgMatches,
    display: &str,
    key: &str,
    value: &toml::Value,
) -> anyhow::Result<()> {
    let arg = cmd
        .get_arguments()
        .find(|a| a.get_long() == Some(key) && key != "config" && !a.is_hide_set())
        .with_context(|| {
            let keys: Vec<_> = cmd
                .get_arguments()
                .filter_map(|a| a.get_long())
                .filter(|l| !matches!(*l, "config" | "help" | "version"))
                .collect();
            format!(
                "unknown key `{display}`; known keys here: {}",
                keys.join(", ")
            )
        })?;
    if matches!(
        matches.value_source(arg.get_id().as_str()),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    ) {
        return Ok(());
    }
    let flag = format!("--{key}");
    let scalar = |v: &toml::Value| -> anyhow::Result<String> {
        Ok(match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => bail!("`{display}`: expected a string or number, found {other}"),
        })
    };
    match value {
        toml::Value::Boolean(true) => out.push(flag.into()),
        toml::Value::Boolean(false) => {}
        toml::Value::Array(items) => {
            for item in items {
                // `[[monitor.listener]]`, `[[monitor.threshold]]` and `[[monitor.schedule]]` tables.
                let v = match item {
                    toml::Value::Table(t) => {
                        let head = match key {
                            "listener" => "url",
                            "threshold" => "probe",
                            "schedule" => "nodes",
                            _ => bail!("`{display}`: expected strings, not tables"),
                        };
                        table_to_words(t, &format!("[[monitor.{key}]]"), head)?
                    }
                    other => scalar(other)?,
                };
                out.push(format!("{flag}={v}").into());
            }
        }
        v => out.push(format!("{flag}={}", scalar(v)?).into()),
    }
    Ok(())
}

/// A `[[section]]` table as one 'HEAD key=value …' flag value: `head` names the key whose value
/// comes first; every other value must be one word (a list becomes one comma-separated word).
fn table_to_words(t: &toml::Table, section: &str, head: &str) -> anyhow::Result<String> {
    let first = t
        .get(head)
        .and_then(toml::Value::as_str)
        .with_context(|| format!("a {section} table needs {head} = \"…\""))?;
    let mut out = first.to_owned();
    for (k, v) in t {
        if k == head {
            continue;
        }
        let word = |v: &toml::Value| -> anyhow::Result<String> {
            Ok(match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => bail!("{section} {k}: expected a string or number, found {other}"),
            })
        };
        let v = match v {
            // A list (`sensors = ["load@10s", "memory@1m"]`) is one comma-separated word.
            toml::Value::Array(items) => items
                .iter()
                .map(word)
                .collect::<anyhow::Result<Vec<_>>>()?
                .join(","),
            v => word(v)?,
        };
        if v.split_whitespace().count() != 1 {
            bail!("{section} {k}: `{v}` must be one word");
        }
        out.push_str(&format!(" {k}={v}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cli::values::{DetectorKind, EventFormat};
    use crate::cli::{Command, LogFormat};

    fn parse(args: &[&str]) -> Result<Cli, ParseError> {
        let mut argv = vec![OsString::from("hbnode")];
        argv.extend(args.iter().map(OsString::from));
        parse_from(argv)
    }

    fn config(name: &str, text: &str) -> String {
        let dir = std::env::temp_dir().join(format!("hbnode-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write config");
        path.to_string_lossy().into_owned()
    }

    fn monitor(cli: Cli) -> crate::cli::monitor::MonitorArgs {
        match cli.command {
            Command::Monitor(m) => m,
            other => panic!("not monitor: {other:?}"),
        }
    }

    #[test]
    fn monitor_defaults_match_the_issue() {
        let m = monitor(parse(&["monitor"]).expect("parses"));
        assert_eq!(
            m.listen,
            [crate::cli::values::parse_listen("udp://0.0.0.0:43278").unwrap()]
        );
        assert_eq!(m.http.0, Some("127.0.0.1:43280".parse().unwrap()));
        assert_eq!(m.detector.kind, DetectorKind::Fixed);
        assert_eq!(m.events, EventFormat::Text);
        assert_eq!(m.recv_buffer, 8 << 20);
        assert_eq!(m.detector.timeout, None);
    }

    #[test]
    fn listen_is_repeatable_and_http_can_be_off() {
        let m = monitor(
            parse(&[
                "monitor",
                "--listen",
                "udp://127.0.0.1:1",
                "--listen",
                "udp://[::1]:2",
                "--http",
                "off",
            ])
            .expect("parses"),
        );
        assert_eq!(m.listen.len(), 2);
        assert_eq!(m.http.0, None);
    }

    #[test]
    fn listen_without_scheme_is_refused() {
        assert!(matches!(
            parse(&["monitor", "--listen", "127.0.0.1:1"]),
            Err(ParseError::Clap(_))
        ));
    }

    #[test]
    fn config_file_fills_flags_the_command_line_left_unset() {
        let path = config(
            "ok.toml",
            "log-format = \"json\"\n[monitor]\ntimeout = \"2s\"\nevents = \"json\"\nlisten = [\"udp://127.0.0.1:7\", \"udp://127.0.0.1:8\"]\n[beat]\nperiod = \"9s\"\n",
        );
        let cli = parse(&["monitor", "--config", &path, "--timeout", "3s"]).expect("parses");
        assert_eq!(cli.log_format, LogFormat::Json);
        let m = monitor(cli);
        assert_eq!(
            m.detector.timeout,
            Some(Duration::from_secs(3)),
            "command line wins"
        );
        assert_eq!(m.events, EventFormat::Json, "file fills in");
        assert_eq!(m.listen.len(), 2);
    }

    #[test]
    fn config_file_sets_witness_mode() {
        let path = config(
            "witness.toml",
            "[monitor]\nlisten = [\"udp://127.0.0.1:7000\"]\n\
             witness = [\"127.0.0.1:7001\", \"127.0.0.1:7002\"]\nquorum = 3\n\
             witness-period = \"500ms\"\n",
        );
        let m = monitor(parse(&["monitor", "--config", &path]).expect("parses"));
        let q = m
            .witness
            .config(&["127.0.0.1:7000".parse().unwrap()])
            .expect("valid")
            .expect("witness mode");
        assert_eq!(q.witnesses.len(), 2);
        assert_eq!((q.needed, q.period), (3, Duration::from_millis(500)));
    }

    #[test]
    fn config_file_sets_the_budget_detector_and_a_budget_listener() {
        let path = config(
            "budget.toml",
            "[monitor]\ndetector = \"budget\"\nbudget = \"2/day\"\n\
             [[monitor.listener]]\nurl = \"udp://127.0.0.1:9\"\nbudget = \"1/hour\"\n",
        );
        let m = monitor(parse(&["monitor", "--config", &path]).expect("parses"));
        assert_eq!(m.detector.kind, DetectorKind::Budget);
        let day = hb_core::detector::AlarmRate::parse("2/day").unwrap();
        assert_eq!(m.detector.budget, Some(day));
        let hour = hb_core::detector::AlarmRate::parse("1/hour").unwrap();
        assert_eq!(m.listener[0].detector.budget, Some(hour));
        let bad = config("bad-budget.toml", "[monitor]\nbudget = \"abc\"\n");
        assert!(matches!(
            parse(&["monitor", "--config", &bad]),
            Err(ParseError::Clap(_))
        ));
    }

    #[test]
    fn listener_and_threshold_tables_become_flag_values() {
        let path = config(
            "tables.toml",
            "[[monitor.listener]]\nurl = \"text+udp://127.0.0.1:1664\"\ntimeout = \"3s\"\n\
             [[monitor.threshold]]\nprobe = \"load1\"\nwarning = 4\nerror = \"8\"\n\
             [[monitor.threshold]]\nprobe = \"disk.*\"\nerror = \"@0:10\"\nnodes = \"db-*\"\n\
             [[monitor.schedule]]\nnodes = \"web-*\"\nperiod = \"2s\"\nsensors = [\"load@10s\", \"memory@1m\"]\n",
        );
        let m = monitor(parse(&["monitor", "--config", &path]).expect("parses"));
        assert_eq!(m.listener.len(), 1);
        assert_eq!(m.threshold.len(), 2);
        assert_eq!(m.schedule.len(), 1);
        assert!(m.threshold[1].nodes.as_ref().unwrap().matches("db-3"));
        assert!(!m.threshold[1].nodes.as_ref().unwrap().matches("web-3"));
        for (text, why) in [
            ("[[monitor.threshold]]\nwarning = 4\n", "needs probe"),
            (
                "[[monitor.threshold]]\nprobe = \"x\"\nwarn = 4\n",
                "unknown key `warn`",
            ),
            (
                "[[monitor.threshold]]\nprobe = \"x\"\nerror = \"a b\"\n",
                "one word",
            ),
            ("[[monitor.listener]]\ntimeout = \"3s\"\n", "needs url"),
            ("[[monitor.schedule]]\nperiod = \"3s\"\n", "needs nodes"),
            (
                "[[monitor.schedule]]\nnodes = \"a\"\nperiod = \"1 s\"\n",
                "one word",
            ),
            (
                "[[monitor.schedule]]\nnodes = \"a\"\nsensors = [1, {}]\n",
                "expected a string",
            ),
            ("[[monitor.webhook]]\nurl = \"x\"\n", "not tables"),
        ] {
            let bad = config("bad-table.toml", text);
            let err = match parse(&["monitor", "--config", &bad]) {
                Err(ParseError::Config(e)) => format!("{e:#}"),
                Err(ParseError::Clap(e)) => e.to_string(),
                Ok(_) => panic!("accepted {text:?}"),
            };
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn config_file_with_unknown_section_or_bad_toml_is_an_error() {
        let bad = config("section.toml", "[monitr]\ntimeout = \"1s\"\n");
        assert!(matches!(
            parse(&["monitor", "--config", &bad]),
            Err(ParseError::Config(e)) if format!("{e:#}").contains("[monitr]")
        ));
        let bad = config("syntax.toml", "timeout = \n");
        assert!(matches!(
            parse(&["monitor", "--config", &bad]),
            Err(ParseError::Config(_))
        ));
    }

    #[test]
    fn required_flag_can_come_from_the_config_file() {
        let path = config("beat.toml", "[beat]\nto = [\"127.0.0.1:9\"]\n");
        let cli = parse(&["beat", "--config", &path]).expect("parses");
        match cli.command {
            Command::Beat(b) => assert_eq!(b.to, ["127.0.0.1:9"]),
            other => panic!("not beat: {other:?}"),
        }
        let empty = config("empty.toml", "");
        assert!(matches!(
            parse(&["beat", "--config", &empty]),
            Err(ParseError::Clap(_))
        ));
        assert!(matches!(parse(&["beat"]), Err(ParseError::Clap(_))));
    }

    /// The example config shipped in the release tarball is accepted as is.
    #[test]
    fn shipped_example_config_is_accepted_by_monitor_and_beat() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../dist/hbnode.toml");
        let m = monitor(parse(&["monitor", "--config", path]).expect("monitor parses"));
        crate::commands::monitor::MonitorSettings::from_args(m)
            .expect("monitor settings are valid");
        let cli = parse(&["beat", "--config", path]).expect("beat parses");
        match cli.command {
            Command::Beat(b) => {
                crate::commands::beat::BeatSettings::from_args(b).expect("beat settings are valid");
            }
            other => panic!("not beat: {other:?}"),
        }
        parse(&["status", "--config", path]).expect("status parses");
    }

    #[test]
    fn schedule_tables_and_sensor_arrays_come_from_the_config_file() {
        let path = config(
            "schedule.toml",
            "[monitor]\n[[monitor.schedule]]\nnodes = \"web-*\"\nperiod = \"2s\"\nsensors = [\"load@10s\"]\n\
             [[monitor.schedule]]\nnodes = \"*\"\nredirect = \"127.0.0.1:9\"\n\
             [beat]\nto = [\"127.0.0.1:9\"]\nsensor = [\"load\", \"cmd:c@1m=check -w 1\"]\n",
        );
        let m = monitor(parse(&["monitor", "--config", &path]).expect("monitor parses"));
        assert_eq!(m.schedule.len(), 2);
        assert!(m.schedule[0].nodes.matches("web-1"));
        assert_eq!(m.schedule[0].period, Some(Duration::from_secs(2)));
        assert_eq!(m.schedule[1].redirect.as_deref(), Some("127.0.0.1:9"));
        let settings = crate::commands::monitor::MonitorSettings::from_args(m).expect("valid");
        assert_eq!(settings.schedules.len(), 2);
        match parse(&["beat", "--config", &path])
            .expect("beat parses")
            .command
        {
            Command::Beat(b) => {
                let names: Vec<_> = b.sensor.iter().map(|s| s.name.as_str()).collect();
                assert_eq!(names, ["load", "c"]);
            }
            other => panic!("not beat: {other:?}"),
        }
        let bad = config(
            "badschedule.toml",
            "[[monitor.schedule]]\nperiod = \"2s\"\n",
        );
        assert!(matches!(
            parse(&["monitor", "--config", &bad]),
            Err(ParseError::Config(e)) if format!("{e:#}").contains("nodes")
        ));
        let table_elsewhere = config("badtable.toml", "[[monitor.listen]]\nurl = \"x\"\n");
        assert!(matches!(
            parse(&["monitor", "--config", &table_elsewhere]),
            Err(ParseError::Config(_))
        ));
    }

    #[test]
    fn value_parsers_accept_documented_forms() {
        use crate::cli::values::{parse_bytes, parse_duration, parse_percent};
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5").is_err());
        assert_eq!(parse_bytes("8MiB"), Ok(8 << 20));
        assert_eq!(parse_bytes("512KiB"), Ok(512 << 10));
        assert_eq!(parse_bytes("65536"), Ok(65536));
        assert!(parse_bytes("lots").is_err());
        assert_eq!(parse_percent("10%"), Ok(0.1));
        assert_eq!(parse_percent("0"), Ok(0.0));
        assert!(parse_percent("60").is_err());
    }
}
