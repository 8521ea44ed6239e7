//! Serde helpers that accept the variations the live service produced.

/// Optional timestamps: RFC 3339 with or without fraction, or a plain date
/// (taken as midnight UTC). Serialized as RFC 3339 with milliseconds.
pub mod timestamp {
    use jiff::{Timestamp, civil::Date, tz::TimeZone};
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::utc_text::{Precision, UtcText};

    /// Formats a timestamp the way the service does: `2023-01-24T03:20:38.629Z`.
    pub fn format(ts: &Timestamp) -> String {
        text(ts).to_string()
    }

    fn text(ts: &Timestamp) -> UtcText {
        UtcText {
            at: *ts,
            precision: Precision::Millis,
        }
    }

    /// Parses RFC 3339, or a plain date as midnight UTC.
    pub fn parse(text: &str) -> Option<Timestamp> {
        if let Ok(ts) = text.parse::<Timestamp>() {
            return Some(ts);
        }
        let date: Date = text.parse().ok()?;
        date.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
    }

    pub fn serialize<S: Serializer>(value: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(ts) => s.collect_str(&text(ts)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let raw = Option::<String>::deserialize(d)?;
        match raw.as_deref() {
            None | Some("") => Ok(None),
            Some(text) => parse(text).map(Some).ok_or_else(|| {
                serde::de::Error::custom(format!("not an ISO 8601 timestamp: {text:?}"))
            }),
        }
    }
}

/// Optional unsigned numbers sent as numbers or as numeric strings.
pub mod opt_u64 {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u64),
        Float(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(match Option::<NumberOrText>::deserialize(d)? {
            None => None,
            Some(NumberOrText::Number(n)) => Some(n),
            Some(NumberOrText::Float(f)) if f >= 0.0 => Some(f as u64),
            Some(NumberOrText::Float(_)) => None,
            Some(NumberOrText::Text(t)) => t.trim().parse().ok(),
        })
    }
}

/// `_embedded` as `{"rooms": [...]}` (the spec) or a flat array (the live
/// service); `null` or an object without `rooms` is no rooms. Read in one
/// pass: an untagged enum would first copy every page into serde's
/// intermediate tree to try each shape.
pub fn embedded_rooms<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use std::fmt;
    use std::marker::PhantomData;

    use serde::Deserialize;
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};

    #[derive(Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Key {
        Rooms,
        #[serde(other)]
        Other,
    }

    struct Embedded<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Embedded<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of rooms or an object with `rooms`")
        }

        fn visit_unit<E>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_none<E>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Vec<T>, D2::Error> {
            d.deserialize_any(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut rooms = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(room) = seq.next_element()? {
                rooms.push(room);
            }
            Ok(rooms)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
            let mut rooms = Vec::new();
            while let Some(key) = map.next_key()? {
                match key {
                    Key::Rooms => rooms = map.next_value::<Option<Vec<T>>>()?.unwrap_or_default(),
                    Key::Other => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(rooms)
        }
    }

    d.deserialize_any(Embedded(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::timestamp;

    #[test]
    fn timestamps_round_trip_with_milliseconds() {
        let ts = timestamp::parse("2023-01-24T03:20:38.629Z").unwrap();
        assert_eq!(timestamp::format(&ts), "2023-01-24T03:20:38.629Z");
        let date = timestamp::parse("2023-01-24").unwrap();
        assert_eq!(timestamp::format(&date), "2023-01-24T00:00:00.000Z");
        // Written as the format string `%Y-%m-%dT%H:%M:%S%.3fZ` writes it.
        for text in [
            "0001-02-03T04:05:06.007Z",
            "9999-01-01T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
        ] {
            let ts = timestamp::parse(text).unwrap();
            assert_eq!(timestamp::format(&ts), text);
            assert_eq!(ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), text);
        }
        let sub_milli = timestamp::parse("2023-01-24T03:20:38.629999Z").unwrap();
        assert_eq!(timestamp::format(&sub_milli), "2023-01-24T03:20:38.629Z");
        assert!(timestamp::parse("yesterday").is_none());
    }
}
