//! Validation of `PATCH /applications` and `finalizeLogos` bodies.

use serde_json::Value;
use uuid::Uuid;

use super::{Reader, finish};
use crate::simulator::errors::ApiError;

/// Validates `{"update_details":{"default_theme_id":"<uuid>"}}`.
pub fn parse_update_application(body: &Value) -> Result<Uuid, ApiError> {
    let mut errors = Vec::new();
    let parsed = Reader::root(body, &mut errors).and_then(|mut root| {
        root.only(&["update_details"]);
        if !root.require("update_details") {
            return None;
        }
        let mut r = root.object("update_details")?;
        if !r.non_empty() {
            return None;
        }
        r.only(&["default_theme_id"]);
        if !r.require("default_theme_id") {
            return None;
        }
        r.uuid("default_theme_id", false).flatten()
    });
    finish(errors, parsed)
}

/// Validates `{"keys":[...]}`; items may be strings or `{"key": "..."}` objects.
pub fn parse_finalize_keys(body: &Value) -> Result<Vec<String>, ApiError> {
    let mut errors = Vec::new();
    let parsed = Reader::root(body, &mut errors).and_then(|mut r| {
        r.only(&["keys"]);
        if !r.require("keys") {
            return None;
        }
        let Some(items) = r.raw("keys").and_then(Value::as_array) else {
            r.report("keys", "must be an array");
            return None;
        };
        if items.is_empty() {
            r.report("keys", "must contain at least 1 items");
            return None;
        }
        let mut keys = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let key = match item {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o.get("key").and_then(Value::as_str),
                _ => None,
            };
            match key.filter(|k| !k.is_empty()) {
                Some(k) => keys.push(k.to_string()),
                None => {
                    let label = r.label_of(&format!("keys[{i}]"));
                    r.report_raw(format!(
                        "\"{label}\" must be a string or an object with a key"
                    ));
                }
            }
        }
        Some(keys)
    });
    finish(errors, parsed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn application_update() {
        let id = Uuid::new_v4();
        assert_eq!(
            parse_update_application(
                &json!({"update_details": {"default_theme_id": id.to_string()}})
            )
            .unwrap(),
            id
        );
        let err = parse_update_application(&json!({"update_details": {}})).unwrap_err();
        assert_eq!(
            err.body()["message"],
            "\"update_details\" must have at least 1 key"
        );
        let err = parse_update_application(&json!({"update_details": {"default_theme_id": "x"}}))
            .unwrap_err();
        assert_eq!(
            err.body()["message"],
            "\"update_details.default_theme_id\" must be a valid GUID"
        );
    }

    #[test]
    fn finalize_keys_accept_strings_and_objects() {
        let keys = parse_finalize_keys(&json!({"keys": ["a", {"key": "b"}]})).unwrap();
        assert_eq!(keys, ["a", "b"]);
        assert!(parse_finalize_keys(&json!({"keys": []})).is_err());
        assert!(parse_finalize_keys(&json!({"keys": [1]})).is_err());
        assert!(parse_finalize_keys(&json!({"keys": "a"})).is_err());
        assert!(parse_finalize_keys(&json!({})).is_err());
    }
}
