//! Admission rules of both CRDs, checked locally: the OpenAPI schema (lengths,
//! patterns, enums) and the CEL rules, including the transition rules.

use kube::CustomResourceExt;
use serde_json::{Value, json};

use super::{MeetingRoom, MeetingTheme};

fn room(spec: Value) -> MeetingRoom {
    serde_json::from_value(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1",
        "kind": "MeetingRoom",
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": spec,
    }))
    .unwrap()
}

fn theme(spec: Value) -> MeetingTheme {
    serde_json::from_value(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1",
        "kind": "MeetingTheme",
        "metadata": {"name": "t", "namespace": "ns"},
        "spec": spec,
    }))
    .unwrap()
}

fn long_term() -> Value {
    json!({"displayName": "Weekly", "type": "long_term", "expiresAt": "2030-01-01T00:00:00Z"})
}

fn cel_error(result: Result<(), kube::core::cel::ValidationErrors>) -> String {
    match result {
        Ok(()) => String::new(),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn valid_rooms_pass_cel() {
    assert_eq!(cel_error(room(long_term()).validate_cel()), "");
    assert_eq!(
        cel_error(room(json!({"displayName": "Now", "type": "instant"})).validate_cel()),
        ""
    );
}

#[test]
fn room_type_rules_name_the_field() {
    let cases = [
        (
            json!({"displayName": "x", "type": "long_term"}),
            "expiresAt is required for long_term rooms",
        ),
        (
            json!({"displayName": "x", "type": "instant", "expiresAt": "2030-01-01T00:00:00Z"}),
            "expiresAt is not allowed for instant rooms",
        ),
        (
            json!({"displayName": "x", "type": "instant", "expireAfterUse": true}),
            "expireAfterUse is only allowed for long_term rooms",
        ),
        (
            json!({"displayName": "x", "type": "instant", "deletionPolicy": "Expire"}),
            "deletionPolicy Expire is only allowed for long_term rooms",
        ),
    ];
    for (spec, message) in cases {
        let error = cel_error(room(spec.clone()).validate_cel());
        assert!(error.contains(message), "{spec}: {error}");
    }
}

#[test]
fn create_only_fields_are_immutable() {
    let old = room(json!({
        "displayName": "Weekly", "type": "long_term", "expiresAt": "2030-01-01T00:00:00Z",
        "metadata": "team=a", "recordingOptions": {"autoRecord": true}
    }));
    let edits = [
        ("displayName", json!("Renamed"), "displayName is immutable"),
        ("metadata", json!("team=b"), "metadata is immutable"),
        ("metadata", Value::Null, "metadata is immutable"),
        (
            "recordingOptions",
            json!({"autoRecord": false}),
            "recordingOptions is immutable",
        ),
        ("type", json!("instant"), "type is immutable"),
    ];
    for (field, value, message) in edits {
        let mut spec = serde_json::to_value(&old.spec).unwrap();
        if value.is_null() {
            spec.as_object_mut().unwrap().remove(field);
        } else {
            spec[field] = value;
        }
        if field == "type" {
            spec.as_object_mut().unwrap().remove("expiresAt");
        }
        let error = cel_error(room(spec.clone()).validate_cel_update(&old));
        assert!(error.contains(message), "{field}: {error}");
    }
    let mut mutable = serde_json::to_value(&old.spec).unwrap();
    mutable["joinApprovalLevel"] = json!("explicit_approval");
    mutable["expiresAt"] = json!("2031-01-01T00:00:00Z");
    mutable["themeRef"] = json!({"name": "brand"});
    assert_eq!(cel_error(room(mutable).validate_cel_update(&old)), "");
}

#[test]
fn short_url_needs_a_non_digit() {
    let error = cel_error(
        theme(json!({"mainColor": "#fff", "brandText": "B", "shortCompanyUrl": "12345"}))
            .validate_cel(),
    );
    assert!(
        error.contains("shortCompanyUrl must contain at least one letter"),
        "{error}"
    );
    assert_eq!(
        cel_error(
            theme(json!({"mainColor": "#fff", "brandText": "B", "shortCompanyUrl": "acme-1"}))
                .validate_cel()
        ),
        ""
    );
}

/// Validates `object` against a CRD's OpenAPI schema; returns the error paths.
fn schema_errors(schema_of: &Value, object: &Value) -> Vec<String> {
    let validator = jsonschema::draft4::new(schema_of).unwrap();
    validator
        .iter_errors(object)
        .map(|e| format!("{} {}", e.instance_path(), e))
        .collect()
}

fn openapi_schema<K: CustomResourceExt>() -> Value {
    let crd = K::crd();
    serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn room_schema_enforces_lengths_patterns_and_enums() {
    let schema = openapi_schema::<MeetingRoom>();
    let ok = json!({"spec": long_term()});
    assert!(schema_errors(&schema, &ok).is_empty());
    let cases = [
        ("displayName", json!("x".repeat(201)), "/spec/displayName"),
        ("displayName", json!(""), "/spec/displayName"),
        ("metadata", json!("m".repeat(501)), "/spec/metadata"),
        ("type", json!("weekly"), "/spec/type"),
        (
            "joinApprovalLevel",
            json!("sometimes"),
            "/spec/joinApprovalLevel",
        ),
        ("deletionPolicy", json!("Delete"), "/spec/deletionPolicy"),
        (
            "callbackUrls",
            json!({"roomsCallbackUrl": "ftp://example.com"}),
            "/spec/callbackUrls/roomsCallbackUrl",
        ),
        ("expireAfterUse", json!("yes"), "/spec/expireAfterUse"),
    ];
    for (field, value, path) in cases {
        let mut object = ok.clone();
        object["spec"][field] = value;
        let errors = schema_errors(&schema, &object);
        assert!(
            errors.iter().any(|e| e.starts_with(path)),
            "{field}: {errors:?}"
        );
    }
    let mut good_callback = ok.clone();
    good_callback["spec"]["callbackUrls"] = json!({"roomsCallbackUrl": "https://example.com/cb"});
    assert!(schema_errors(&schema, &good_callback).is_empty());
}

#[test]
fn theme_schema_enforces_lengths_patterns_and_enums() {
    let schema = openapi_schema::<MeetingTheme>();
    let ok = json!({"spec": {"mainColor": "#12f64e", "brandText": "Brand"}});
    assert!(schema_errors(&schema, &ok).is_empty());
    let cases = [
        ("mainColor", json!("12f64e"), "/spec/mainColor"),
        ("mainColor", json!("#12f64"), "/spec/mainColor"),
        ("brandText", json!("b".repeat(201)), "/spec/brandText"),
        ("themeName", json!("n".repeat(201)), "/spec/themeName"),
        (
            "shortCompanyUrl",
            json!("has space"),
            "/spec/shortCompanyUrl",
        ),
        (
            "shortCompanyUrl",
            json!("u".repeat(129)),
            "/spec/shortCompanyUrl",
        ),
        ("deletionPolicy", json!("Expire"), "/spec/deletionPolicy"),
    ];
    for (field, value, path) in cases {
        let mut object = ok.clone();
        object["spec"][field] = value;
        let errors = schema_errors(&schema, &object);
        assert!(
            errors.iter().any(|e| e.starts_with(path)),
            "{field}: {errors:?}"
        );
    }
    let mut missing = ok.clone();
    missing["spec"].as_object_mut().unwrap().remove("brandText");
    assert!(!schema_errors(&schema, &missing).is_empty());
}

#[test]
fn committed_crds_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["crds", "charts/meetings-operator/files/crds"] {
        for (file, crd) in super::all() {
            let expected = super::to_yaml(&crd).unwrap();
            let committed = std::fs::read_to_string(root.join(dir).join(file)).unwrap_or_default();
            assert!(
                committed == expected,
                "{dir}/{file} is stale: run `cargo run -- crd --write crds --write charts/meetings-operator/files/crds`"
            );
        }
    }
}
