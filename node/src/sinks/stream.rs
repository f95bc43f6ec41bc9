//! The stream sinks: events on stdout (`--events text|json`, one line each, flushed per
//! event) and as `tracing` records at info level, target `hbnode::event` (shown with
//! `RUST_LOG=hbnode::event=info`).

use std::io::Write as _;

use super::Sink;
use super::kind::SinkKind;
use crate::cli::values::EventFormat;

/// Where a stream sink writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Events on stdout.
    Stdout(EventFormat),
    /// Events as log records.
    Log,
}

/// Starts the sink for `stream`, on its own thread.
pub(crate) fn start(stream: Stream) -> std::io::Result<Sink> {
    match stream {
        Stream::Stdout(format) => Sink::thread(
            SinkKind::Stdout,
            "hbnode-sink-stdout",
            Box::new(move |r| {
                let mut out = std::io::stdout().lock();
                match format {
                    EventFormat::Json => writeln!(out, "{}", r.to_json())?,
                    EventFormat::Text => writeln!(out, "{r}")?,
                }
                out.flush()
            }),
        ),
        Stream::Log => Sink::thread(
            SinkKind::Log,
            "hbnode-sink-log",
            Box::new(|r| {
                tracing::info!(target: "hbnode::event", event = r.event, node = %r.node,
                    addr = %r.addr, incarnation = r.incarnation, silence_ms = r.silence_ms,
                    value = r.value, "{r}");
                Ok(())
            }),
        ),
    }
}
