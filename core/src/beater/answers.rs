//! What the monitors answer: acks (monitor loss and failover), the schedules they carry, and
//! redirects to another monitor.

use core::net::SocketAddr;
use core::time::Duration;

use super::*;

impl Beater {
    /// Counts an unsigned ack whose instructions were ignored; reports the first.
    pub(super) fn ignore_unsigned(&mut self, from: SocketAddr) {
        self.unsigned_ignored += 1;
        if self.unsigned_ignored == 1 {
            self.events
                .push_back(BeaterEvent::UnsignedIgnored { monitor: from });
        }
    }

    /// An ack from `from`: if it is one of our monitors, records it and returns true.
    pub(super) fn on_ack_from_target(&mut self, now: Timestamp, from: SocketAddr) -> bool {
        let Some(i) = self.targets.iter().position(|t| t.addr == from) else {
            return false;
        };
        self.acks += 1;
        let t = &mut self.targets[i];
        t.since = now;
        if t.status == MonitorStatus::Lost {
            t.status = MonitorStatus::Healthy;
            self.events
                .push_back(BeaterEvent::MonitorBack { monitor: from });
            if self.cfg.failover
                && (i < self.active || self.targets[self.active].status == MonitorStatus::Lost)
            {
                if self.targets[self.active].status == MonitorStatus::Healthy {
                    self.targets[self.active].status = MonitorStatus::Standby;
                }
                self.active = i;
                self.events.push_back(BeaterEvent::Active { monitor: from });
            }
        }
        true
    }

    pub(super) fn redirect_timeout(&self) -> Duration {
        self.cfg.ack_timeout.unwrap_or(REDIRECT_TIMEOUT)
    }

    /// Adopts the schedule an ack from `from` carries, if its version is new.
    pub(super) fn adopt_schedule(&mut self, now: Timestamp, from: SocketAddr, ack: &Ack<'_>) {
        let Some(s) = &ack.schedule else {
            return;
        };
        if s.version == self.schedule_version {
            return;
        }
        let previous_period = self.period;
        self.period = if s.period_ms == 0 {
            self.cfg.period
        } else {
            Duration::from_millis(u64::from(s.period_ms))
        };
        self.schedule_version = s.version;
        // A shorter period takes effect now, not after the longer interval already armed.
        self.next_beat = self.next_beat.min(now + self.period);
        let sensors = s.sensors.as_ref().map(|list| {
            list.iter()
                .map(|e| SensorInterval {
                    sensor: e.sensor.into(),
                    every: Duration::from_millis(u64::from(e.every_ms)),
                })
                .collect()
        });
        self.events.push_back(BeaterEvent::ScheduleAdopted {
            monitor: ack.monitor.into(),
            addr: from,
            version: s.version,
            previous_period,
            period: self.period,
            sensors,
        });
    }

    /// `from` asks us to move to `to`: start beating there too, unless that is pointless or
    /// already under way.
    pub(super) fn start_redirect(&mut self, now: Timestamp, from: SocketAddr, to: &str) {
        let Ok(to) = to.parse::<SocketAddr>() else {
            return self.rejections.add(Rejection::InvalidField);
        };
        if self.redirect.is_some() || self.targets.iter().any(|t| t.addr == to) {
            return;
        }
        if self
            .failed_redirect
            .is_some_and(|(addr, at)| addr == to && now < at + REDIRECT_RETRY)
        {
            return;
        }
        self.redirect = Some(Redirect {
            from,
            to,
            since: now,
        });
        self.events
            .push_back(BeaterEvent::RedirectStarted { from, to });
    }

    /// The redirect target answered: it takes the place of the monitor that sent us there,
    /// which gets a Leave (sequence number of the next beat, which it will never see).
    pub(super) fn finish_redirect(&mut self, now: Timestamp) {
        let Some(r) = self.redirect.take() else {
            return;
        };
        let Some(t) = self.targets.iter_mut().find(|t| t.addr == r.from) else {
            return;
        };
        t.addr = r.to;
        t.since = now;
        if t.status == MonitorStatus::Lost {
            t.status = MonitorStatus::Healthy;
        }
        self.out
            .push_back((r.from, Out::Leave { seq: self.seq + 1 }));
        self.events.push_back(BeaterEvent::Redirected {
            from: r.from,
            to: r.to,
        });
    }

    pub(super) fn check_redirect(&mut self, now: Timestamp) {
        let Some(r) = self.redirect else {
            return;
        };
        let waited = now - r.since;
        if waited < self.redirect_timeout() {
            return;
        }
        self.redirect = None;
        self.failed_redirect = Some((r.to, now));
        self.out.push_back((r.to, Out::Leave { seq: self.seq + 1 }));
        self.events.push_back(BeaterEvent::RedirectFailed {
            from: r.from,
            to: r.to,
            waited,
        });
    }

    pub(super) fn check_acks(&mut self, now: Timestamp) {
        let Some(timeout) = self.cfg.ack_timeout else {
            return;
        };
        for t in &mut self.targets {
            if t.status == MonitorStatus::Healthy && now >= t.since + timeout {
                t.status = MonitorStatus::Lost;
                self.events.push_back(BeaterEvent::MonitorLost {
                    monitor: t.addr,
                    silence: now - t.since,
                });
            }
        }
        if self.cfg.failover && self.targets[self.active].status == MonitorStatus::Lost {
            let next = self
                .targets
                .iter()
                .position(|t| t.status != MonitorStatus::Lost);
            if let Some(i) = next {
                let t = &mut self.targets[i];
                if t.status == MonitorStatus::Standby {
                    t.status = MonitorStatus::Healthy;
                    t.since = now;
                }
                self.active = i;
                self.events
                    .push_back(BeaterEvent::Active { monitor: t.addr });
            }
        }
    }
}
