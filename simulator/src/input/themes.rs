//! Validation of theme create and update bodies.

use serde_json::Value;

use super::{Reader, finish};
use crate::errors::ApiError;
use crate::state::{CreateTheme, UpdateTheme};

const THEME_KEYS: [&str; 4] = [
    "theme_name",
    "main_color",
    "brand_text",
    "short_company_url",
];
const COLOR_PATTERN: &str = "/#([a-fA-F0-9]{6}|[a-fA-F0-9]{3})$/";
const SHORT_URL_PATTERN: &str = "/^(?=.*[a-zA-Z_~-])([a-zA-Z0-9_~-]+)$/";

/// The spec's colour pattern, which is anchored only at the end.
pub(crate) fn color_ok(text: &str) -> bool {
    text.rfind('#').is_some_and(|i| {
        let hex = &text[i + 1..];
        matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// URL-safe characters, at least one of them not a digit.
pub(crate) fn short_url_ok(text: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'~' | b'-');
    text.bytes().all(allowed) && text.bytes().any(|b| !b.is_ascii_digit())
}

struct Fields {
    theme_name: Option<String>,
    main_color: Option<String>,
    brand_text: Option<String>,
    short_company_url: Option<String>,
}

fn read_fields(r: &mut Reader<'_, '_>) -> Fields {
    r.only(&THEME_KEYS);
    Fields {
        theme_name: r.string("theme_name", 200),
        main_color: r.patterned("main_color", 7, COLOR_PATTERN, color_ok),
        brand_text: r.string("brand_text", 200),
        short_company_url: r.patterned("short_company_url", 128, SHORT_URL_PATTERN, short_url_ok),
    }
}

/// Validates a `POST /themes` body.
pub fn parse_create_theme(body: &Value) -> Result<CreateTheme, ApiError> {
    let mut errors = Vec::new();
    let parsed = Reader::root(body, &mut errors).and_then(|mut r| {
        let has_color = r.require("main_color");
        let has_text = r.require("brand_text");
        let fields = read_fields(&mut r);
        if !(has_color && has_text) {
            return None;
        }
        Some(CreateTheme {
            theme_name: fields.theme_name,
            main_color: fields.main_color.unwrap_or_default(),
            brand_text: fields.brand_text.unwrap_or_default(),
            short_company_url: fields.short_company_url,
        })
    });
    finish(errors, parsed)
}

/// Validates a `PATCH /themes/{id}` body.
pub fn parse_update_theme(body: &Value) -> Result<UpdateTheme, ApiError> {
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
        let fields = read_fields(&mut r);
        Some(UpdateTheme {
            theme_name: fields.theme_name,
            main_color: fields.main_color,
            brand_text: fields.brand_text,
            short_company_url: fields.short_company_url,
        })
    });
    finish(errors, parsed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        result.unwrap_err().body()["message"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn patterns_follow_the_spec() {
        for good in ["#fff", "#12f64e", "#ABCDEF"] {
            assert!(color_ok(good), "{good}");
        }
        for bad in ["fff", "#ffff", "#12f64g", "#", ""] {
            assert!(!color_ok(bad), "{bad}");
        }
        for good in ["short-url", "a", "~", "acme_2"] {
            assert!(short_url_ok(good), "{good}");
        }
        for bad in ["123", "a b", "a/b", "ü"] {
            assert!(!short_url_ok(bad), "{bad}");
        }
    }

    #[test]
    fn create_requires_color_and_text() {
        assert_eq!(
            message(parse_create_theme(&json!({"brand_text": "B"}))),
            "\"main_color\" is required"
        );
        assert_eq!(
            message(parse_create_theme(
                &json!({"main_color": "red", "brand_text": "B"})
            )),
            "\"main_color\" with value \"red\" fails to match the required pattern: /#([a-fA-F0-9]{6}|[a-fA-F0-9]{3})$/"
        );
        assert_eq!(
            message(parse_create_theme(
                &json!({"main_color": "#fff", "brand_text": "B", "short_company_url": "x".repeat(129)})
            )),
            "\"short_company_url\" length must be less than or equal to 128 characters long"
        );
        let theme = parse_create_theme(
            &json!({"main_color": "#fff", "brand_text": "B", "theme_name": "T"}),
        )
        .unwrap();
        assert_eq!(theme.theme_name.as_deref(), Some("T"));
    }

    #[test]
    fn update_needs_a_key() {
        assert_eq!(
            message(parse_update_theme(&json!({"update_details": {}}))),
            "\"update_details\" must have at least 1 key"
        );
        let update = parse_update_theme(&json!({"update_details": {"brand_text": "New"}})).unwrap();
        assert_eq!(update.brand_text.as_deref(), Some("New"));
    }
}
