//! K-of-N agreement (witness mode): the false-alarm rate and the detection time of N monitors
//! that each run a fixed timeout `T` on a node beating every `η` to all of them at once, a node
//! being down only when K of them suspect it.
//!
//! Assumptions (docs/sim.md, "Witnesses", derives the formulas):
//! - Beats are sent at `jη` to every monitor at the same instant; beat j is lost on path i with
//!   probability `s + (1 − s)·q`: with `s` at the node's own NIC or switch (one draw per beat,
//!   shared by all paths) and `q` on the path alone (independent draws). Delays and jitter are
//!   small against the margins `T − kη` and `(k + 1)η − T`, where `k` is the smallest number of
//!   consecutive lost beats whose gap reaches `T` (`k = ⌈T/η⌉ − 1`, [`Agreement::run`]).
//! - Monitor i suspects the node at time t iff every beat sent in `(t − T, t]` was lost on its
//!   path; that window holds k or k + 1 beats. So K monitors suspect at once iff some k
//!   consecutive beats are all lost on at least K paths. A false alarm is the onset of such an
//!   episode: with `E_j` = "beats j … j+k−1 lost on ≥ K paths",
//!   `λ = (P(E_j) − P(E_j ∧ E_{j−1})) / η` per second of up-time, computed exactly below by
//!   enumerating the NIC's pattern over the k + 1 beats and the paths' outcomes.
//! - Votes: a suspicion counts 1.5 witness periods unless repeated and is withdrawn by a trust
//!   at the next beat heard. A lone suspicion of a run of exactly k lost beats lasts
//!   `(k + 1)η − T`; votes travel in a monitor-to-monitor delay far below that, and repeats
//!   every witness period keep longer suspicions alive, so expiry neither adds nor removes
//!   overlaps (with a lossless monitor link; a lost trust may stretch a vote by up to 1.5
//!   periods, which this model ignores).
//! - Detection of a crash at c: the last beat was sent at `c − U`, U uniform on `[0, η)`;
//!   monitor i's deadline is `X_i = T + d − U − L_i·η` after the crash, `L_i` its path's
//!   trailing lost beats. Monitor i reports the agreed down at
//!   `max(X_i, (K − 1)-th smallest of X_j + d_m over j ≠ i)`: its own deadline, or the last vote
//!   it needs, `d_m` after that witness's deadline.

/// Most monitors the exact enumeration handles.
pub const MAX_MONITORS: usize = 16;
/// Longest run `k` the enumeration handles (2^(k+1) NIC patterns).
pub const MAX_RUN: u32 = 16;

/// Most monitors [`Agreement::detection`] enumerates (7^N loss vectors).
pub const MAX_DETECTION_MONITORS: usize = 5;

/// Seconds in a (Julian) year.
pub const YEAR_SECS: f64 = 365.25 * 86_400.0;

/// N monitors, K needed, fixed timeout `timeout` on beats every `period` (seconds), loss `shared`
/// at the node's NIC (all paths) and `path` per path (Bernoulli).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Agreement {
    /// Monitors watching the node (N ≥ 1).
    pub monitors: usize,
    /// Monitors that must suspect it (1 ≤ K ≤ N; K = N = 1 is a single monitor).
    pub needed: usize,
    /// Beat period η, seconds.
    pub period: f64,
    /// Every monitor's fixed timeout T, seconds.
    pub timeout: f64,
    /// Loss shared by all paths, per beat (s).
    pub shared: f64,
    /// Independent loss per path, per beat (q).
    pub path: f64,
}

/// The distribution of one monitor's detection time of a crash (seconds after the crash).
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    /// Mean over monitors and crashes.
    pub mean: f64,
    /// Largest possible value (`T + d + d_m`).
    pub max: f64,
    /// Atoms `(z, p)`: the detection time is `z − U`, U uniform on `[0, η)`, with probability p.
    atoms: Vec<(f64, f64)>,
    period: f64,
}

impl Detection {
    /// The `p`-quantile (0 < p < 1), by bisection on the mixture of uniforms.
    pub fn quantile(&self, p: f64) -> f64 {
        let cdf = |y: f64| -> f64 {
            self.atoms
                .iter()
                .map(|&(z, w)| w * ((y - (z - self.period)) / self.period).clamp(0.0, 1.0))
                .sum()
        };
        let (mut lo, mut hi) = (0.0, self.max);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if cdf(mid) < p { lo = mid } else { hi = mid }
        }
        hi
    }
}

impl Agreement {
    /// k: the fewest consecutive lost beats whose gap reaches the timeout (`⌈T/η⌉ − 1`, at
    /// least 1).
    pub fn run(&self) -> u32 {
        ((self.timeout / self.period).ceil() as u32)
            .saturating_sub(1)
            .max(1)
    }

    /// Loss per path, all causes.
    pub fn total_loss(&self) -> f64 {
        self.shared + (1.0 - self.shared) * self.path
    }

    fn check(&self) {
        assert!(
            (1..=MAX_MONITORS).contains(&self.monitors)
                && (1..=self.monitors).contains(&self.needed)
                && self.period > 0.0
                && self.timeout > 0.0
                && (0.0..=1.0).contains(&self.shared)
                && (0.0..=1.0).contains(&self.path)
                && self.run() <= MAX_RUN,
            "agreement parameters out of range: {self:?}"
        );
    }

    /// False alarms (onsets of K monitors suspecting a live node at once) per second of the
    /// node's up-time. Exact under the module's assumptions.
    ///
    /// # Panics
    /// On parameters out of range (more than [`MAX_MONITORS`] monitors, K outside 1..=N, a run
    /// k over [`MAX_RUN`], probabilities outside [0, 1]).
    pub fn false_alarm_rate(&self) -> f64 {
        self.check();
        let k = self.run() as usize;
        let (n, need) = (self.monitors, self.needed);
        let (s, q) = (self.shared, self.path);
        let mut p_now = 0.0;
        let mut p_both = 0.0;
        // Beats 0..=k: beat 0 is j − 1; E_j covers 1..=k, E_{j−1} covers 0..k.
        for pattern in 0u32..(1 << (k + 1)) {
            let mut weight = 1.0;
            let mut lose = [0.0; MAX_RUN as usize + 1];
            for (b, l) in lose.iter_mut().enumerate().take(k + 1) {
                let nic = pattern >> b & 1 == 1;
                weight *= if nic { s } else { 1.0 - s };
                *l = if nic { 1.0 } else { q };
            }
            if weight == 0.0 {
                continue;
            }
            let pa: f64 = lose[1..=k].iter().product();
            let pb: f64 = lose[..k].iter().product();
            let pab = pb * lose[k];
            p_now += weight * tail(n, need, pa);
            p_both += weight * both(n, need, [pab, pa - pab, pb - pab]);
        }
        (p_now - p_both).max(0.0) / self.period
    }

    /// [`Self::false_alarm_rate`] per host-year.
    pub fn per_host_year(&self) -> f64 {
        self.false_alarm_rate() * YEAR_SECS
    }

    /// The detection time of a crash by each monitor, with one-way path delay `delay` and
    /// monitor-to-monitor delay `vote_delay` (seconds; constants).
    ///
    /// # Panics
    /// As [`Self::false_alarm_rate`], and with more than [`MAX_DETECTION_MONITORS`] monitors.
    pub fn detection(&self, delay: f64, vote_delay: f64) -> Detection {
        self.check();
        assert!(
            self.monitors <= MAX_DETECTION_MONITORS,
            "detection enumerates 7^N loss vectors: at most {MAX_DETECTION_MONITORS} monitors"
        );
        // Trailing lost beats per path, 0..=M (M lumps "M or more": its X is clamped anyway).
        const M: usize = 6;
        let (n, need, eta) = (self.monitors, self.needed, self.period);
        let mut atoms: Vec<(f64, f64)> = Vec::new();
        let mut ls = vec![0usize; n];
        for pattern in 0u32..(1 << M) {
            // NIC losses of beats b, b−1, … (bit t: the t-th from the last).
            let mut weight = 1.0;
            for t in 0..M {
                weight *= if pattern >> t & 1 == 1 {
                    self.shared
                } else {
                    1.0 - self.shared
                };
            }
            if weight == 0.0 {
                continue;
            }
            // P(L = l | pattern) for one path.
            let mut pl = [0.0; M + 1];
            let mut run = 1.0;
            for (l, p) in pl.iter_mut().enumerate() {
                if l == M {
                    *p = run;
                    break;
                }
                let lost = if pattern >> l & 1 == 1 {
                    1.0
                } else {
                    self.path
                };
                *p = run * (1.0 - lost);
                run *= lost;
            }
            loop {
                let w: f64 = weight * ls.iter().map(|&l| pl[l]).product::<f64>();
                if w > 0.0 {
                    let x: Vec<f64> = ls
                        .iter()
                        .map(|&l| self.timeout + delay - l as f64 * eta)
                        .collect();
                    for i in 0..n {
                        let mut votes: Vec<f64> = (0..n)
                            .filter(|&j| j != i)
                            .map(|j| x[j] + vote_delay)
                            .collect();
                        votes.sort_by(f64::total_cmp);
                        let z = if need <= 1 {
                            x[i]
                        } else {
                            x[i].max(votes[need - 2])
                        };
                        atoms.push((z, w / n as f64));
                    }
                }
                // Next vector of L's (odometer).
                let mut d = 0;
                while d < n && ls[d] == M {
                    ls[d] = 0;
                    d += 1;
                }
                if d == n {
                    break;
                }
                ls[d] += 1;
            }
        }
        atoms.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = Vec::new();
        for (z, w) in atoms {
            match merged.last_mut() {
                Some(last) if (last.0 - z).abs() < 1e-12 => last.1 += w,
                _ => merged.push((z, w)),
            }
        }
        // Y = max(z − U, 0): E[Y] per atom, U uniform on [0, η).
        let mean = merged
            .iter()
            .map(|&(z, w)| {
                let y = if z >= eta {
                    z - eta / 2.0
                } else if z > 0.0 {
                    z * z / (2.0 * eta)
                } else {
                    0.0
                };
                w * y
            })
            .sum();
        let max = self.timeout + delay + if need > 1 { vote_delay } else { 0.0 };
        Detection {
            mean,
            max,
            atoms: merged,
            period: eta,
        }
    }
}

/// P(at least `need` of `n` independent trials succeed), success `p`.
fn tail(n: usize, need: usize, p: f64) -> f64 {
    (need..=n)
        .map(|m| choose(n, m) * p.powi(m as i32) * (1.0 - p).powi((n - m) as i32))
        .sum()
}

/// Per path the outcomes (A ∧ B, A only, B only, neither) with probabilities `p[0..3]` and the
/// rest: P(#A ≥ need ∧ #B ≥ need).
fn both(n: usize, need: usize, p: [f64; 3]) -> f64 {
    let p0 = (1.0 - p[0] - p[1] - p[2]).max(0.0);
    let mut total = 0.0;
    for ab in 0..=n {
        for a in 0..=n - ab {
            for b in 0..=n - ab - a {
                if ab + a < need || ab + b < need {
                    continue;
                }
                let rest = n - ab - a - b;
                let ways = choose(n, ab) * choose(n - ab, a) * choose(n - ab - a, b);
                total += ways
                    * p[0].powi(ab as i32)
                    * p[1].powi(a as i32)
                    * p[2].powi(b as i32)
                    * p0.powi(rest as i32);
            }
        }
    }
    total
}

fn choose(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |c, i| c * (n - i) as f64 / (i + 1) as f64)
}

/// The smallest run k (and so the timeouts in `(kη, (k + 1)η]`) at which `model` (its timeout
/// ignored) has at most `per_year` false alarms per host-year; `None` past [`MAX_RUN`].
pub fn smallest_run(model: &Agreement, per_year: f64) -> Option<u32> {
    (1..=MAX_RUN).find(|&k| {
        let m = Agreement {
            timeout: (f64::from(k) + 0.5) * model.period,
            ..*model
        };
        m.per_host_year() <= per_year
    })
}

#[cfg(test)]
mod tests;
