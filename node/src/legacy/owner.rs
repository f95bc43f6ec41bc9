//! Verifying the pid a legacy beat claims (Circus's `PID;timestamp`, TCP/JSON's `pid`), so a
//! hook's `HBNODE_PID` never names a process just because a datagram said so.
//!
//! A claim is verified when the sender is on loopback and, as `ss -p` finds it, the claimed
//! process owns the sending socket: the inode of the socket bound to the datagram's source
//! address in `/proc/net/udp` and `/proc/net/udp6` (`tcp`/`tcp6` for `json+tcp`) is one of the
//! `socket:[INODE]` links in `/proc/PID/fd`; and the process started before the beat arrived
//! (`/proc/PID/stat` field 22, in clock ticks since boot, against `/proc/uptime`), so the pid
//! was not reused. The start time is kept with the verified pid; a hook re-reads it and gets
//! `HBNODE_PID` only if the process is still that one ([`still_running`]).
//!
//! The lookups run on one thread of their own behind a bounded queue of [`QUEUE`] claims, once
//! per new (node, pid) claim (the Detector keeps the outcome with the node); a full queue drops
//! the claim, counted, and a later beat claims again. Reading another user's `/proc/PID/fd`
//! needs that user or root: a claim that cannot be checked stays unverified.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use actix::{Message, Recipient};
use hb_core::{NodeId, Timestamp};

use crate::runtime::clock::Clock;
use crate::runtime::stats::{PidCheck, Stats};

/// Claims waiting for the verifier thread before further ones are dropped (and counted).
pub(crate) const QUEUE: usize = 256;

/// Most `/proc/PID/fd` entries looked at per claim (bounds the work a claim costs).
const MAX_FDS: usize = 1 << 16;

/// The transport a claim arrived over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    /// `text+udp://` (and `pyhb+udp://`, which carries no pid).
    Udp,
    /// `json+tcp://`.
    Tcp,
}

/// A pid claimed by `node`'s beat from `from`, received at `at`.
#[derive(Clone, Debug)]
pub(crate) struct Claim {
    /// The node.
    pub(crate) node: NodeId,
    /// The pid it claims.
    pub(crate) pid: u32,
    /// The beat's source address.
    pub(crate) from: SocketAddr,
    /// Over what.
    pub(crate) proto: Proto,
    /// When the beat arrived.
    pub(crate) at: Timestamp,
}

/// The outcome of a [`Claim`], sent back to the Detector that made it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct PidChecked {
    /// The node.
    pub(crate) node: NodeId,
    /// The pid it claimed.
    pub(crate) pid: u32,
    /// The process's start time (clock ticks since boot) if verified.
    pub(crate) start: Option<u64>,
}

/// The verifier thread's queue.
#[derive(Clone, Debug)]
pub(crate) struct Verifier {
    tx: SyncSender<(Claim, Recipient<PidChecked>)>,
    stats: Arc<Stats>,
}

impl Verifier {
    /// Starts the verifier thread, reading time from `clock`, counting in `stats`.
    pub(crate) fn start(clock: Clock, stats: Arc<Stats>) -> io::Result<Self> {
        let (tx, rx) = sync_channel::<(Claim, Recipient<PidChecked>)>(QUEUE);
        let counts = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("hbnode-pid-verifier".into())
            .spawn(move || {
                let hz = clock_ticks();
                while let Ok((claim, reply)) = rx.recv() {
                    let age = clock.now() - claim.at;
                    let start = match verify(&claim, age, hz) {
                        Ok(start) => {
                            counts.pid_check(PidCheck::Verified);
                            tracing::info!(node = %claim.node, pid = claim.pid,
                                "pid verified: the process owns the socket its beats come from");
                            Some(start)
                        }
                        Err(why) => {
                            counts.pid_check(PidCheck::Unverified);
                            tracing::warn!(node = %claim.node, pid = claim.pid, from = %claim.from,
                                why, "pid claim not verified: hooks get it as HBNODE_CLAIMED_PID \
                                 only, never as HBNODE_PID");
                            None
                        }
                    };
                    reply.do_send(PidChecked {
                        node: claim.node,
                        pid: claim.pid,
                        start,
                    });
                }
            })?;
        Ok(Self { tx, stats })
    }

    /// Queues `claim` without waiting; false (counted) if the queue is full.
    pub(crate) fn offer(&self, claim: Claim, reply: Recipient<PidChecked>) -> bool {
        match self.tx.try_send((claim, reply)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.pid_check(PidCheck::Dropped);
                false
            }
        }
    }
}

/// `getconf CLK_TCK` (the unit of `/proc/PID/stat` times), 100 if it cannot be asked.
fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&hz| hz > 0)
        .unwrap_or(100)
}

/// Verifies `claim`, `age` after its beat arrived: the process's start time, or why not.
fn verify(claim: &Claim, age: Duration, hz: u64) -> Result<u64, &'static str> {
    if !claim.from.ip().to_canonical().is_loopback() {
        return Err("the sender is not on loopback: a remote process cannot be checked");
    }
    let tables: &[&str] = match claim.proto {
        Proto::Udp => &["/proc/net/udp", "/proc/net/udp6"],
        Proto::Tcp => &["/proc/net/tcp", "/proc/net/tcp6"],
    };
    let mut inodes = Vec::new();
    for t in tables {
        if let Ok(text) = std::fs::read_to_string(t) {
            inodes.extend(socket_inodes(&text, claim.from));
        }
    }
    if inodes.is_empty() {
        return Err("no socket is bound to the beat's source address any more");
    }
    if !owns_socket(claim.pid, &inodes) {
        return Err("the claimed process does not own the socket the beat came from");
    }
    let start = start_time(claim.pid).ok_or("the claimed process has gone")?;
    let uptime = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .ok_or("cannot read /proc/uptime")?;
    // Both in ticks; one tick of slack for the two clocks' rounding.
    let beat_ticks = ((uptime - age.as_secs_f64()) * hz as f64).max(0.0) as u64;
    if start > beat_ticks + 1 {
        return Err("the process started after the beat: its pid was reused");
    }
    Ok(start)
}

/// Whether `pid` is still the process that started at `start` (clock ticks since boot).
pub(crate) fn still_running(pid: u32, start: u64) -> bool {
    start_time(pid) == Some(start)
}

/// `/proc/PID/stat` field 22: when the process started, in clock ticks since boot.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a `/proc/PID/stat` line (the command, field 2, may hold spaces and parens).
fn parse_start_time(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    // `rest` starts at field 3 (state).
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// Whether one of `pid`'s open files is one of the sockets `inodes`.
fn owns_socket(pid: u32, inodes: &[u64]) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.take(MAX_FDS).flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|l| {
            l.to_str()
                .and_then(|l| l.strip_prefix("socket:[")?.strip_suffix(']'))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| inodes.contains(&n))
        })
    })
}

/// The inodes of the sockets in a `/proc/net/{udp,udp6,tcp,tcp6}` table bound to `from`
/// (its port, on its address or on the wildcard address).
fn socket_inodes(table: &str, from: SocketAddr) -> Vec<u64> {
    let ip = from.ip().to_canonical();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local = parse_addr(f.get(1)?)?;
            let inode: u64 = f.get(9)?.parse().ok()?;
            let lip = local.ip().to_canonical();
            let matches = local.port() == from.port() && (lip == ip || lip.is_unspecified());
            (matches && inode != 0).then_some(inode)
        })
        .collect()
}

/// `HEXADDR:HEXPORT` as `/proc/net` prints it: the address's 32-bit words in host order.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let word = |i: usize| {
        a.get(i * 8..i * 8 + 8)
            .and_then(|w| u32::from_str_radix(w, 16).ok())
            .map(u32::to_ne_bytes)
    };
    let ip = match a.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;

    use super::*;

    fn claim(pid: u32, from: SocketAddr) -> Claim {
        Claim {
            node: NodeId::new("n").unwrap(),
            pid,
            from,
            proto: Proto::Udp,
            at: Timestamp::ZERO,
        }
    }

    #[test]
    fn proc_net_addresses_and_stat_fields_parse() {
        if cfg!(target_endian = "little") {
            assert_eq!(
                parse_addr("0100007F:1F90"),
                Some("127.0.0.1:8080".parse().unwrap())
            );
            assert_eq!(
                parse_addr("00000000000000000000000001000000:0035"),
                Some("[::1]:53".parse().unwrap())
            );
        }
        assert_eq!(parse_addr("zz:1"), None);
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
            \x20 1: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4242 2 0 0\n\
            \x20 2: 00000000:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4343 2 0 0\n\
            \x20 3: 0100007F:1F91 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4444 2 0 0\n";
        if cfg!(target_endian = "little") {
            assert_eq!(
                socket_inodes(table, "127.0.0.1:8080".parse().unwrap()),
                [4242, 4343]
            );
        }
        let stat =
            "77 (a (weird) name) S 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10";
        assert_eq!(parse_start_time(stat), Some(123_456));
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn a_process_owning_the_socket_is_verified_and_another_is_not() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let from = s.local_addr().unwrap();
        let me = std::process::id();
        let hz = clock_ticks();
        let start = verify(&claim(me, from), Duration::ZERO, hz).expect("our own socket");
        assert!(still_running(me, start));
        assert!(!still_running(me, start + 1));
        // pid 1 does not own our socket.
        assert!(verify(&claim(1, from), Duration::ZERO, hz).is_err());
        // A beat older than the process: its pid would have been reused.
        let old = Duration::from_secs(10 * 365 * 86_400);
        assert!(verify(&claim(me, from), old, hz).is_err());
        // Not loopback.
        let remote = SocketAddr::new("192.0.2.1".parse().unwrap(), from.port());
        assert!(verify(&claim(me, remote), Duration::ZERO, hz).is_err());
        drop(s);
        assert!(
            verify(&claim(me, from), Duration::ZERO, hz).is_err(),
            "socket closed"
        );
    }
}
