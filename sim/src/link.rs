//! Link models: loss (Bernoulli, Gilbert–Elliott), delay, duplication, reordering, partitions,
//! and a change of loss regime mid-trace.
//!
//! A [`Link`] is configuration; [`LinkState`] is the per-trace mutable part (the Gilbert–Elliott
//! channel state). Both are driven by the trace's seeded RNG only, in a fixed order per packet,
//! so a seed reproduces every loss and every delay.

use core::fmt::{self, Write as _};
use core::time::Duration;

use rand::{Rng, RngExt};

use crate::delay::{Delay, DelayDist};
use crate::parse::{self, SpecError, fmt_duration};

/// Which packets are lost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// Each packet independently with probability `p`.
    Bernoulli(f64),
    /// Gilbert–Elliott: a two-state Markov chain stepped once per packet. In the good state a
    /// packet is lost with `loss_good`, in the bad state with `loss_bad`; the chain moves good →
    /// bad with `p_gb` and bad → good with `p_bg` after each packet. Mean burst length in the bad
    /// state: `1/p_bg` packets.
    GilbertElliott {
        /// P(good → bad) per packet.
        p_gb: f64,
        /// P(bad → good) per packet.
        p_bg: f64,
        /// Loss probability in the good state.
        loss_good: f64,
        /// Loss probability in the bad state.
        loss_bad: f64,
    },
}

impl Loss {
    /// Long-run fraction of packets lost.
    pub fn mean(&self) -> f64 {
        match *self {
            Self::Bernoulli(p) => p,
            Self::GilbertElliott {
                p_gb,
                p_bg,
                loss_good,
                loss_bad,
            } => {
                let pi_bad = if p_gb + p_bg > 0.0 {
                    p_gb / (p_gb + p_bg)
                } else {
                    0.0
                };
                (1.0 - pi_bad) * loss_good + pi_bad * loss_bad
            }
        }
    }
}

/// A scheduled partition: every packet sent in `[start, start + duration)` is dropped, repeated
/// every `every` if given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// First partition start, from the trace start.
    pub start: Duration,
    /// How long each partition lasts.
    pub duration: Duration,
    /// Repeat interval, if periodic.
    pub every: Option<Duration>,
}

impl Partition {
    /// Whether a packet sent at `t_us` (µs from trace start) falls in a partition.
    pub fn covers(&self, t_us: u64) -> bool {
        let start = self.start.as_micros() as u64;
        let len = self.duration.as_micros() as u64;
        if t_us < start {
            return false;
        }
        let off = match self.every {
            Some(e) if !e.is_zero() => (t_us - start) % e.as_micros() as u64,
            _ => t_us - start,
        };
        off < len
    }
}

/// A one-way link from a beater to the monitor.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// Loss model.
    pub loss: Loss,
    /// One-way delay.
    pub delay: Delay,
    /// Probability that a delivered packet is delivered twice (the copy gets its own delay).
    pub duplicate: f64,
    /// Reordering: with probability `.0` a packet is held back an extra `.1`.
    pub reorder: (f64, Duration),
    /// Scheduled partitions.
    pub partitions: Vec<Partition>,
    /// A change of regime: from this time after the trace start on, packets are lost by this
    /// loss model instead of [`Self::loss`] (a link that gets worse, or better, mid-trace).
    pub switch: Option<(Duration, Loss)>,
}

impl Default for Link {
    /// A perfect link: no loss, no delay.
    fn default() -> Self {
        Self {
            loss: Loss::Bernoulli(0.0),
            delay: Delay::constant(Duration::ZERO),
            duplicate: 0.0,
            reorder: (0.0, Duration::ZERO),
            partitions: Vec::new(),
            switch: None,
        }
    }
}

/// Names of the presets, for help texts.
pub const PRESETS: [&str; 4] = ["lan", "wan", "wifi_lossy", "congested"];

const HINT: &str = "a preset (lan, wan, wifi_lossy, congested) and/or KEY=VALUE items separated by \
                    ';': loss=P, burst=P_GB,P_BG[,LOSS_BAD], delay=SPEC, dup=P, \
                    reorder=P,EXTRA, partition=START,DURATION[,EVERY], \
                    switch=AT,P or switch=AT,P_GB,P_BG[,LOSS_BAD] (the loss from AT on)";

impl Link {
    /// `lan`: a switched data-centre LAN. Delay uniform 100–400 µs; Bernoulli loss 0.01 %; no
    /// duplication, reordering or partitions.
    pub fn lan() -> Self {
        Self {
            loss: Loss::Bernoulli(1e-4),
            delay: Delay::new(DelayDist::Uniform(
                Duration::from_micros(100),
                Duration::from_micros(400),
            )),
            ..Self::default()
        }
    }

    /// `wan`: a continental WAN path. Delay 30 ms + log-normal (median 5 ms, σ 0.5), so the
    /// median is 35 ms and the 99.9th percentile ≈ 57 ms; Bernoulli loss 0.1 %.
    pub fn wan() -> Self {
        Self {
            loss: Loss::Bernoulli(1e-3),
            delay: Delay::parse("const:30ms+lognormal:5ms,0.5").expect("valid preset"),
            ..Self::default()
        }
    }

    /// `wifi_lossy`: a busy Wi-Fi hop. Delay 2 ms + Pareto (scale 1 ms, shape 1.5: heavy tail,
    /// mean 3 ms extra, 0.1 % of beats over 100 ms extra); bursty Gilbert–Elliott loss with
    /// P(good→bad) 0.5 %, P(bad→good) 20 % (bursts of 5 beats on average), every packet lost
    /// in the bad state: 2.4 % loss overall; 0.1 % duplicates.
    pub fn wifi_lossy() -> Self {
        Self {
            loss: Loss::GilbertElliott {
                p_gb: 0.005,
                p_bg: 0.2,
                loss_good: 0.0,
                loss_bad: 1.0,
            },
            delay: Delay::parse("const:2ms+pareto:1ms,1.5").expect("valid preset"),
            duplicate: 1e-3,
            ..Self::default()
        }
    }

    /// `congested`: a congested path with deep queues. Delay normal (mean 80 ms, sd 30 ms,
    /// clamped at 0); Bernoulli loss 2 %; 1 % of packets reordered by an extra 100 ms.
    pub fn congested() -> Self {
        Self {
            loss: Loss::Bernoulli(0.02),
            delay: Delay::parse("normal:80ms,30ms").expect("valid preset"),
            reorder: (0.01, Duration::from_millis(100)),
            ..Self::default()
        }
    }

    /// A preset by name.
    pub fn preset(name: &str) -> Option<Self> {
        Some(match name {
            "lan" => Self::lan(),
            "wan" => Self::wan(),
            "wifi_lossy" => Self::wifi_lossy(),
            "congested" => Self::congested(),
            "perfect" | "none" => Self::default(),
            _ => return None,
        })
    }

    /// Parses a link spec: an optional preset name then `KEY=VALUE` overrides, separated by
    /// `;` (see the error hint for the keys).
    pub fn parse(s: &str) -> Result<Self, SpecError> {
        let bad = || SpecError::Spec {
            what: "link",
            spec: s.into(),
            hint: HINT,
        };
        let mut link = Self::default();
        for (i, item) in s.split(';').map(str::trim).enumerate() {
            if item.is_empty() {
                continue;
            }
            let Some((key, value)) = item.split_once('=') else {
                if i == 0 {
                    link = Self::preset(item).ok_or_else(bad)?;
                    continue;
                }
                return Err(bad());
            };
            link.set(key.trim(), value.trim()).map_err(|e| match e {
                SpecError::Spec { .. } => bad(),
                e => e,
            })?;
        }
        Ok(link)
    }

    /// Applies one `KEY=VALUE` override.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SpecError> {
        let bad = || SpecError::Spec {
            what: "link",
            spec: format!("{key}={value}"),
            hint: HINT,
        };
        let args: Vec<&str> = value.split(',').map(str::trim).collect();
        match (key, args.as_slice()) {
            ("loss", [p]) => self.loss = Loss::Bernoulli(parse::probability(p)?),
            ("burst", [gb, bg, rest @ ..]) if rest.len() <= 1 => {
                let loss_bad = rest.first().map_or(Ok(1.0), |p| parse::probability(p))?;
                self.loss = Loss::GilbertElliott {
                    p_gb: parse::probability(gb)?,
                    p_bg: parse::probability(bg)?,
                    loss_good: 0.0,
                    loss_bad,
                };
            }
            ("delay", _) => self.delay = Delay::parse(value)?,
            ("dup", [p]) => self.duplicate = parse::probability(p)?,
            ("reorder", [p, extra]) => {
                self.reorder = (parse::probability(p)?, parse::duration(extra)?);
            }
            ("switch", [at, p]) => {
                self.switch = Some((
                    parse::duration(at)?,
                    Loss::Bernoulli(parse::probability(p)?),
                ));
            }
            ("switch", [at, gb, bg, rest @ ..]) if rest.len() <= 1 => {
                let loss_bad = rest.first().map_or(Ok(1.0), |p| parse::probability(p))?;
                let loss = Loss::GilbertElliott {
                    p_gb: parse::probability(gb)?,
                    p_bg: parse::probability(bg)?,
                    loss_good: 0.0,
                    loss_bad,
                };
                self.switch = Some((parse::duration(at)?, loss));
            }
            ("partition", [start, dur, rest @ ..]) if rest.len() <= 1 => {
                self.partitions.push(Partition {
                    start: parse::duration(start)?,
                    duration: parse::duration(dur)?,
                    every: rest.first().map(|e| parse::duration(e)).transpose()?,
                });
            }
            _ => return Err(bad()),
        }
        Ok(())
    }

    /// Whether the analytic predictions apply: no duplication, reordering, partitions or change
    /// of regime (loss may be Bernoulli or Gilbert–Elliott, the delay one random part plus a
    /// constant).
    pub fn theory_applies(&self) -> bool {
        self.duplicate == 0.0
            && self.reorder.0 == 0.0
            && self.partitions.is_empty()
            && self.switch.is_none()
            && self.delay.law().is_some()
    }

    /// The loss model in force for a packet sent at `t_us` (µs from the trace start).
    pub fn loss_at(&self, t_us: u64) -> Loss {
        match self.switch {
            Some((at, loss)) if t_us >= at.as_micros() as u64 => loss,
            _ => self.loss,
        }
    }

    /// Largest extra delay the link can add on top of [`Delay`] (reordering hold-back).
    pub fn extra_delay(&self) -> Duration {
        if self.reorder.0 > 0.0 {
            self.reorder.1
        } else {
            Duration::ZERO
        }
    }

    /// Sends one packet at `t_us`: returns the delays (µs) of the copies that arrive, 0–2.
    /// Draws from `rng` in a fixed order: loss, delay, reorder, duplicate (and its delay).
    pub fn transmit<R: Rng + ?Sized>(
        &self,
        state: &mut LinkState,
        rng: &mut R,
        t_us: u64,
    ) -> Copies {
        let lost = match self.loss_at(t_us) {
            Loss::Bernoulli(p) => p > 0.0 && rng.random_bool(p),
            Loss::GilbertElliott {
                p_gb,
                p_bg,
                loss_good,
                loss_bad,
            } => {
                if !state.started {
                    state.started = true;
                    let pi_bad = if p_gb + p_bg > 0.0 {
                        p_gb / (p_gb + p_bg)
                    } else {
                        0.0
                    };
                    state.bad = rng.random_bool(pi_bad.clamp(0.0, 1.0));
                }
                let p = if state.bad { loss_bad } else { loss_good };
                let lost = p > 0.0 && rng.random_bool(p);
                let flip = if state.bad { p_bg } else { p_gb };
                if flip > 0.0 && rng.random_bool(flip) {
                    state.bad = !state.bad;
                }
                lost
            }
        };
        let partitioned = self.partitions.iter().any(|p| p.covers(t_us));
        if lost || partitioned {
            return Copies::default();
        }
        let mut out = Copies::default();
        out.push(self.one_delay(rng));
        if self.duplicate > 0.0 && rng.random_bool(self.duplicate) {
            out.push(self.one_delay(rng));
        }
        out
    }

    fn one_delay<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        let mut d = self.delay.sample_us(rng);
        if self.reorder.0 > 0.0 && rng.random_bool(self.reorder.0) {
            d = d.saturating_add(self.reorder.1.as_micros() as u64);
        }
        d
    }
}

impl fmt::Display for Link {
    /// The spec string that parses back to this link.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        match self.loss {
            Loss::Bernoulli(p) => write!(s, "loss={p}")?,
            Loss::GilbertElliott {
                p_gb,
                p_bg,
                loss_bad,
                ..
            } => write!(s, "burst={p_gb},{p_bg},{loss_bad}")?,
        }
        write!(s, ";delay={}", self.delay)?;
        if self.duplicate > 0.0 {
            write!(s, ";dup={}", self.duplicate)?;
        }
        if self.reorder.0 > 0.0 {
            write!(
                s,
                ";reorder={},{}",
                self.reorder.0,
                fmt_duration(self.reorder.1)
            )?;
        }
        for p in &self.partitions {
            write!(
                s,
                ";partition={},{}",
                fmt_duration(p.start),
                fmt_duration(p.duration)
            )?;
            if let Some(e) = p.every {
                write!(s, ",{}", fmt_duration(e))?;
            }
        }
        match self.switch {
            None => {}
            Some((at, Loss::Bernoulli(p))) => write!(s, ";switch={},{p}", fmt_duration(at))?,
            Some((
                at,
                Loss::GilbertElliott {
                    p_gb,
                    p_bg,
                    loss_bad,
                    ..
                },
            )) => write!(s, ";switch={},{p_gb},{p_bg},{loss_bad}", fmt_duration(at))?,
        }
        f.write_str(&s)
    }
}

/// Per-trace link state (the Gilbert–Elliott channel).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkState {
    started: bool,
    bad: bool,
}

/// Delays of the copies of one packet that arrive (0, 1 or 2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copies {
    len: u8,
    delays: [u64; 2],
}

impl Copies {
    fn push(&mut self, d: u64) {
        self.delays[usize::from(self.len)] = d;
        self.len += 1;
    }

    /// The copies' delays in µs.
    pub fn as_slice(&self) -> &[u64] {
        &self.delays[..usize::from(self.len)]
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn presets_and_overrides_parse_and_print_back() {
        for name in PRESETS {
            let l = Link::parse(name).unwrap();
            assert_eq!(Link::parse(&l.to_string()).unwrap(), l, "{name}");
        }
        let l =
            Link::parse("wan; loss=2%; dup=0.1%; reorder=1%,50ms; partition=10m,30s,1h").unwrap();
        assert_eq!(l.loss, Loss::Bernoulli(0.02));
        assert_eq!(l.duplicate, 0.001);
        assert_eq!(l.partitions.len(), 1);
        assert!(!l.theory_applies());
        assert_eq!(Link::parse(&l.to_string()).unwrap(), l);
        assert!(Link::parse("moon").is_err());
        assert!(Link::parse("loss=2").is_err());
        assert!(Link::parse("lan;warp=9").is_err());
    }

    #[test]
    fn gilbert_elliott_mean_loss_matches_its_stationary_law() {
        let l = Link::parse("burst=5%,25%").unwrap();
        assert!((l.loss.mean() - 0.05 / 0.30).abs() < 1e-12);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut st = LinkState::default();
        let n = 200_000;
        let lost = (0..n)
            .filter(|&i| l.transmit(&mut st, &mut rng, i).as_slice().is_empty())
            .count();
        let rate = lost as f64 / n as f64;
        assert!((rate - 1.0 / 6.0).abs() < 0.01, "{rate}");
    }

    #[test]
    fn a_switch_changes_the_loss_from_its_time_on() {
        let l = Link::parse("lan;switch=30m,5%").unwrap();
        assert_eq!(l.loss_at(0), Loss::Bernoulli(1e-4));
        assert_eq!(l.loss_at(1_800_000_000), Loss::Bernoulli(0.05));
        assert!(!l.theory_applies());
        assert_eq!(Link::parse(&l.to_string()).unwrap(), l);
        let g = Link::parse("loss=0.1%;switch=10m,2%,30%").unwrap();
        assert!(matches!(g.loss_at(600_000_000), Loss::GilbertElliott { p_bg, .. } if p_bg == 0.3));
        assert_eq!(Link::parse(&g.to_string()).unwrap(), g);
        assert!(Link::parse("switch=10m").is_err());
        // Packets after the switch are lost at the new rate.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut st = LinkState::default();
        let lost = (0..20_000u64)
            .filter(|&i| {
                l.transmit(&mut st, &mut rng, 1_800_000_000 + i)
                    .as_slice()
                    .is_empty()
            })
            .count();
        assert!((800..1200).contains(&lost), "{lost}");
    }

    #[test]
    fn partitions_cover_their_windows_only() {
        let p = Partition {
            start: Duration::from_secs(10),
            duration: Duration::from_secs(2),
            every: Some(Duration::from_secs(60)),
        };
        assert!(!p.covers(9_999_999));
        assert!(p.covers(10_000_000));
        assert!(!p.covers(12_000_000));
        assert!(p.covers(71_000_000));
    }
}
