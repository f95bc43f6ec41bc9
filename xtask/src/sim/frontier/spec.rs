//! The frontier's list-valued flags: link models, budgets and the fleet's classes.

use hb_core::detector::AlarmRate;
use hb_sim::Link;

/// A link model of the grid: the spec as the user gave it, and the model.
#[derive(Clone, Debug)]
pub(crate) struct NamedLink {
    /// The spec as given (`lan`, `loss=1%;delay=normal:20ms,10ms`).
    pub(crate) name: String,
    /// The model.
    pub(crate) link: Link,
}

impl NamedLink {
    /// `name` reduced to letters, digits, `-` and `_`, for file names (`frontier-<slug>.svg`).
    pub(crate) fn slug(&self) -> String {
        let s: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        s.trim_matches('_').to_owned()
    }
}

/// `--links`: a comma-separated list of link specs.
#[derive(Clone, Debug)]
pub(crate) struct Links(pub(crate) Vec<NamedLink>);

/// A budget as given (`1/day`) and as parsed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rate {
    /// The parsed rate.
    pub(crate) rate: AlarmRate,
}

impl Rate {
    /// The rate in the largest unit where it is at least 1 (`10/hour`, `1/day`, `1/year`).
    pub(crate) fn label(&self) -> String {
        let h = self.rate.as_per_hour();
        let (v, unit) = if h >= 1.0 {
            (h, "hour")
        } else if h * 24.0 >= 1.0 - 1e-9 {
            (h * 24.0, "day")
        } else {
            (self.rate.as_per_year(), "year")
        };
        let v = format!("{v:.4}");
        let v = v.trim_end_matches('0').trim_end_matches('.');
        format!("{v}/{unit}")
    }
}

/// One class of a mixed fleet: a link model and its share of the nodes (a fraction, the
/// shares of all classes summing to 1).
#[derive(Clone, Debug)]
pub(crate) struct FleetClass {
    /// The class's link.
    pub(crate) link: NamedLink,
    /// Its share of the nodes, 0–1.
    pub(crate) share: f64,
}

/// `--fleet`: the classes of a mixed fleet.
#[derive(Clone, Debug)]
pub(crate) struct Fleet(pub(crate) Vec<FleetClass>);

/// Splits a comma-separated list of link specs. Link specs contain commas themselves
/// (`normal:20ms,10ms`, `burst=0.5%,20%`), always followed by a number, so a comma followed by a
/// digit or `.` continues the spec before it and any other comma starts a new one.
pub(crate) fn split_specs(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in s.split(',') {
        let continues = part.starts_with(|c: char| c.is_ascii_digit() || c == '.');
        match out.last_mut() {
            Some(last) if continues => {
                last.push(',');
                last.push_str(part);
            }
            _ => out.push(part.to_owned()),
        }
    }
    out.into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

fn named(spec: &str) -> Result<NamedLink, String> {
    let link = Link::parse(spec).map_err(|e| e.to_string())?;
    Ok(NamedLink {
        name: spec.to_owned(),
        link,
    })
}

/// Parses `--links`: presets or `Link::parse` specs, comma-separated, no name twice.
pub(crate) fn links(s: &str) -> Result<Links, String> {
    let specs = split_specs(s);
    if specs.is_empty() {
        return Err("give at least one link, e.g. lan,wifi_lossy".into());
    }
    let mut out: Vec<NamedLink> = Vec::new();
    for spec in specs {
        let l = named(&spec)?;
        if out.iter().any(|o| o.slug() == l.slug()) {
            return Err(format!("link {spec:?} is given twice"));
        }
        out.push(l);
    }
    Ok(Links(out))
}

/// Parses a budget flag (`N/hour`, `N/day`, `N/year`).
pub(crate) fn rate(s: &str) -> Result<Rate, String> {
    Ok(Rate {
        rate: super::super::budget_rate(s.trim())?,
    })
}

/// Parses `--fleet`: `LINK=SHARE` items, comma-separated (LINK a preset or a link spec, SHARE
/// a positive number; the shares are normalised to sum to 1).
pub(crate) fn fleet(s: &str) -> Result<Fleet, String> {
    let mut classes = Vec::new();
    for item in split_specs(s) {
        let (spec, share) = item.rsplit_once('=').ok_or_else(|| {
            format!("fleet class {item:?}: give LINK=SHARE, e.g. lan=90,wifi_lossy=9,wan=1")
        })?;
        let share: f64 = share
            .trim()
            .parse()
            .map_err(|_| format!("fleet class {item:?}: the share {share:?} is not a number"))?;
        if !(share.is_finite() && share > 0.0) {
            return Err(format!("fleet class {item:?}: the share must be positive"));
        }
        let link = named(spec.trim()).map_err(|e| format!("fleet class {item:?}: {e}"))?;
        classes.push(FleetClass { link, share });
    }
    if classes.is_empty() {
        return Err("give at least one class, e.g. lan=90,wifi_lossy=9,wan=1".into());
    }
    let total: f64 = classes.iter().map(|c| c.share).sum();
    for c in &mut classes {
        c.share /= total;
    }
    Ok(Fleet(classes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comma_before_a_digit_continues_the_spec() {
        assert_eq!(
            split_specs("lan,loss=1%;delay=normal:20ms,10ms,wifi_lossy,burst=0.5%,20%,.5"),
            [
                "lan",
                "loss=1%;delay=normal:20ms,10ms",
                "wifi_lossy",
                "burst=0.5%,20%,.5"
            ]
        );
        assert!(split_specs(" , ").is_empty());
    }

    #[test]
    fn links_parse_presets_and_specs_and_refuse_bad_ones() {
        let l = links("lan,loss=1%;delay=normal:20ms,10ms").unwrap().0;
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].slug(), "loss_1__delay_normal_20ms_10ms");
        assert!(links("lan,lan").is_err());
        assert!(links("moon").is_err());
        assert!(links("").is_err());
    }

    #[test]
    fn fleet_shares_are_normalised_and_checked() {
        let f = fleet("lan=90,wifi_lossy=9,loss=1%;delay=normal:20ms,10ms=1")
            .unwrap()
            .0;
        assert_eq!(f.len(), 3);
        assert!((f[0].share - 0.9).abs() < 1e-12);
        assert_eq!(f[2].link.name, "loss=1%;delay=normal:20ms,10ms");
        assert!((f[2].share - 0.01).abs() < 1e-12);
        assert!(fleet("lan").is_err());
        assert!(fleet("lan=0").is_err());
        assert!(fleet("lan=-1,wan=2").is_err());
        assert!(fleet("lan=many").is_err());
        assert!(fleet("moon=1").is_err());
    }

    #[test]
    fn budgets_are_labelled_in_their_largest_whole_unit() {
        let l = |s| rate(s).unwrap().label();
        assert_eq!(l("10/hour"), "10/hour");
        assert_eq!(l("1/day"), "1/day");
        assert_eq!(l("1/year"), "1/year");
        assert_eq!(l("0.5/hour"), "12/day");
        assert!(rate("0/day").is_err());
    }
}
