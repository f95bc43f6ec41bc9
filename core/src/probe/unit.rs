//! A probe's unit of measure, held inline, and its conversion to a base unit.

use crate::wire::{MAX_UNIT_LEN, valid_unit};

/// A unit of measure as a sender wrote it (`s`, `%`, `MB`, `c`, …; empty: none). Fixed size,
/// no allocation: at most [`MAX_UNIT_LEN`] bytes, valid per [`crate::wire::valid_unit`].
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Unit {
    len: u8,
    bytes: [u8; MAX_UNIT_LEN],
}

/// Why a text is not a [`Unit`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unit {0:?} is longer than 8 bytes, holds whitespace or ;='\"|\\, or starts like a number")]
pub struct UnitError(pub String);

/// The base unit a [`Unit`] converts to (Prometheus conventions: seconds, bytes, ratios).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BaseUnit {
    /// `s`, `ms`, `us` (also `µs`).
    Seconds,
    /// `B`, `KB`/`kB`/`KiB`, `MB`/`MiB`, `GB`/`GiB`, `TB`/`TiB`, `PB`/`PiB`: 1024-powers.
    Bytes,
    /// `%`, divided by 100.
    Ratio,
    /// `c`, a Nagios continuous counter: the value is unchanged.
    Counter,
}

impl BaseUnit {
    /// The name used in metric labels: `seconds`, `bytes`, `ratio`, `counter`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seconds => "seconds",
            Self::Bytes => "bytes",
            Self::Ratio => "ratio",
            Self::Counter => "counter",
        }
    }
}

impl Unit {
    /// No unit.
    pub const NONE: Self = Self {
        len: 0,
        bytes: [0; MAX_UNIT_LEN],
    };

    /// `text` as a unit, if it is a valid one.
    pub fn new(text: &str) -> Result<Self, UnitError> {
        if !valid_unit(text) {
            return Err(UnitError(text.to_owned()));
        }
        let mut bytes = [0; MAX_UNIT_LEN];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Ok(Self {
            len: text.len() as u8, // ≤ MAX_UNIT_LEN
            bytes,
        })
    }

    /// The unit as written.
    pub fn as_str(&self) -> &str {
        // Always the bytes of a whole `&str` (see `new`).
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The base unit a value in this unit converts to, for the units the Nagios plugin
    /// guidelines name (and their binary-prefix spellings); `None` for no unit or one hbnode
    /// does not know (shown unconverted).
    ///
    /// Byte prefixes are 1024-powers: monitoring-plugins' `check_disk` up to 2.3 (Debian 12)
    /// prints `MB` for 1024² bytes, and 2.4's default is `MiB`. Only 2.4's explicit
    /// `--units MB` means 1000² bytes, which this reads as 1024² (about 5 % high).
    pub fn base(&self) -> Option<BaseUnit> {
        self.scale().map(|(base, _, _)| base)
    }

    /// `value` in this unit, in its [`base`](Self::base) unit (unchanged without one). Smaller
    /// units divide (`250ms` is exactly `0.25`), larger ones multiply.
    pub fn to_base(&self, value: f64) -> f64 {
        match self.scale() {
            Some((_, mul, div)) => value * mul / div,
            None => value,
        }
    }

    /// (base unit, multiplier, divisor).
    fn scale(&self) -> Option<(BaseUnit, f64, f64)> {
        const K: f64 = 1024.0;
        Some(match self.as_str() {
            "s" => (BaseUnit::Seconds, 1.0, 1.0),
            "ms" => (BaseUnit::Seconds, 1.0, 1e3),
            "us" | "µs" => (BaseUnit::Seconds, 1.0, 1e6),
            "B" => (BaseUnit::Bytes, 1.0, 1.0),
            "KB" | "kB" | "KiB" | "kiB" => (BaseUnit::Bytes, K, 1.0),
            "MB" | "MiB" => (BaseUnit::Bytes, K * K, 1.0),
            "GB" | "GiB" => (BaseUnit::Bytes, K * K * K, 1.0),
            "TB" | "TiB" => (BaseUnit::Bytes, K * K * K * K, 1.0),
            "PB" | "PiB" => (BaseUnit::Bytes, K * K * K * K * K, 1.0),
            "%" => (BaseUnit::Ratio, 1.0, 100.0),
            "c" => (BaseUnit::Counter, 1.0, 1.0),
            _ => return None,
        })
    }
}

impl core::fmt::Debug for Unit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Unit({:?})", self.as_str())
    }
}

impl core::fmt::Display for Unit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}
