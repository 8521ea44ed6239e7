//! Validation of `PATCH /applications` and `finalizeLogos` bodies.

use serde_json::Value;
use uuid::Uuid;

use super::{Reader, finish};
use crate::errors::ApiError;

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

/// Reads `{"keys":[...]}`; items may be strings or `{"key": "..."}` objects.
///
/// Failures use the operation's documented error shape (`could not finalize logos`): a missing
/// or empty list has no per-key errors, and unusable items become keys that are not found.
pub fn parse_finalize_keys(body: &Value) -> Result<Vec<String>, ApiError> {
    let items = body
        .get("keys")
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or_else(|| ApiError::BadRequest {
            message: "could not finalize logos".into(),
            errors: Vec::new(),
        })?;
    Ok(items
        .iter()
        .map(|item| match item {
            Value::String(key) => key.clone(),
            Value::Object(o) => match o.get("key") {
                Some(Value::String(key)) => key.clone(),
                other => other.map(Value::to_string).unwrap_or_default(),
            },
            other => other.to_string(),
        })
        .collect())
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
        let keys = parse_finalize_keys(&json!({"keys": ["a", {"key": "b"}, 1, {}]})).unwrap();
        assert_eq!(keys, ["a", "b", "1", ""]);
        for bad in [
            json!({"keys": []}),
            json!({"keys": "a"}),
            json!({}),
            json!([1]),
        ] {
            let err = parse_finalize_keys(&bad).unwrap_err();
            assert_eq!(
                err.body(),
                json!({"status": 400, "name": "BadRequestError",
                "message": "could not finalize logos", "errors": []})
            );
        }
    }
}
