//! A probe's state: ok, warning, error, unknown.

/// The state of one probe of one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProbeStatus {
    /// Within its thresholds (or the sender said ok).
    #[default]
    Ok,
    /// Outside the warning range.
    Warning,
    /// Outside the error (critical) range.
    Error,
    /// No usable value: NaN, or the sender said unknown (a plugin timed out, say).
    Unknown,
}

impl ProbeStatus {
    /// The Nagios status code: 0 ok, 1 warning, 2 critical, 3 unknown.
    pub fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warning => 1,
            Self::Error => 2,
            Self::Unknown => 3,
        }
    }

    /// From a Nagios status code; anything above 3 is unknown.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Ok,
            1 => Self::Warning,
            2 => Self::Error,
            _ => Self::Unknown,
        }
    }

    /// `ok`, `warning`, `error` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Unknown => "unknown",
        }
    }

    /// How bad, for taking the worst of several: ok < unknown < warning < error (Nagios's own
    /// order for a host's services).
    pub fn severity(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Unknown => 1,
            Self::Warning => 2,
            Self::Error => 3,
        }
    }
}
