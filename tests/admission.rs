//! Every admission rule of the CRDs, enforced by the real API server: schema
//! limits, patterns and enums, the CEL rules and the create-only fields.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::DynamicObject;
use kube::discovery::ApiResource;
use serde_json::{Value, json};

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "meetings.vonage.com".into(),
        version: "v1alpha1".into(),
        api_version: "meetings.vonage.com/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

async fn api(kind: &str, plural: &str) -> (Api<DynamicObject>, String) {
    let cp = support::control_plane().await;
    let ns = cp.new_namespace("admission").await;
    let api = Api::namespaced_with(cp.client().await, &ns, &resource(kind, plural));
    (api, ns)
}

fn object(kind: &str, name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": kind,
        "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap()
}

/// Creates the object and returns the API server's refusal message, or "" if accepted.
async fn refusal(api: &Api<DynamicObject>, kind: &str, name: &str, spec: Value) -> String {
    match api
        .create(&PostParams::default(), &object(kind, name, spec))
        .await
    {
        Ok(_) => String::new(),
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            status.message
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

fn room(extra: Value) -> Value {
    let mut spec =
        json!({"displayName": "Weekly", "type": "long_term", "expiresAt": "2030-01-01T00:00:00Z"});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            spec.as_object_mut().unwrap().remove(k);
        } else {
            spec[k] = v.clone();
        }
    }
    spec
}

#[tokio::test]
async fn room_schema_and_cel_rules_refuse_invalid_manifests() {
    let (api, _) = api("MeetingRoom", "meetingrooms").await;
    let cases: Vec<(Value, &str)> = vec![
        (
            room(json!({"displayName": "x".repeat(201)})),
            "spec.displayName: Too long",
        ),
        (room(json!({"displayName": ""})), "spec.displayName"),
        (
            room(json!({"displayName": null})),
            "spec.displayName: Required value",
        ),
        (
            room(json!({"metadata": "m".repeat(501)})),
            "spec.metadata: Too long",
        ),
        (
            room(json!({"type": "weekly"})),
            "spec.type: Unsupported value: \"weekly\"",
        ),
        (
            room(json!({"joinApprovalLevel": "maybe"})),
            "spec.joinApprovalLevel: Unsupported value",
        ),
        (
            room(json!({"deletionPolicy": "Delete"})),
            "spec.deletionPolicy: Unsupported value",
        ),
        (room(json!({"expiresAt": "soon"})), "spec.expiresAt"),
        (
            room(json!({"expireAfterUse": "yes"})),
            "spec.expireAfterUse",
        ),
        (
            room(json!({"callbackUrls": {"roomsCallbackUrl": "ftp://x"}})),
            "spec.callbackUrls.roomsCallbackUrl",
        ),
        (
            room(json!({"expiresAt": null})),
            "expiresAt is required for long_term rooms",
        ),
        (
            room(json!({"type": "instant"})),
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
        (
            room(json!({"themeRef": {"name": ""}})),
            "spec.themeRef.name",
        ),
    ];
    for (i, (spec, expected)) in cases.into_iter().enumerate() {
        let message = refusal(&api, "MeetingRoom", &format!("bad-{i}"), spec.clone()).await;
        assert!(
            message.contains(expected),
            "case {i} {spec}: {message:?} lacks {expected:?}"
        );
    }
    let ok = refusal(
        &api,
        "MeetingRoom",
        "good",
        room(json!({"callbackUrls": {"roomsCallbackUrl": "https://example.com/cb"}})),
    )
    .await;
    assert_eq!(ok, "");
}

#[tokio::test]
async fn create_only_room_fields_are_immutable_with_a_reason() {
    let (api, _) = api("MeetingRoom", "meetingrooms").await;
    let spec = room(json!({"metadata": "team=a", "recordingOptions": {"autoRecord": true}}));
    assert_eq!(refusal(&api, "MeetingRoom", "r", spec).await, "");
    let edits = [
        (
            json!({"displayName": "Renamed"}),
            "displayName is immutable",
        ),
        (json!({"metadata": "team=b"}), "metadata is immutable"),
        (json!({"metadata": null}), "metadata is immutable"),
        (
            json!({"recordingOptions": {"autoRecord": false}}),
            "recordingOptions is immutable",
        ),
        (
            json!({"type": "instant", "expiresAt": null}),
            "type is immutable",
        ),
    ];
    for (patch, expected) in edits {
        let error = api
            .patch(
                "r",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": patch.clone()})),
            )
            .await
            .expect_err("immutable field change refused");
        let kube::Error::Api(status) = error else {
            panic!("unexpected error {error}")
        };
        assert!(
            status.message.contains(expected),
            "{patch}: {}",
            status.message
        );
        assert!(
            status
                .message
                .contains("sets it only when the room is created"),
            "the message says why: {}",
            status.message
        );
    }
    let mutable = json!({"spec": {"joinApprovalLevel": "explicit_approval", "expiresAt": "2031-01-01T00:00:00Z"}});
    api.patch("r", &PatchParams::default(), &Patch::Merge(mutable))
        .await
        .expect("mutable fields change");
}

#[tokio::test]
async fn theme_schema_and_cel_rules_refuse_invalid_manifests() {
    let (api, _) = api("MeetingTheme", "meetingthemes").await;
    let base = json!({"mainColor": "#12f64e", "brandText": "Brand"});
    let with = |extra: Value| {
        let mut spec = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                spec.as_object_mut().unwrap().remove(k);
            } else {
                spec[k] = v.clone();
            }
        }
        spec
    };
    let cases = [
        (with(json!({"mainColor": "12f64e"})), "spec.mainColor"),
        (with(json!({"mainColor": "#12f64e0"})), "spec.mainColor"),
        (
            with(json!({"mainColor": null})),
            "spec.mainColor: Required value",
        ),
        (
            with(json!({"brandText": "b".repeat(201)})),
            "spec.brandText: Too long",
        ),
        (
            with(json!({"themeName": "n".repeat(201)})),
            "spec.themeName: Too long",
        ),
        (
            with(json!({"shortCompanyUrl": "has space"})),
            "spec.shortCompanyUrl",
        ),
        (
            with(json!({"shortCompanyUrl": "u".repeat(129)})),
            "spec.shortCompanyUrl: Too long",
        ),
        (
            with(json!({"shortCompanyUrl": "12345"})),
            "shortCompanyUrl must contain at least one letter",
        ),
        (
            with(json!({"deletionPolicy": "Expire"})),
            "spec.deletionPolicy: Unsupported value",
        ),
        (
            with(json!({"credentialsRef": {"name": ""}})),
            "spec.credentialsRef.name",
        ),
    ];
    for (i, (spec, expected)) in cases.into_iter().enumerate() {
        let message = refusal(&api, "MeetingTheme", &format!("bad-{i}"), spec.clone()).await;
        assert!(
            message.contains(expected),
            "case {i} {spec}: {message:?} lacks {expected:?}"
        );
    }
    assert_eq!(
        refusal(
            &api,
            "MeetingTheme",
            "good",
            with(json!({"shortCompanyUrl": "acme-1"}))
        )
        .await,
        ""
    );
}
