//! What a theme's spec asks of the API: the create request and the update
//! that makes a remote theme match. Pure functions of the spec and the
//! remote theme.

use crate::crd::MeetingTheme;
use crate::meetings::{CreateTheme, Theme, ThemeUpdate};

/// The create request for the theme's spec.
pub fn create_request(theme: &MeetingTheme) -> CreateTheme {
    CreateTheme {
        theme_name: Some(theme.desired_theme_name()),
        main_color: theme.spec.main_color.clone(),
        brand_text: theme.spec.brand_text.clone(),
        short_company_url: theme.spec.short_company_url.clone(),
    }
}

/// The fields of `remote` that differ from the spec, as an update.
pub fn mutable_diff(theme: &MeetingTheme, remote: &Theme) -> ThemeUpdate {
    let spec = &theme.spec;
    let differs = |want: &str, have: &Option<String>| have.as_deref() != Some(want);
    let name = theme.desired_theme_name();
    ThemeUpdate {
        theme_name: differs(&name, &remote.theme_name).then_some(name),
        main_color: differs(&spec.main_color, &remote.main_color).then(|| spec.main_color.clone()),
        brand_text: differs(&spec.brand_text, &remote.brand_text).then(|| spec.brand_text.clone()),
        short_company_url: spec
            .short_company_url
            .as_ref()
            .filter(|want| differs(want, &remote.short_company_url))
            .cloned(),
    }
}

/// The spec field names an update changes.
pub fn changed_fields(update: &ThemeUpdate) -> Vec<&'static str> {
    [
        (update.theme_name.is_some(), "themeName"),
        (update.main_color.is_some(), "mainColor"),
        (update.brand_text.is_some(), "brandText"),
        (update.short_company_url.is_some(), "shortCompanyUrl"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme(spec: serde_json::Value) -> MeetingTheme {
        MeetingTheme::new("acme", serde_json::from_value(spec).unwrap())
    }

    fn remote(name: &str, color: &str, text: &str, url: Option<&str>) -> Theme {
        serde_json::from_value(serde_json::json!({
            "theme_id": "t1",
            "theme_name": name,
            "main_color": color,
            "brand_text": text,
            "short_company_url": url,
        }))
        .unwrap()
    }

    #[test]
    fn a_matching_theme_needs_no_update() {
        let t = theme(
            serde_json::json!({"themeName": "Acme", "mainColor": "#112233", "brandText": "Acme"}),
        );
        let update = mutable_diff(&t, &remote("Acme", "#112233", "Acme", Some("acme")));
        assert!(update.is_empty(), "{update:?}");
        assert!(changed_fields(&update).is_empty());
    }

    #[test]
    fn each_differing_field_is_sent_and_named() {
        let t = theme(serde_json::json!({
            "themeName": "Acme", "mainColor": "#112233", "brandText": "Acme", "shortCompanyUrl": "acme"
        }));
        let update = mutable_diff(&t, &remote("Old", "#000000", "Old", Some("old")));
        assert_eq!(
            changed_fields(&update),
            ["themeName", "mainColor", "brandText", "shortCompanyUrl"]
        );
        assert_eq!(update.main_color.as_deref(), Some("#112233"));
    }

    #[test]
    fn an_unset_company_url_is_left_as_the_api_has_it() {
        let t = theme(
            serde_json::json!({"themeName": "Acme", "mainColor": "#112233", "brandText": "Acme"}),
        );
        let update = mutable_diff(&t, &remote("Acme", "#112233", "Acme", Some("kept")));
        assert_eq!(update.short_company_url, None);
    }

    #[test]
    fn the_create_request_carries_the_spec() {
        let t = theme(
            serde_json::json!({"themeName": "Acme", "mainColor": "#112233", "brandText": "Acme"}),
        );
        let request = create_request(&t);
        assert_eq!(request.theme_name.as_deref(), Some("Acme"));
        assert_eq!(request.main_color, "#112233");
    }
}
