//! Recorded arrivals: a compact, versioned binary format, and their replay through any detector.
//!
//! `hbnode monitor --record FILE` writes every accepted datagram's arrival with
//! [`TraceWriter`]; `cargo xtask sim replay FILE --detector …` reads it back with
//! [`TraceReader`] and reruns it through a [`Monitor`] with another detector ([`replay`]).
//!
//! # Format (version 1)
//!
//! ```text
//! header   "HBTRACE" (7 bytes) · version u8 = 1
//! record   tag u8, then fields as unsigned LEB128 varints (z: zigzag-encoded signed)
//!   0x01 node      len · UTF-8 bytes           defines the next node index (0, 1, 2, …)
//!   0x02 arrival   node · z(Δt µs) · z(Δseq) · period_ms          same incarnation as the
//!                                                                  node's previous arrival
//!   0x03 arrival   node · z(Δt µs) · seq · incarnation · period_ms new incarnation
//! ```
//!
//! Δt is relative to the previous record's time (any node), Δseq to the node's previous seq.
//! A steady beat costs about 8 bytes. Unknown tags and versions are refused (never guessed).

use core::time::Duration;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use hb_core::detector::DetectorConfig;
use hb_core::wire::Beat;
use hb_core::{EventKind, Monitor, MonitorConfig, NodeId, Timestamp};

/// The 7 bytes every trace starts with.
pub const MAGIC: &[u8; 7] = b"HBTRACE";
/// The format version written.
pub const VERSION: u8 = 1;

/// One recorded arrival: hb-core's [`BeatArrival`](hb_core::BeatArrival), exactly what
/// [`Monitor::poll_arrival`] yields, so a recorder writes the monitor's arrivals as they come.
pub use hb_core::BeatArrival as Arrival;

#[derive(Clone, Copy, Debug, Default)]
struct Last {
    seq: u64,
    incarnation: u64,
}

/// Writes arrivals to any [`Write`]. Buffer the writer (e.g. `BufWriter`) for files.
#[derive(Debug)]
pub struct TraceWriter<W: Write> {
    out: W,
    nodes: BTreeMap<NodeId, (u64, Option<Last>)>,
    last_at: u64,
    buf: Vec<u8>,
}

impl<W: Write> TraceWriter<W> {
    /// Starts a trace: writes the header.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        out.write_all(&[VERSION])?;
        Ok(Self {
            out,
            nodes: BTreeMap::new(),
            last_at: 0,
            buf: Vec::with_capacity(64),
        })
    }

    /// Appends one arrival.
    pub fn record(&mut self, a: &Arrival) -> io::Result<()> {
        self.buf.clear();
        let next = self.nodes.len() as u64;
        let (idx, last) = match self.nodes.get(&a.node) {
            Some(&(i, last)) => (i, last),
            None => {
                self.buf.push(0x01);
                put(&mut self.buf, a.node.as_str().len() as u64);
                self.buf.extend_from_slice(a.node.as_str().as_bytes());
                (next, None)
            }
        };
        let at = a.at.as_micros();
        let dt = zigzag(at.wrapping_sub(self.last_at) as i64);
        match last {
            Some(l) if l.incarnation == a.incarnation => {
                self.buf.push(0x02);
                put(&mut self.buf, idx);
                put(&mut self.buf, dt);
                put(&mut self.buf, zigzag(a.seq.wrapping_sub(l.seq) as i64));
            }
            _ => {
                self.buf.push(0x03);
                put(&mut self.buf, idx);
                put(&mut self.buf, dt);
                put(&mut self.buf, a.seq);
                put(&mut self.buf, a.incarnation);
            }
        }
        put(&mut self.buf, u64::from(a.period_ms));
        self.out.write_all(&self.buf)?;
        self.last_at = at;
        let last = Some(Last {
            seq: a.seq,
            incarnation: a.incarnation,
        });
        match self.nodes.get_mut(&a.node) {
            Some(entry) => entry.1 = last,
            None => {
                self.nodes.insert(a.node.clone(), (idx, last));
            }
        }
        Ok(())
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn put(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad trace: {what}"))
}

/// Reads arrivals back; an iterator of `io::Result<Arrival>`.
#[derive(Debug)]
pub struct TraceReader<R: Read> {
    input: R,
    nodes: Vec<(NodeId, Last)>,
    last_at: u64,
    done: bool,
}

impl<R: Read> TraceReader<R> {
    /// Opens a trace: checks the header.
    pub fn new(mut input: R) -> io::Result<Self> {
        let mut head = [0u8; 8];
        input.read_exact(&mut head)?;
        if &head[..7] != MAGIC {
            return Err(invalid("not an hbnode trace (bad magic)"));
        }
        if head[7] != VERSION {
            return Err(invalid(&format!("unsupported version {}", head[7])));
        }
        Ok(Self {
            input,
            nodes: Vec::new(),
            last_at: 0,
            done: false,
        })
    }

    fn byte(&mut self) -> io::Result<Option<u8>> {
        let mut b = [0u8; 1];
        match self.input.read(&mut b)? {
            0 => Ok(None),
            _ => Ok(Some(b[0])),
        }
    }

    fn varint(&mut self) -> io::Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?.ok_or_else(|| invalid("truncated varint"))?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(invalid("varint longer than 10 bytes"))
    }

    fn next_arrival(&mut self) -> io::Result<Option<Arrival>> {
        loop {
            let Some(tag) = self.byte()? else {
                return Ok(None);
            };
            match tag {
                0x01 => {
                    let len = self.varint()?;
                    if len > hb_core::MAX_ID_LEN as u64 {
                        return Err(invalid("node id too long"));
                    }
                    let mut s = vec![0u8; len as usize];
                    self.input.read_exact(&mut s)?;
                    let s = String::from_utf8(s).map_err(|_| invalid("node id is not UTF-8"))?;
                    let id = NodeId::new(&s).map_err(|e| invalid(&e.to_string()))?;
                    self.nodes.push((id, Last::default()));
                }
                0x02 | 0x03 => {
                    let idx = self.varint()? as usize;
                    if idx >= self.nodes.len() {
                        return Err(invalid("arrival for an undefined node"));
                    }
                    let dt = unzigzag(self.varint()?);
                    let at = self.last_at.wrapping_add(dt as u64);
                    let (seq, incarnation) = if tag == 0x02 {
                        let d = unzigzag(self.varint()?);
                        let l = self.nodes[idx].1;
                        (l.seq.wrapping_add(d as u64), l.incarnation)
                    } else {
                        (self.varint()?, self.varint()?)
                    };
                    let period_ms = u32::try_from(self.varint()?)
                        .map_err(|_| invalid("period out of range"))?;
                    self.last_at = at;
                    self.nodes[idx].1 = Last { seq, incarnation };
                    return Ok(Some(Arrival {
                        node: self.nodes[idx].0.clone(),
                        at: Timestamp::from_micros(at),
                        seq,
                        incarnation,
                        period_ms,
                    }));
                }
                t => return Err(invalid(&format!("unknown record tag {t:#04x}"))),
            }
        }
    }
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = io::Result<Arrival>;
    fn next(&mut self) -> Option<io::Result<Arrival>> {
        if self.done {
            return None;
        }
        let r = self.next_arrival().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// What a detector would have done on a recorded trace, per node.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeReplay {
    /// Arrivals replayed.
    pub arrivals: u64,
    /// Times declared down.
    pub downs: u64,
    /// Downs ended by a beat of the same incarnation: the node was alive (mistakes).
    pub mistakes: u64,
    /// Downs ended by a new incarnation (a real crash or restart).
    pub restarts: u64,
    /// Total time from first to last arrival, seconds.
    pub observed_s: f64,
    /// Of that, time spent down, seconds.
    pub down_s: f64,
    /// Durations of the mistakes, seconds.
    pub mistake_durations_s: Vec<f64>,
}

impl NodeReplay {
    /// Fraction of observed time the node was trusted.
    pub fn p_a(&self) -> f64 {
        if self.observed_s > 0.0 {
            1.0 - self.down_s / self.observed_s
        } else {
            1.0
        }
    }
}

/// Replays `arrivals` (in receive-time order) through a monitor with `detector`; beats that
/// advertised no period are taken to beat every `default_period`. Stops at the first read
/// error.
pub fn replay(
    arrivals: impl IntoIterator<Item = io::Result<Arrival>>,
    detector: DetectorConfig,
    default_period: Duration,
) -> io::Result<BTreeMap<NodeId, NodeReplay>> {
    replay_keeping(arrivals, detector, default_period).map(|(out, _)| out)
}

/// As [`replay`], also giving back the monitor as the replay left it (at the last arrival),
/// to read each node's final detector state (`hbnode plan --trace`: its timeout, its link).
pub fn replay_keeping(
    arrivals: impl IntoIterator<Item = io::Result<Arrival>>,
    detector: DetectorConfig,
    default_period: Duration,
) -> io::Result<(BTreeMap<NodeId, NodeReplay>, Monitor)> {
    let cfg = MonitorConfig {
        detector,
        default_period,
        ..MonitorConfig::default()
    };
    let mut m = Monitor::new(cfg, Timestamp::ZERO)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let from = "0.0.0.0:0".parse().expect("valid address");
    let mut out: BTreeMap<NodeId, NodeReplay> = BTreeMap::new();
    let mut first: BTreeMap<NodeId, Timestamp> = BTreeMap::new();
    let mut down_since: BTreeMap<NodeId, Timestamp> = BTreeMap::new();
    let mut last = Timestamp::ZERO;
    let mut drain = |m: &mut Monitor, out: &mut BTreeMap<NodeId, NodeReplay>| {
        while let Some(e) = m.poll_event() {
            let r = out.entry(e.node.clone()).or_default();
            match e.kind {
                EventKind::Down { .. } => {
                    r.downs += 1;
                    down_since.insert(e.node, e.at);
                }
                EventKind::Up { down_for } => {
                    r.mistakes += 1;
                    r.mistake_durations_s.push(down_for.as_secs_f64());
                    if let Some(s) = down_since.remove(&e.node) {
                        r.down_s += (e.at - s).as_secs_f64();
                    }
                }
                EventKind::Restarted { was_down, .. } => {
                    if was_down {
                        r.restarts += 1;
                    }
                    if let Some(s) = down_since.remove(&e.node) {
                        r.down_s += (e.at - s).as_secs_f64();
                    }
                }
                _ => {}
            }
        }
        while m
            .poll_transmit(&mut [0u8; hb_core::wire::MAX_DATAGRAM])
            .is_some()
        {}
    };
    for a in arrivals {
        let a = a?;
        let beat = Beat {
            period_ms: a.period_ms,
            ..Beat::new(a.node.as_str(), a.incarnation, a.seq)
        };
        // Drive every deadline before the arrival on time, as hbnode's timer would (a late
        // input would otherwise look like the monitor itself had stalled).
        while let Some(due) = m.poll_timeout().filter(|&d| d <= a.at) {
            m.handle_timeout(due);
            drain(&mut m, &mut out);
        }
        m.handle_beat(a.at, from, &beat);
        drain(&mut m, &mut out);
        first.entry(a.node.clone()).or_insert(a.at);
        out.entry(a.node.clone()).or_default().arrivals += 1;
        last = last.max(a.at);
    }
    while let Some(due) = m.poll_timeout().filter(|&d| d <= last) {
        m.handle_timeout(due);
        drain(&mut m, &mut out);
    }
    for (id, r) in &mut out {
        if let Some(&f) = first.get(id) {
            r.observed_s = (last - f).as_secs_f64();
        }
        if let Some(&s) = down_since.get(id) {
            r.down_s += (last - s).as_secs_f64();
        }
    }
    Ok((out, m))
}

#[cfg(test)]
mod tests {
    use hb_core::detector::Fixed;

    use super::*;

    fn arrival(node: &str, at: u64, seq: u64, inc: u64) -> Arrival {
        Arrival {
            node: NodeId::new(node).unwrap(),
            at: Timestamp::from_micros(at),
            seq,
            incarnation: inc,
            period_ms: 1000,
        }
    }

    #[test]
    fn arrivals_round_trip_compactly() {
        let arrivals = vec![
            arrival("web-1", 1_000, 1, 7),
            arrival("db", 1_500, 1, 9),
            arrival("web-1", 1_001_000, 2, 7),
            arrival("web-1", 2_001_000, 3, 7),
            arrival("db", 1_001_400, 2, 9), // receive times may go backwards across nodes
            arrival("web-1", 9_000_000, 1, 8),
        ];
        let mut w = TraceWriter::new(Vec::new()).unwrap();
        for a in &arrivals {
            w.record(a).unwrap();
        }
        let bytes = w.finish().unwrap();
        assert_eq!(&bytes[..8], b"HBTRACE\x01");
        let back: Vec<Arrival> = TraceReader::new(&bytes[..])
            .unwrap()
            .collect::<io::Result<_>>()
            .unwrap();
        assert_eq!(back, arrivals);
        // A steady arrival (same incarnation) is tag, node, Δt (3 bytes), Δseq, period (2).
        let mut w = TraceWriter::new(Vec::new()).unwrap();
        w.record(&arrivals[0]).unwrap();
        let before = w.buf.len();
        w.record(&arrivals[2]).unwrap();
        assert_eq!(w.buf.len(), 8, "{before}");
    }

    #[test]
    fn a_monitors_arrivals_are_recorded_as_they_come() {
        let cfg = MonitorConfig {
            max_pending_arrivals: 8,
            ..MonitorConfig::default()
        };
        let mut m = Monitor::new(cfg, Timestamp::ZERO).unwrap();
        let from = "127.0.0.1:9".parse().unwrap();
        for seq in 1..=3 {
            let b = Beat {
                period_ms: 1000,
                ..Beat::new("web-1", 7, seq)
            };
            m.handle_beat(Timestamp::from_micros(seq * 1_000_000), from, &b);
        }
        let mut w = TraceWriter::new(Vec::new()).unwrap();
        let mut seen = Vec::new();
        while let Some(a) = m.poll_arrival() {
            w.record(&a).unwrap();
            seen.push(a);
        }
        let bytes = w.finish().unwrap();
        let back: Vec<Arrival> = TraceReader::new(&bytes[..])
            .unwrap()
            .collect::<io::Result<_>>()
            .unwrap();
        assert_eq!(back, seen);
        assert_eq!(back[2], arrival("web-1", 3_000_000, 3, 7));
    }

    #[test]
    fn corrupt_traces_are_refused() {
        assert!(TraceReader::new(&b"HBTRACE\x02"[..]).is_err());
        assert!(TraceReader::new(&b"NOTATRACE"[..]).is_err());
        let r: Vec<_> = TraceReader::new(&b"HBTRACE\x01\x02\x00"[..])
            .unwrap()
            .collect();
        assert_eq!(r.len(), 1);
        assert!(r[0].is_err());
    }

    #[test]
    fn replay_counts_mistakes_and_restarts() {
        // Beats every second; a 5 s gap (a mistake with a 3 s timeout), then a restart
        // after another 5 s gap.
        let mut arrivals = Vec::new();
        for s in 0..5 {
            arrivals.push(Ok(arrival("a", s * 1_000_000, s + 1, 1)));
        }
        arrivals.push(Ok(arrival("a", 9_000_000, 6, 1)));
        arrivals.push(Ok(arrival("a", 14_000_000, 1, 2)));
        let det = DetectorConfig::Fixed(Fixed {
            timeout: Duration::from_secs(3),
        });
        let r = replay(arrivals, det, Duration::from_secs(1)).unwrap();
        let a = &r[&NodeId::new("a").unwrap()];
        assert_eq!((a.arrivals, a.downs, a.mistakes, a.restarts), (7, 2, 1, 1));
        assert_eq!(a.mistake_durations_s, vec![2.0]);
        assert!((a.down_s - 4.0).abs() < 1e-9);
        assert!((a.p_a() - (1.0 - 4.0 / 14.0)).abs() < 1e-9);
    }

    #[test]
    fn replay_runs_the_budget_detector_on_each_nodes_own_link() {
        // Node "clean" never loses a beat; "lossy" loses two in a row every 20. Then both fall
        // silent for 30 s: each is down once, "lossy" after a longer silence.
        let mut arrivals = Vec::new();
        for s in 1..=2000u64 {
            arrivals.push(Ok(arrival("clean", s * 1_000_000, s, 1)));
            if s % 20 != 0 && s % 20 != 1 {
                arrivals.push(Ok(arrival("lossy", s * 1_000_000 + 500, s, 1)));
            }
        }
        arrivals.push(Ok(arrival("clean", 2030 * 1_000_000, 2030, 1)));
        arrivals.push(Ok(arrival("lossy", 2030 * 1_000_000 + 500, 2030, 1)));
        let rate = hb_core::detector::AlarmRate::parse("1/day").unwrap();
        let det = DetectorConfig::Budget(hb_core::detector::Budget::new(rate));
        let r = replay(arrivals, det, Duration::from_secs(1)).unwrap();
        let clean = &r[&NodeId::new("clean").unwrap()];
        let lossy = &r[&NodeId::new("lossy").unwrap()];
        assert_eq!((clean.downs, clean.mistakes), (1, 1), "{clean:?}");
        assert_eq!((lossy.downs, lossy.mistakes), (1, 1), "{lossy:?}");
        assert!(lossy.down_s < clean.down_s, "{lossy:?} vs {clean:?}");
    }
}
