//! Strings that many objects hold the same value of (the id of their
//! application, of their theme, a condition's type, reason and message),
//! decoded into one shared copy: at 100,000 rooms of one application, one
//! copy of its id instead of 100,000.
//!
//! A field of type [`SharedStr`] (or `Option<SharedStr>`) is decoded into
//! the shared copy of its value.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// Values no object holds any more are dropped once the set has doubled
/// since the last time: it stays within twice the values in use.
struct Interned {
    values: HashSet<Arc<str>>,
    prune_at: usize,
}

const FIRST_PRUNE_AT: usize = 64;

static INTERNED: LazyLock<Mutex<Interned>> = LazyLock::new(|| {
    Mutex::new(Interned {
        values: HashSet::new(),
        prune_at: FIRST_PRUNE_AT,
    })
});

/// The shared copy of `value`.
pub fn intern(value: &str) -> Arc<str> {
    let mut interned = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(shared) = interned.values.get(value) {
        return shared.clone();
    }
    if interned.values.len() >= interned.prune_at {
        interned
            .values
            .retain(|shared| Arc::strong_count(shared) > 1);
        interned.prune_at = (interned.values.len() * 2).max(FIRST_PRUNE_AT);
    }
    let shared: Arc<str> = Arc::from(value);
    interned.values.insert(shared.clone());
    shared
}

/// An immutable string held as the shared copy of its value: 16 bytes in
/// its owner and no copy of its own. Decoded, built from a `&str` or a
/// `String`, it takes the shared copy; it encodes and reads as a string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SharedStr(Arc<str>);

impl SharedStr {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SharedStr {
    fn from(value: &str) -> Self {
        Self(intern(value))
    }
}

impl From<String> for SharedStr {
    fn from(value: String) -> Self {
        Self(intern(&value))
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for SharedStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SharedStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Interns the text as the decoder hands it over, without a copy of its own.
        struct SharedVisitor;

        impl Visitor<'_> for SharedVisitor {
            type Value = SharedStr;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<SharedStr, E> {
                Ok(SharedStr::from(value))
            }
        }

        deserializer.deserialize_str(SharedVisitor)
    }
}

impl schemars::JsonSchema for SharedStr {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        String::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_copy() {
        let first = intern("9a1b2c3d-application");
        let second = intern(&String::from("9a1b2c3d-application"));
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!Arc::ptr_eq(&first, &intern("another-application")));
    }

    #[test]
    fn decoding_shares_and_keeps_absence() {
        #[derive(serde::Deserialize)]
        struct Status {
            #[serde(default)]
            theme_id: Option<SharedStr>,
        }
        let decode = |text: &str| serde_json::from_str::<Status>(text).unwrap().theme_id;
        let (first, second) = (
            decode(r#"{"theme_id":"theme-a"}"#).unwrap(),
            decode(r#"{"theme_id":"theme-\u0061"}"#).unwrap(),
        );
        assert!(Arc::ptr_eq(&first.0, &second.0), "escaped or not");
        assert_eq!(first, "theme-a");
        assert_eq!(serde_json::to_string(&first).unwrap(), r#""theme-a""#);
        assert_eq!(decode(r#"{"theme_id":null}"#), None);
        assert_eq!(decode("{}"), None);
    }

    #[test]
    fn values_in_use_survive_pruning_and_the_rest_go() {
        let kept = intern("kept-while-held");
        for i in 0..1_000 {
            intern(&format!("dropped-{i}"));
        }
        assert!(Arc::ptr_eq(&kept, &intern("kept-while-held")));
        let held = INTERNED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values
            .len();
        assert!(held < 1_000, "{held} values held");
    }
}
