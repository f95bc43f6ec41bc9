//! Choosing the exposition format from a scrape's `Accept` header, as the Prometheus Go
//! client's `promhttp` handler does (`expfmt.NegotiateIncludingOpenMetrics`): media ranges by
//! descending q-value (ties keep header order), the first that names a format this endpoint
//! writes wins; anything else — `*/*`, no header, a header that cannot be read — gets text
//! format 0.0.4.

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Prometheus text format 0.0.4: what `promtool check metrics`, curl users and
    /// text-only consumers read.
    Text004,
    /// OpenMetrics 1.0.0: what a Prometheus server asks for first.
    OpenMetrics,
}

impl Format {
    /// The response's `Content-Type`.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Text004 => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The format to answer a request whose `Accept` headers (joined with `,`) are `accept`.
pub(crate) fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text004;
    };
    let mut ranges: Vec<Range<'_>> = accept.split(',').filter_map(Range::parse).collect();
    // Stable: equal q-values keep the client's order.
    ranges.sort_by(|a, b| b.q.total_cmp(&a.q));
    ranges
        .iter()
        .filter(|r| r.q > 0.0)
        .find_map(Range::format)
        .unwrap_or(Format::Text004)
}

/// One media range of an `Accept` header.
#[derive(Debug)]
struct Range<'a> {
    /// `type/subtype`, as sent (compared case-insensitively).
    media: &'a str,
    /// The `version` parameter, if any.
    version: Option<&'a str>,
    /// The q-value: 1 if absent, 0 if unreadable (as `goautoneg` reads it).
    q: f64,
}

impl<'a> Range<'a> {
    fn parse(s: &'a str) -> Option<Self> {
        let mut parts = s.split(';');
        let media = parts.next()?.trim();
        if media.is_empty() {
            return None;
        }
        let mut range = Self {
            media,
            version: None,
            q: 1.0,
        };
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"');
            match k.trim() {
                k if k.eq_ignore_ascii_case("q") => {
                    range.q = v
                        .parse::<f64>()
                        .ok()
                        .filter(|q| q.is_finite())
                        .unwrap_or(0.0);
                }
                k if k.eq_ignore_ascii_case("version") => range.version = Some(v),
                _ => {}
            }
        }
        Some(range)
    }

    /// The format this range asks for, if this endpoint writes it.
    fn format(&self) -> Option<Format> {
        let is = |m: &str| self.media.eq_ignore_ascii_case(m);
        if is("application/openmetrics-text")
            && matches!(self.version, None | Some("1.0.0" | "0.0.1"))
        {
            // OpenMetrics 0.0.1 and 1.0.0 differ in nothing this endpoint writes.
            return Some(Format::OpenMetrics);
        }
        if is("text/plain") && matches!(self.version, None | Some("0.0.4")) {
            return Some(Format::Text004);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a Prometheus 2.42 server sends.
    const PROMETHEUS_2_42: &str = "application/openmetrics-text;version=1.0.0,\
        application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn curl_wildcards_and_text_plain_get_text_004() {
        for accept in [
            None,
            Some("*/*"),
            Some("text/plain"),
            Some("text/plain; version=0.0.4"),
            Some("TEXT/PLAIN;charset=utf-8"),
            Some(""),
            Some("application/json"),
            Some(",;;=,"),
        ] {
            assert_eq!(negotiate(accept), Format::Text004, "{accept:?}");
        }
    }

    #[test]
    fn openmetrics_is_answered_when_asked_for() {
        for accept in [
            PROMETHEUS_2_42,
            "application/openmetrics-text",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            "application/openmetrics-text;version=0.0.1",
            "text/plain;q=0.5, application/openmetrics-text",
        ] {
            assert_eq!(negotiate(Some(accept)), Format::OpenMetrics, "{accept}");
        }
    }

    #[test]
    fn q_values_are_honoured() {
        let prefers_text = "application/openmetrics-text;q=0.3,text/plain;q=0.9";
        assert_eq!(negotiate(Some(prefers_text)), Format::Text004);
        let refuses_om = "application/openmetrics-text;q=0,*/*";
        assert_eq!(negotiate(Some(refuses_om)), Format::Text004);
        let unreadable_q = "application/openmetrics-text;q=high";
        assert_eq!(negotiate(Some(unreadable_q)), Format::Text004);
        let equal_q_first_wins = "text/plain;q=0.5,application/openmetrics-text;q=0.5";
        assert_eq!(negotiate(Some(equal_q_first_wins)), Format::Text004);
    }

    #[test]
    fn unknown_versions_are_skipped() {
        let accept = "application/openmetrics-text;version=9.9.9,text/plain;version=0.0.4;q=0.1";
        assert_eq!(negotiate(Some(accept)), Format::Text004);
        assert_eq!(
            negotiate(Some(
                "text/plain;version=1.0.0,application/openmetrics-text;q=0.2"
            )),
            Format::OpenMetrics
        );
    }
}
