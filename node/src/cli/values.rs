//! Value parsers and value types shared by many flags (durations, sizes, URLs, hooks); the
//! runtime reuses them for the config file and spec syntaxes. A leaf: it imports nothing of cli.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use clap::ValueEnum;

/// A spec's head and its key=value pairs, borrowed from the spec.
pub(crate) type Spec<'a> = (&'a str, Vec<(&'a str, &'a str)>);

/// Splits a `HEAD key=value …` spec (`--listener`, `--schedule`, and the config tables turned
/// into them): its head, without an optional `HEAD_KEY=` prefix, and its key=value pairs.
/// `flag` and `head` name the flag and the head in errors (`--listener`, `URL`).
pub(crate) fn parse_spec<'a>(s: &'a str, flag: &str, head: &str) -> Result<Spec<'a>, String> {
    let mut words = s.split_whitespace();
    let first = words
        .next()
        .ok_or_else(|| format!("empty {flag}: expected {head} [key=value …]"))?;
    let prefix = format!("{}=", head.to_ascii_lowercase());
    let first = first.strip_prefix(prefix.as_str()).unwrap_or(first);
    let pairs = words
        .map(|w| {
            w.split_once('=')
                .ok_or_else(|| format!("`{w}` is not key=value"))
        })
        .collect::<Result<_, _>>()?;
    Ok((first, pairs))
}

/// Checks that `url` is a plain `http://` URL with a host.
pub(crate) fn validate_http_url(url: &str) -> Result<awc::http::Uri, String> {
    let uri: awc::http::Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(format!(
            "`{url}` is not an http://HOST:PORT URL (https is not supported; use a local proxy)"
        ));
    }
    Ok(uri)
}

/// Parses `--alertmanager-label KEY=VALUE` (KEY a Prometheus label name other than
/// `alertname` and `node`).
pub(crate) fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE (e.g. team=infra)"))?;
    let valid = k
        .chars()
        .enumerate()
        .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if k.is_empty() || !valid || k.starts_with("__") {
        return Err(format!(
            "`{k}` is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"
        ));
    }
    if k == "alertname" || k == "node" {
        return Err(format!("the `{k}` label is set by hbnode"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// Parses a plain `http://` URL (the Alertmanager and webhook actions).
pub(crate) fn parse_http_url(s: &str) -> Result<String, String> {
    validate_http_url(s).map(|_| s.to_owned())
}

/// The protocol a `--listen` URL speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListenKind {
    /// `udp://`: hbnode's own beats.
    Udp,
    /// `pyhb+udp://`: PyHeartbeat.
    PyHb,
    /// `text+udp://`: one regex-parsed line per datagram (Circus).
    Text,
    /// `json+tcp://`: the TCP/JSON heartbeat.
    JsonTcp,
}

impl ListenKind {
    /// The URL scheme, without `://`.
    pub(crate) fn scheme(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::PyHb => "pyhb+udp",
            Self::Text => "text+udp",
            Self::JsonTcp => "json+tcp",
        }
    }

    /// Whether the protocol carries a MAC (only hbnode's own beats do).
    pub(crate) fn has_mac(self) -> bool {
        self == Self::Udp
    }
}

/// A `--listen` URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ListenUrl {
    /// The protocol.
    pub(crate) kind: ListenKind,
    /// Where to bind.
    pub(crate) addr: SocketAddr,
}

/// `SCHEME://IP:PORT`, as given to `--listen`.
impl std::fmt::Display for ListenUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.kind.scheme(), self.addr)
    }
}

/// An `--on EVENT=CMD` hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HookSpec {
    /// The event name, or `any`.
    pub(crate) event: String,
    /// The shell command.
    pub(crate) command: String,
}

/// Every monitor event name, as in the JSON event stream (and what `--on` accepts besides `any`).
pub(crate) const EVENT_NAMES: [&str; 21] = [
    "joined",
    "down",
    "up",
    "restarted",
    "left",
    "forgotten",
    "probe_ok",
    "probe_warning",
    "probe_error",
    "probe_unknown",
    "isolated",
    "reconnected",
    "hold_expired",
    "zone_down",
    "zone_up",
    "unreachable",
    "reachable",
    "witness_down",
    "witness_up",
    "quorum_lost",
    "quorum_regained",
];

/// Parses `--on EVENT=CMD`.
pub(crate) fn parse_hook(s: &str) -> Result<HookSpec, String> {
    hook_for(s, &EVENT_NAMES, "an event", "down=kill -9 $HBNODE_PID")
}

/// Parses `EVENT=CMD` with EVENT `any` or one of `events`.
pub(crate) fn hook_for(
    s: &str,
    events: &[&str],
    what: &str,
    example: &str,
) -> Result<HookSpec, String> {
    let (event, command) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not EVENT=CMD (e.g. '{example}')"))?;
    let event = event.trim();
    if event != "any" && !events.contains(&event) {
        return Err(format!(
            "`{event}` is not {what}: use any, {}",
            events.join(", ")
        ));
    }
    if command.trim().is_empty() {
        return Err(format!("`{s}` has an empty command"));
    }
    Ok(HookSpec {
        event: event.to_owned(),
        command: command.to_owned(),
    })
}
/// `--http`: an address, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HttpAddr(pub(crate) Option<SocketAddr>);

impl FromStr for HttpAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(Self(None));
        }
        s.parse()
            .map(|a| Self(Some(a)))
            .map_err(|_| format!("`{s}` is not IP:PORT (e.g. 127.0.0.1:43280) or `off`"))
    }
}

/// Parses `SCHEME://HOST:PORT` (HOST an IP address, IPv6 in brackets); the schemes are
/// `udp`, `pyhb+udp`, `text+udp` and `json+tcp`.
pub(crate) fn parse_listen(s: &str) -> Result<ListenUrl, String> {
    let schemes = [
        ("udp://", ListenKind::Udp),
        ("pyhb+udp://", ListenKind::PyHb),
        ("text+udp://", ListenKind::Text),
        ("json+tcp://", ListenKind::JsonTcp),
    ];
    let Some((kind, rest)) = schemes
        .iter()
        .find_map(|(p, k)| s.strip_prefix(p).map(|r| (*k, r)))
    else {
        return Err(format!(
            "`{s}` is not a listen URL: use udp://IP:PORT (e.g. udp://0.0.0.0:43278), \
             pyhb+udp://, text+udp:// or json+tcp://"
        ));
    };
    let addr = rest
        .parse()
        .map_err(|_| format!("`{rest}` is not IP:PORT (e.g. 0.0.0.0:43278 or [::]:43278)"))?;
    Ok(ListenUrl { kind, addr })
}

/// Parses a duration such as `250ms`, `5s` or `1m 30s`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 250ms or 5s: {e}"))
}

/// Parses a duration no longer than `max` (what timers and deadlines can add to "now"
/// without overflowing); `flag` names it in the error.
pub(crate) fn parse_duration_at_most(
    s: &str,
    max: Duration,
    flag: &str,
) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > max {
        return Err(format!(
            "{flag} `{s}` is too long: at most {}",
            humantime::format_duration(max)
        ));
    }
    Ok(d)
}

/// Longest `--alertmanager-resend`: a day (alerts' endsAt is 4 × it ahead).
pub(crate) const MAX_ALERTMANAGER_RESEND: Duration = Duration::from_secs(86_400);

/// Parses `--alertmanager-resend` (at most [`MAX_ALERTMANAGER_RESEND`]).
pub(crate) fn parse_resend(s: &str) -> Result<Duration, String> {
    parse_duration_at_most(s, MAX_ALERTMANAGER_RESEND, "--alertmanager-resend")
}

/// Longest `hbnode peers --wait`: an hour.
pub(crate) const MAX_PEERS_WAIT: Duration = Duration::from_secs(3600);

/// Parses `hbnode peers --wait` (at most [`MAX_PEERS_WAIT`]).
pub(crate) fn parse_peers_wait(s: &str) -> Result<Duration, String> {
    parse_duration_at_most(s, MAX_PEERS_WAIT, "--wait")
}

/// Longest `--tcp-idle-timeout`: a day (longer only lets idle sockets hold connection slots).
pub(crate) const MAX_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Parses `--tcp-idle-timeout`: more than 0 and at most [`MAX_TCP_IDLE_TIMEOUT`].
pub(crate) fn parse_tcp_idle_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration_at_most(s, MAX_TCP_IDLE_TIMEOUT, "--tcp-idle-timeout")?;
    if d.is_zero() {
        return Err(format!(
            "--tcp-idle-timeout `{s}` must be more than 0s: a silent connection is closed after it"
        ));
    }
    Ok(d)
}

/// Parses a byte size: a number with an optional `KiB`, `MiB` or `GiB` suffix.
pub(crate) fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, mult) = [
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ]
    .iter()
    .find_map(|(suf, m)| t.strip_suffix(suf).map(|n| (n.trim(), *m)))
    .unwrap_or((t, 1usize));
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{s}` is not a size like 8MiB, 512KiB or 65536"))
}

/// Parses a percentage from 0 to 50 (`5` or `5%`) into a fraction.
pub(crate) fn parse_percent(s: &str) -> Result<f64, String> {
    let n: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage like 5 or 5%"))?;
    if (0.0..=50.0).contains(&n) {
        Ok(n / 100.0)
    } else {
        Err(format!("jitter must be between 0% and 50%, not {s}"))
    }
}

/// `--detector`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum DetectorKind {
    /// Fixed timeout.
    Fixed,
    /// φ-accrual.
    Phi,
    /// Chen–Toueg–Aguilera NFD-E.
    Chen,
    /// Per-node timeout meeting a false-alarm budget on the node's own link.
    Budget,
}

/// `--budget`: a false-alarm budget per node, `N/hour`, `N/day` or `N/year`.
pub(crate) fn parse_budget(s: &str) -> Result<hb_core::detector::AlarmRate, String> {
    hb_core::detector::AlarmRate::parse(s).map_err(|e| e.to_string())
}

/// `--events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum EventFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (schema: docs/events.md).
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13 item 9: durations that would overflow a timer are refused with the bound.
    #[test]
    fn huge_resend_and_wait_durations_are_refused_with_the_bound() {
        assert_eq!(parse_resend("60s"), Ok(Duration::from_secs(60)));
        let e = parse_resend("100000000years").unwrap_err();
        assert!(
            e.contains("--alertmanager-resend") && e.contains("at most 1day"),
            "{e}"
        );
        assert_eq!(parse_peers_wait("1h"), Ok(MAX_PEERS_WAIT));
        let e = parse_peers_wait("1h 1s").unwrap_err();
        assert!(e.contains("--wait") && e.contains("at most 1h"), "{e}");
        assert!(parse_resend("junk").is_err());
    }

    /// Issue 13 item 9: the TCP idle timeout is more than 0 and at most a day.
    #[test]
    fn tcp_idle_timeout_refuses_zero_and_absurd_values() {
        assert_eq!(
            parse_tcp_idle_timeout("500ms"),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(parse_tcp_idle_timeout("1day"), Ok(MAX_TCP_IDLE_TIMEOUT));
        let e = parse_tcp_idle_timeout("0s").unwrap_err();
        assert!(
            e.contains("--tcp-idle-timeout") && e.contains("more than 0s"),
            "{e}"
        );
        let e = parse_tcp_idle_timeout("100000000years").unwrap_err();
        assert!(
            e.contains("--tcp-idle-timeout") && e.contains("at most 1day"),
            "{e}"
        );
        assert!(parse_tcp_idle_timeout("soon").is_err());
    }
}
