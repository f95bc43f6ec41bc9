//! The family model both expositions are written from: a family is a name, a help text, a
//! type, an optional unit and its series; nothing here knows either text format.

/// A family's type, as OpenMetrics names them (0.0.4 writes `info` as a `gauge`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A monotonic count; its series end in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Constant labels describing the process, value 1; its series end in `_info`.
    Info,
    /// Observations counted into cumulative buckets, with `_bucket`, `_sum` and `_count`.
    Histogram,
}

/// A family's unit, a base unit: its name ends in `_<unit>` and OpenMetrics says `# UNIT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Seconds (durations and Unix timestamps).
    Seconds,
    /// A ratio between 0 and 1.
    Ratio,
}

impl Unit {
    /// The unit as metadata and name suffix say it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Seconds => "seconds",
            Self::Ratio => "ratio",
        }
    }
}

/// A sample's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value {
    /// A count.
    Int(u64),
    /// A measurement; NaN and ±∞ are written `NaN`, `+Inf`, `-Inf`.
    Float(f64),
}

/// One sample: the suffix after the family name (`_total`, `_bucket`, …, or none), its labels
/// in order, its value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    /// Appended to the family's name.
    pub(crate) suffix: &'static str,
    /// Label names and values.
    pub(crate) labels: Vec<(&'static str, String)>,
    /// The value.
    pub(crate) value: Value,
}

/// One metric family.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Family {
    /// Full name (`hbnode_…`) without the type's suffix: no `_total` on a counter, no `_info`
    /// on an info; with the unit's suffix.
    pub(crate) name: String,
    /// One line of help.
    pub(crate) help: &'static str,
    /// The type.
    pub(crate) kind: Kind,
    /// The unit, if the value has one.
    pub(crate) unit: Option<Unit>,
    /// Samples, in exposition order.
    pub(crate) samples: Vec<Sample>,
}

/// The prefix of every family.
pub(crate) const PREFIX: &str = "hbnode_";

impl Family {
    fn new(name: &str, kind: Kind, help: &'static str) -> Self {
        Self {
            name: format!("{PREFIX}{name}"),
            help,
            kind,
            unit: None,
            samples: Vec::new(),
        }
    }

    /// A counter family `hbnode_{name}` (its series are `hbnode_{name}_total`).
    pub(crate) fn counter(name: &str, help: &'static str) -> Self {
        Self::new(name, Kind::Counter, help)
    }

    /// A gauge family `hbnode_{name}`.
    pub(crate) fn gauge(name: &str, help: &'static str) -> Self {
        Self::new(name, Kind::Gauge, help)
    }

    /// An info family `hbnode_{name}` with one series `hbnode_{name}_info{labels} 1`.
    pub(crate) fn info(name: &str, help: &'static str, labels: Labels) -> Self {
        let mut f = Self::new(name, Kind::Info, help);
        f.samples.push(Sample {
            suffix: "_info",
            labels,
            value: Value::Int(1),
        });
        f
    }

    /// A histogram family `hbnode_{name}` from per-bucket counts (not cumulative) for the
    /// upper `bounds`, then the count above the last bound, and the sum of the observations.
    pub(crate) fn histogram(
        name: &str,
        help: &'static str,
        bounds: &[f64],
        counts: &[u64],
        sum: f64,
    ) -> Self {
        let mut f = Self::new(name, Kind::Histogram, help);
        let mut cumulative = 0u64;
        let les = bounds.iter().map(|b| le(*b)).chain(["+Inf".to_owned()]);
        for (le, n) in les.zip(counts) {
            cumulative = cumulative.saturating_add(*n);
            f.samples.push(Sample {
                suffix: "_bucket",
                labels: vec![("le", le)],
                value: Value::Int(cumulative),
            });
        }
        f.samples.push(Sample {
            suffix: "_sum",
            labels: Vec::new(),
            value: Value::Float(sum),
        });
        f.samples.push(Sample {
            suffix: "_count",
            labels: Vec::new(),
            value: Value::Int(cumulative),
        });
        f
    }

    /// Declares the unit; the name must already end in `_<unit>`.
    pub(crate) fn unit(mut self, unit: Unit) -> Self {
        debug_assert!(
            self.name.ends_with(&format!("_{}", unit.as_str())),
            "{} lacks its unit suffix",
            self.name
        );
        self.unit = Some(unit);
        self
    }

    /// Adds one series (a counter's gets its `_total`).
    pub(crate) fn push(&mut self, labels: Labels, value: Value) {
        let suffix = match self.kind {
            Kind::Counter => "_total",
            Kind::Gauge | Kind::Info | Kind::Histogram => "",
        };
        self.samples.push(Sample {
            suffix,
            labels,
            value,
        });
    }

    /// Adds one series with one label per `(value, count)`.
    pub(crate) fn by<'a>(
        mut self,
        label: &'static str,
        values: impl IntoIterator<Item = (&'a str, u64)>,
    ) -> Self {
        for (v, n) in values {
            self.push(vec![(label, v.to_owned())], Value::Int(n));
        }
        self
    }

    /// Adds the one unlabelled series.
    pub(crate) fn value(mut self, value: Value) -> Self {
        self.push(Vec::new(), value);
        self
    }

    /// Sorts the series by their label values (histograms keep their bucket order), so the
    /// exposition does not depend on the order nodes or listeners were found in.
    pub(crate) fn sorted(mut self) -> Self {
        if self.kind != Kind::Histogram {
            self.samples.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        self
    }
}

/// Label names and values of one series.
pub(crate) type Labels = Vec<(&'static str, String)>;

/// A bucket bound as an `le` label: integral bounds keep a `.0` (`1.0`, as the Prometheus
/// clients write them), others are the shortest decimal that reads back the same.
fn le(bound: f64) -> String {
    if bound.is_infinite() {
        return if bound > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if bound.fract() == 0.0 {
        format!("{bound:.1}")
    } else {
        format!("{bound}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_inf_with_the_count() {
        let f = Family::histogram("x_seconds", "x", &[0.5, 1.0], &[2, 0, 3], 4.25);
        let got: Vec<(&str, Labels, Value)> = f
            .samples
            .iter()
            .map(|s| (s.suffix, s.labels.clone(), s.value))
            .collect();
        assert_eq!(
            got,
            vec![
                ("_bucket", vec![("le", "0.5".to_owned())], Value::Int(2)),
                ("_bucket", vec![("le", "1.0".to_owned())], Value::Int(2)),
                ("_bucket", vec![("le", "+Inf".to_owned())], Value::Int(5)),
                ("_sum", vec![], Value::Float(4.25)),
                ("_count", vec![], Value::Int(5)),
            ]
        );
    }

    #[test]
    fn series_sort_by_label_values() {
        let mut f = Family::gauge("g", "g");
        for n in ["b", "a", "c"] {
            f.push(vec![("node", n.to_owned())], Value::Int(0));
        }
        let f = f.sorted();
        let order: Vec<&str> = f.samples.iter().map(|s| s.labels[0].1.as_str()).collect();
        assert_eq!(order, ["a", "b", "c"]);
    }
}
