//! The `json+tcp://` listener: the TCP/JSON heartbeat.
//!
//! Each connection is greeted with one line, then sends JSON objects back to back or
//! newline-delimited. A closed or reset connection means the nodes it carried are down at once
//! (reason `connection closed`); junk, a wrong field type or more than
//! [`DEFAULT_MAX_BUFFER`] bytes without a complete object closes that connection only, counted
//! as a `bad_legacy_format` rejection. Connections beyond `--max-connections` are closed at
//! once and counted.
//!
//! A connection that sends nothing for `--tcp-idle-timeout` is closed and counted
//! (`hbnode_tcp_connections_idle_closed_total`), and, like any closed connection, takes the
//! nodes it carried down at once (reason `connection closed`): silence on a TCP heartbeat is a
//! failure the detector would declare anyway, and idle sockets must not hold the
//! `--max-connections` slots real clients need.
//!
//! A peer can cause refused, bad and idle connections at will, so their warnings go through
//! one [`LogLimiter`] per listener: the first is logged, then at most one line per
//! [`LOG_INTERVAL`] says how many more there were.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Addr;
use hb_core::NodeId;
use hb_core::legacy::{DEFAULT_MAX_BUFFER, JsonStream};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::{LegacyIngest, LegacyInput};
use crate::process::log_limit::{LogLimiter, Note};
use crate::runtime::clock::Clock;
use crate::runtime::detector::DetectorActor;
use crate::runtime::stats::{Stats, inc};

/// Most distinct node ids one connection may carry (normally one); further ids still beat but
/// are not marked down when the connection closes.
pub(crate) const MAX_NODES_PER_CONNECTION: usize = 64;

/// How long writing the greeting may take before the connection is dropped.
const GREETING_TIMEOUT: Duration = Duration::from_secs(5);

/// At most one warning line per this long about refused, bad or idle connections.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Settings of one `json+tcp://` listener.
#[derive(Clone, Debug)]
pub(crate) struct TcpSettings {
    /// The greeting line, without its newline.
    pub(crate) greeting: String,
    /// Most simultaneous connections.
    pub(crate) max_connections: usize,
    /// A connection that sends nothing for this long is closed (its nodes go down).
    pub(crate) idle_timeout: Duration,
}

/// What a listener's connections share: the counters and the listener's rate-limited
/// warnings about refused, bad and idle connections.
#[derive(Debug)]
struct Shared {
    stats: Arc<Stats>,
    limiter: RefCell<LogLimiter>,
    listener: SocketAddr,
}

impl Shared {
    /// Logs `log` unless the limiter says to count it only; a summary of counted ones first.
    fn warn(&self, log: impl FnOnce()) {
        let note = self.limiter.borrow_mut().note(Instant::now());
        if let Note::Log { earlier } = note {
            self.summary(earlier);
            log();
        }
    }

    /// The summary line for `n` counted warnings (none if 0).
    fn summary(&self, n: u64) {
        if n > 0 {
            let secs = self.limiter.borrow().interval().as_secs();
            tracing::warn!(listener = %self.listener,
                "{n} more refused, bad or idle TCP heartbeat connections in the last {secs}s \
                 (see hbnode_tcp_connections_refused_total, \
                 hbnode_tcp_connections_idle_closed_total and \
                 hbnode_datagrams_rejected_total{{reason=\"bad_legacy_format\"}})");
        }
    }

    /// When the next summary is due, if any.
    fn deadline(&self) -> Option<Instant> {
        self.limiter.borrow().deadline()
    }

    /// Logs the summary if it is due.
    fn flush(&self) {
        let due = self.limiter.borrow_mut().flush(Instant::now());
        self.summary(due.unwrap_or(0));
    }
}

/// Accepts connections on `listener` until the task is aborted.
pub(crate) async fn run(
    listener: TcpListener,
    settings: TcpSettings,
    detector: Addr<DetectorActor>,
    clock: Clock,
    stats: Arc<Stats>,
) {
    let active = Rc::new(Cell::new(0usize));
    let greeting: Rc<[u8]> = format!("{}\n", settings.greeting).into_bytes().into();
    let shared = Rc::new(Shared {
        stats: Arc::clone(&stats),
        limiter: RefCell::new(LogLimiter::new(LOG_INTERVAL)),
        listener: listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
    });
    let mut next_conn = 0u64;
    loop {
        let summary_due = shared.deadline();
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = sleep_until(summary_due), if summary_due.is_some() => {
                shared.flush();
                continue;
            }
        };
        let (stream, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                inc(&stats.recv_errors);
                tracing::debug!(error = %e, "accept error");
                actix_rt::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if active.get() >= settings.max_connections {
            inc(&stats.tcp_refused);
            shared.warn(|| {
                tracing::warn!(%peer, limit = settings.max_connections,
                "too many TCP heartbeat connections; closing this one (raise --max-connections)");
            });
            drop(stream);
            continue;
        }
        next_conn += 1;
        active.set(active.get() + 1);
        let active = Rc::clone(&active);
        let fut = connection(
            stream,
            Peer {
                addr: peer,
                conn: next_conn,
                idle_timeout: settings.idle_timeout,
            },
            Rc::clone(&greeting),
            detector.clone(),
            clock,
            Rc::clone(&shared),
        );
        actix_rt::spawn(async move {
            fut.await;
            active.set(active.get() - 1);
        });
    }
}

/// Sleeps until `at` (forever if `None`: the caller's `select!` guard disables that branch).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// One connection: its peer, number and idle timeout.
#[derive(Clone, Copy, Debug)]
struct Peer {
    addr: SocketAddr,
    conn: u64,
    idle_timeout: Duration,
}

/// Serves one connection; reports its close to the Detector.
async fn connection(
    mut stream: TcpStream,
    p: Peer,
    greeting: Rc<[u8]>,
    detector: Addr<DetectorActor>,
    clock: Clock,
    shared: Rc<Shared>,
) {
    let (peer, conn) = (p.addr, p.conn);
    tracing::debug!(%peer, conn, "TCP heartbeat connection");
    let mut nodes: Vec<NodeId> = Vec::new();
    match tokio::time::timeout(GREETING_TIMEOUT, stream.write_all(&greeting)).await {
        Ok(Ok(())) => {
            let end = serve(&mut stream, p, &mut nodes, &detector, &clock).await;
            match end {
                End::Closed => {}
                End::Bad(e) => shared.warn(|| {
                    tracing::warn!(%peer, error = %e, "bad TCP heartbeat; closing the connection");
                }),
                End::Idle => {
                    inc(&shared.stats.tcp_idle_closed);
                    shared.warn(|| {
                        tracing::warn!(%peer, idle = ?p.idle_timeout,
                            "TCP heartbeat connection sent nothing for --tcp-idle-timeout; \
                             closing it (its nodes are down)");
                    });
                }
            }
        }
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "cannot greet"),
        Err(_) => tracing::debug!(%peer, "greeting timed out"),
    }
    let closed = LegacyInput::Closed {
        at: clock.now(),
        conn,
        nodes,
    };
    let _ = detector.send(LegacyIngest(vec![closed])).await;
    tracing::debug!(%peer, conn, "TCP heartbeat connection closed");
}

/// Why [`serve`] stopped.
#[derive(Debug)]
enum End {
    /// The peer closed or reset the connection, or the Detector is gone.
    Closed,
    /// The peer sent something that is not a beat.
    Bad(hb_core::legacy::LegacyError),
    /// The peer sent nothing for the idle timeout.
    Idle,
}

/// Reads beats until the peer closes, resets, sends something that is not a beat or sends
/// nothing for `p.idle_timeout`.
async fn serve(
    stream: &mut TcpStream,
    p: Peer,
    nodes: &mut Vec<NodeId>,
    detector: &Addr<DetectorActor>,
    clock: &Clock,
) -> End {
    let (peer, conn) = (p.addr, p.conn);
    let mut decoder = JsonStream::new(peer, DEFAULT_MAX_BUFFER);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match tokio::time::timeout(p.idle_timeout, stream.read(&mut buf)).await {
            Err(_) => return End::Idle,
            Ok(Ok(0)) => return End::Closed,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TCP heartbeat connection lost");
                return End::Closed;
            }
        };
        let at = clock.now();
        decoder.handle_bytes(&buf[..n]);
        let mut items = Vec::new();
        let mut failed = None;
        while let Some(r) = decoder.poll_beat() {
            match r {
                Ok(beat) => {
                    if !nodes.contains(&beat.node) && nodes.len() < MAX_NODES_PER_CONNECTION {
                        nodes.push(beat.node.clone());
                    }
                    items.push(LegacyInput::Beat {
                        at,
                        from: peer,
                        beat,
                        conn: Some(conn),
                    });
                }
                Err(e) => {
                    items.push(LegacyInput::Rejected);
                    failed.get_or_insert(e);
                }
            }
        }
        if !items.is_empty() && detector.send(LegacyIngest(items)).await.is_err() {
            return End::Closed;
        }
        if let Some(e) = failed {
            return End::Bad(e);
        }
    }
}
