//! Strings that many objects hold the same value of (the id of their
//! application, of their theme), decoded into one shared copy: at 100,000
//! rooms of one application, one copy of its id instead of 100,000.
//!
//! Use it on a field with `#[serde(deserialize_with = "interned::deserialize")]`.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use serde::{Deserialize, Deserializer};

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

/// Decodes an optional string into its shared copy.
pub fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Arc<str>>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.map(|value| intern(&value)))
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
        #[derive(Deserialize)]
        struct Status {
            #[serde(default, deserialize_with = "deserialize")]
            theme_id: Option<Arc<str>>,
        }
        let decode = |text: &str| serde_json::from_str::<Status>(text).unwrap().theme_id;
        let (first, second) = (
            decode(r#"{"theme_id":"theme-a"}"#).unwrap(),
            decode(r#"{"theme_id":"theme-a"}"#).unwrap(),
        );
        assert!(Arc::ptr_eq(&first, &second));
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
