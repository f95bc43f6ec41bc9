//! A minimal blocking HTTP/1.0 GET, enough for `hbnode status` to read a monitor's JSON API
//! without starting a runtime.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// GETs `path` from `host:port`; returns the body of a 200 response.
pub(crate) fn get(addr: &str, path: &str, timeout: Duration) -> anyhow::Result<String> {
    let (status, body) = get_any(addr, path, timeout)?;
    if status != 200 {
        bail!("GET {path} on {addr} answered {status}: {}", body.trim());
    }
    Ok(body)
}

/// GETs `path` from `host:port`; returns the status and body of any HTTP response.
pub(crate) fn get_any(addr: &str, path: &str, timeout: Duration) -> anyhow::Result<(u16, String)> {
    let sock = addr
        .to_socket_addrs()
        .with_context(|| format!("`{addr}` is not HOST:PORT"))?
        .next()
        .with_context(|| format!("`{addr}` resolves to no address"))?;
    let mut s = TcpStream::connect_timeout(&sock, timeout).with_context(|| {
        format!("cannot connect to the monitor's HTTP API at {sock}; is `hbnode monitor` running with --http {addr}?")
    })?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    if let Err(e) = s.read_to_end(&mut raw) {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            bail!(
                "the monitor at {sock} did not answer GET {path} within {}",
                humantime::format_duration(timeout)
            );
        }
        return Err(e).with_context(|| format!("reading the response from {sock}"));
    }
    let text = String::from_utf8(raw).context("the response is not UTF-8")?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("the response is not HTTP")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .context("the response has no HTTP status")?;
    Ok((status, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monitor_that_never_answers_is_a_timeout_not_an_os_error() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap().to_string();
        // The kernel completes the connection; nobody ever writes back.
        let err = get_any(&addr, "/v1/nodes", Duration::from_millis(200)).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("did not answer GET /v1/nodes within 200ms"),
            "{msg}"
        );
        drop(silent);
    }
}
