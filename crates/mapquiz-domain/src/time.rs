//! Timestamps with the wire's precision: UTC, milliseconds.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant truncated to whole milliseconds, serialised as `2025-08-11T15:46:50.000Z` (protocol §0.2).
///
/// Truncating at construction means a value survives a round trip through either database unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The instant `ms` milliseconds after the Unix epoch, or `None` when out of chrono's range.
    pub fn from_millis(ms: i64) -> Option<Self> {
        Utc.timestamp_millis_opt(ms).single().map(Self)
    }

    /// Truncates a chrono instant to milliseconds.
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        // A millisecond count of any chrono instant fits in i64 and maps back.
        Self::from_millis(dt.timestamp_millis()).unwrap_or(Self(dt))
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The underlying chrono value.
    pub fn datetime(self) -> DateTime<Utc> {
        self.0
    }

    /// The protocol's ISO-8601 form: three fractional digits and `Z`.
    pub fn to_iso(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// This instant moved by `d` (saturating at chrono's range).
    pub fn plus(self, d: chrono::Duration) -> Self {
        self.0.checked_add_signed(d).map(Self).unwrap_or(self)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(dt: DateTime<Utc>) -> Self {
        Self::from_datetime(dt)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_iso())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|dt| Self::from_datetime(dt.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn iso_form_has_three_fraction_digits_and_z() {
        let t = Timestamp::from_millis(1_754_927_210_000).unwrap();
        assert_eq!(t.to_iso(), "2025-08-11T15:46:50.000Z");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2025-08-11T15:46:50.000Z\"");
    }

    #[test]
    fn the_wire_form_reads_back() {
        let t = Timestamp::from_millis(1_754_927_210_123).unwrap();
        let back: Timestamp = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }

    #[test]
    fn sub_millisecond_precision_is_dropped() {
        let dt = Utc.timestamp_opt(1, 999_999_999).unwrap();
        assert_eq!(Timestamp::from_datetime(dt).to_iso(), "1970-01-01T00:00:01.999Z");
    }

    proptest! {
        #[test]
        fn iso_always_matches_the_wire_pattern(ms in 0i64..253_402_300_799_999) {
            let iso = Timestamp::from_millis(ms).unwrap().to_iso();
            let b = iso.as_bytes();
            prop_assert_eq!(b.len(), 24);
            prop_assert_eq!(b[10], b'T');
            prop_assert_eq!(b[19], b'.');
            prop_assert_eq!(b[23], b'Z');
            prop_assert_eq!(Timestamp::from_millis(ms).unwrap().millis(), ms);
        }
    }
}
