//! Request body validation with the service's (Joi-style) messages.

mod applications;
mod rooms;
mod themes;

pub use applications::{parse_finalize_keys, parse_update_application};
pub use rooms::{LifetimeRules, parse_create_room, parse_update_room};
pub use themes::{parse_create_theme, parse_update_theme};

use jiff::Timestamp;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::clock::parse_ts;
use super::errors::ApiError;
use super::state::values::{CallbackUrls, FeaturesPatch};

/// Reads fields of one JSON object, collecting validation messages.
pub(crate) struct Reader<'a, 'e> {
    map: &'a Map<String, Value>,
    path: String,
    errors: &'e mut Vec<String>,
}

impl<'a, 'e> Reader<'a, 'e> {
    /// A reader over the request body, which must be an object.
    pub(crate) fn root(body: &'a Value, errors: &'e mut Vec<String>) -> Option<Self> {
        match body.as_object() {
            Some(map) => Some(Self {
                map,
                path: String::new(),
                errors,
            }),
            None => {
                errors.push("\"value\" must be of type object".into());
                None
            }
        }
    }

    fn label(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn fail(&mut self, key: &str, what: &str) {
        let message = format!("\"{}\" {what}", self.label(key));
        self.errors.push(message);
    }

    /// Whether `key` is present (even as null).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Reports every key not in `allowed`.
    pub(crate) fn only(&mut self, allowed: &[&str]) {
        let unknown: Vec<String> = self
            .map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            self.fail(&key, "is not allowed");
        }
    }

    /// Reports `key` as required when absent.
    pub(crate) fn require(&mut self, key: &str) -> bool {
        if self.has(key) {
            true
        } else {
            self.fail(key, "is required");
            false
        }
    }

    /// Reports `key` as forbidden when present.
    pub(crate) fn forbid(&mut self, key: &str) {
        if self.has(key) {
            self.fail(key, "is not allowed");
        }
    }

    /// A non-empty string of at most `max` characters.
    pub(crate) fn string(&mut self, key: &str, max: usize) -> Option<String> {
        let value = self.map.get(key)?;
        let Some(text) = value.as_str() else {
            self.fail(key, "must be a string");
            return None;
        };
        if text.is_empty() {
            self.fail(key, "is not allowed to be empty");
            return None;
        }
        if text.chars().count() > max {
            self.fail(
                key,
                &format!("length must be less than or equal to {max} characters long"),
            );
            return None;
        }
        Some(text.to_string())
    }

    /// A string that must also satisfy `pattern_ok`; `shown` is the regex quoted in the message.
    pub(crate) fn patterned(
        &mut self,
        key: &str,
        max: usize,
        shown: &str,
        pattern_ok: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let text = self.string(key, max)?;
        if pattern_ok(&text) {
            Some(text)
        } else {
            self.fail(
                key,
                &format!("with value \"{text}\" fails to match the required pattern: {shown}"),
            );
            None
        }
    }

    /// A boolean.
    pub(crate) fn boolean(&mut self, key: &str) -> Option<bool> {
        let value = self.map.get(key)?;
        match value.as_bool() {
            Some(b) => Some(b),
            None => {
                self.fail(key, "must be a boolean");
                None
            }
        }
    }

    /// One of `allowed`.
    pub(crate) fn one_of(&mut self, key: &str, allowed: &[&str]) -> Option<String> {
        let value = self.map.get(key)?;
        match value.as_str() {
            Some(text) if allowed.contains(&text) => Some(text.to_string()),
            _ => {
                self.fail(key, &format!("must be one of [{}]", allowed.join(", ")));
                None
            }
        }
    }

    /// A UUID; `Some(None)` for an explicit null when `nullable`.
    pub(crate) fn uuid(&mut self, key: &str, nullable: bool) -> Option<Option<Uuid>> {
        let value = self.map.get(key)?;
        if value.is_null() && nullable {
            return Some(None);
        }
        let Some(text) = value.as_str() else {
            self.fail(key, "must be a string");
            return None;
        };
        match Uuid::parse_str(text) {
            Ok(uuid) if text.len() == 36 => Some(Some(uuid)),
            _ => {
                self.fail(key, "must be a valid GUID");
                None
            }
        }
    }

    /// An ISO 8601 timestamp.
    pub(crate) fn timestamp(&mut self, key: &str) -> Option<Timestamp> {
        let value = self.map.get(key)?;
        match value.as_str().and_then(parse_ts) {
            Some(ts) => Some(ts),
            None => {
                self.fail(key, "must be a valid date");
                None
            }
        }
    }

    /// A nested object reader.
    pub(crate) fn object<'b>(&'b mut self, key: &str) -> Option<Reader<'a, 'b>> {
        let value = self.map.get(key)?;
        let label = self.label(key);
        match value.as_object() {
            Some(map) => Some(Reader {
                map,
                path: label,
                errors: &mut *self.errors,
            }),
            None => {
                self.fail(key, "must be of type object");
                None
            }
        }
    }

    /// Reports `"<this object>" must have at least 1 key` when empty; returns whether non-empty.
    pub(crate) fn non_empty(&mut self) -> bool {
        if self.map.is_empty() {
            let message = format!("\"{}\" must have at least 1 key", self.path);
            self.errors.push(message);
            false
        } else {
            true
        }
    }

    /// Reports a custom message about `key`.
    pub(crate) fn report(&mut self, key: &str, what: &str) {
        self.fail(key, what);
    }
}

/// Finishes validation: the first message heads an `InputValidationError`.
pub(crate) fn finish<T>(errors: Vec<String>, value: Option<T>) -> Result<T, ApiError> {
    match value {
        Some(value) if errors.is_empty() => Ok(value),
        _ if errors.is_empty() => Err(ApiError::invalid("\"value\" must be of type object")),
        _ => Err(ApiError::InputValidation(errors)),
    }
}

const CALLBACK_KEYS: [&str; 3] = [
    "rooms_callback_url",
    "sessions_callback_url",
    "recordings_callback_url",
];

/// `callback_urls`: each URL must start with `http://` or `https://`.
pub(crate) fn callback_urls(reader: &mut Reader<'_, '_>, key: &str) -> Option<CallbackUrls> {
    let mut nested = reader.object(key)?;
    nested.only(&CALLBACK_KEYS);
    let mut url = |name: &str| {
        nested.patterned(name, usize::MAX, "/^https?:\\/\\/.*$/", |u| {
            u.starts_with("http://") || u.starts_with("https://")
        })
    };
    Some(CallbackUrls {
        rooms_callback_url: url("rooms_callback_url"),
        sessions_callback_url: url("sessions_callback_url"),
        recordings_callback_url: url("recordings_callback_url"),
    })
}

/// `available_features`: three optional booleans.
pub(crate) fn available_features(reader: &mut Reader<'_, '_>, key: &str) -> Option<FeaturesPatch> {
    let mut nested = reader.object(key)?;
    nested.only(&[
        "is_recording_available",
        "is_chat_available",
        "is_whiteboard_available",
    ]);
    Some(FeaturesPatch {
        is_recording_available: nested.boolean("is_recording_available"),
        is_chat_available: nested.boolean("is_chat_available"),
        is_whiteboard_available: nested.boolean("is_whiteboard_available"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_name_the_full_path() {
        let body = json!({"callback_urls": {"rooms_callback_url": "ftp://x", "extra": 1}});
        let mut errors = Vec::new();
        let mut reader = Reader::root(&body, &mut errors).unwrap();
        assert!(callback_urls(&mut reader, "callback_urls").is_some());
        assert_eq!(
            errors,
            [
                "\"callback_urls.extra\" is not allowed",
                "\"callback_urls.rooms_callback_url\" with value \"ftp://x\" fails to match the required pattern: /^https?:\\/\\/.*$/",
            ]
        );
    }

    #[test]
    fn non_objects_are_rejected() {
        let mut errors = Vec::new();
        assert!(Reader::root(&json!([1]), &mut errors).is_none());
        assert_eq!(errors, ["\"value\" must be of type object"]);
    }
}
