//! Theme logos end to end: images in ConfigMaps and Secrets of a real
//! control plane, the simulator's presigned storage and finalize over real
//! HTTP, and the operator in-process.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "support/operator.rs"]
mod operator_env;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Patch, PatchParams, PostParams};
use meetings_operator::controller::theme::logos::{FinalizeFailure, finalize_failures};
use meetings_operator::controller::theme::png_rules::{self, LogoKind};
use meetings_operator::crd::MeetingTheme;
use meetings_operator::crd::theme::{LogoState, LogosStatus};
use meetings_operator::meetings::{CreateTheme, LogoType, Theme};
use operator_env::{OperatorEnv, condition_message, has_condition};
use serde_json::json;
use sha2::{Digest, Sha256};

const WAIT: Duration = Duration::from_secs(30);

/// A `width`×`height` RGBA PNG filled with `shade`; with `transparent` its
/// top-left pixel is fully transparent.
fn png(width: u32, height: u32, transparent: bool, shade: u8) -> Vec<u8> {
    let mut data = [shade, shade, shade, 255].repeat((width * height) as usize);
    if transparent {
        data[3] = 0;
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("PNG header");
        writer.write_image_data(&data).expect("PNG data");
    }
    out
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates or replaces a ConfigMap whose `binaryData` holds `entries`.
async fn put_config_map(env: &OperatorEnv, name: &str, entries: &[(&str, &[u8])]) {
    let map = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        binary_data: Some(
            entries
                .iter()
                .map(|(key, bytes)| ((*key).to_owned(), ByteString(bytes.to_vec())))
                .collect(),
        ),
        ..Default::default()
    };
    env.api::<ConfigMap>()
        .patch(
            name,
            &PatchParams::apply("tests").force(),
            &Patch::Apply(&map),
        )
        .await
        .expect("ConfigMap written");
}

/// Creates or replaces a Secret holding `bytes` under `key`.
async fn put_secret(env: &OperatorEnv, name: &str, key: &str, bytes: &[u8]) {
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            key.to_owned(),
            ByteString(bytes.to_vec()),
        )])),
        ..Default::default()
    };
    env.api::<Secret>()
        .patch(
            name,
            &PatchParams::apply("tests").force(),
            &Patch::Apply(&secret),
        )
        .await
        .expect("Secret written");
}

fn from_config_map(name: &str, key: &str) -> serde_json::Value {
    json!({"configMapKeyRef": {"name": name, "key": key}})
}

fn theme(name: &str, logos: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": name},
        "spec": {"mainColor": "#0a66c2", "brandText": "Acme", "logos": logos}
    })
}

fn logos_of(theme: &MeetingTheme) -> LogosStatus {
    theme
        .status
        .as_ref()
        .and_then(|s| s.logos.clone())
        .unwrap_or_default()
}

fn theme_id(theme: &MeetingTheme) -> String {
    theme
        .status
        .as_ref()
        .and_then(|s| s.theme_id.clone())
        .expect("a theme id")
}

/// Waits until `check` accepts the theme's `status.logos`.
async fn wait_logos(
    env: &OperatorEnv,
    name: &str,
    what: &str,
    check: impl Fn(&LogosStatus) -> bool,
) -> MeetingTheme {
    env.wait_for::<MeetingTheme, _>(name, what, WAIT, |t| check(&logos_of(t)))
        .await
}

fn uploaded(state: &Option<LogoState>, bytes: &[u8]) -> bool {
    state
        .as_ref()
        .is_some_and(|s| s.sha256 == sha256(bytes) && s.url.is_some() && s.key.is_some())
}

/// Downloads a logo URL from the simulator's storage.
async fn download(url: &str) -> Vec<u8> {
    let answer = reqwest::get(url).await.expect("logo downloads");
    assert!(answer.status().is_success(), "{url}: {}", answer.status());
    answer.bytes().await.expect("logo body").to_vec()
}

async fn remote_theme(env: &OperatorEnv, id: &str) -> Theme {
    env.api_client().get_theme(id).await.expect("theme read")
}

fn synced_message(theme: &MeetingTheme) -> String {
    condition_message(theme.status.as_ref().map(|s| &s.conditions[..]), "Synced")
}

#[tokio::test]
async fn logos_are_uploaded_once_and_again_only_when_they_change() {
    let env = OperatorEnv::started("logos").await;
    let white = png(120, 40, true, 10);
    let colored = png(120, 40, true, 20);
    let favicon = png(32, 32, true, 30);
    put_config_map(&env, "white", &[("logo.png", &white)]).await;
    put_config_map(&env, "colored", &[("logo.png", &colored)]).await;
    put_config_map(&env, "favicon", &[("favicon.png", &favicon)]).await;
    env.create::<MeetingTheme>(theme(
        "brand",
        json!({
            "white": from_config_map("white", "logo.png"),
            "colored": from_config_map("colored", "logo.png"),
            "favicon": from_config_map("favicon", "favicon.png"),
        }),
    ))
    .await
    .unwrap();

    let brand = wait_logos(&env, "brand", "with three logos uploaded", |l| {
        uploaded(&l.white, &white)
            && uploaded(&l.colored, &colored)
            && uploaded(&l.favicon, &favicon)
    })
    .await;
    let conditions = brand.status.as_ref().map(|s| &s.conditions[..]);
    assert!(has_condition(conditions, "Ready", "True", "Ready"));
    assert!(has_condition(conditions, "Synced", "True", "Ready"));
    let counters = env.sim.counters();
    assert_eq!(counters.operation("storageUpload"), 3, "{counters:?}");
    assert_eq!(
        counters.operation("finalizeLogosForTheme"),
        1,
        "{counters:?}"
    );
    assert_eq!(
        counters.operation("getUploadUrlsForTheme"),
        1,
        "{counters:?}"
    );

    // The URLs in status are the theme's, and serve the uploaded images.
    let logos = logos_of(&brand);
    let remote = remote_theme(&env, &theme_id(&brand)).await;
    let url = |s: &Option<LogoState>| s.as_ref().and_then(|s| s.url.clone());
    assert_eq!(url(&logos.white), remote.brand_image_white_url);
    assert_eq!(url(&logos.colored), remote.brand_image_colored_url);
    assert_eq!(url(&logos.favicon), remote.branded_favicon_url);
    assert_eq!(
        logos.white.as_ref().and_then(|s| s.key.clone()),
        remote.brand_image_white
    );
    for (state, bytes) in [
        (&logos.white, &white),
        (&logos.colored, &colored),
        (&logos.favicon, &favicon),
    ] {
        assert_eq!(&download(&url(state).unwrap()).await, bytes);
    }
    let events = env.events_for("brand").await.join("\n");
    assert!(
        events.contains("LogosUploaded: uploaded and finalized logos white, colored, favicon"),
        "{events}"
    );

    // Resyncs (fast ones and ones that read the theme) upload nothing and
    // write no status.
    tokio::time::sleep(Duration::from_secs(1)).await;
    env.sim.reset_counters();
    let before = env.api::<MeetingTheme>().get("brand").await.unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let counters = env.sim.counters();
    for operation in [
        "getUploadUrlsForTheme",
        "storageUpload",
        "finalizeLogosForTheme",
    ] {
        assert_eq!(
            counters.operation(operation),
            0,
            "{operation}: {counters:?}"
        );
    }
    assert!(
        counters.operation("getThemeById") >= 1,
        "the resyncs compared the remote logos: {counters:?}"
    );
    let still = env.api::<MeetingTheme>().get("brand").await.unwrap();
    assert_eq!(logos_of(&still), logos);
    assert_eq!(
        before.metadata.resource_version, still.metadata.resource_version,
        "a no-op resync writes no status"
    );

    // A changed ConfigMap uploads that image only, finalized once.
    let recolored = png(120, 40, true, 99);
    put_config_map(&env, "colored", &[("logo.png", &recolored)]).await;
    let brand = wait_logos(&env, "brand", "with the new coloured logo", |l| {
        uploaded(&l.colored, &recolored)
    })
    .await;
    let counters = env.sim.counters();
    assert_eq!(counters.operation("storageUpload"), 1, "{counters:?}");
    assert_eq!(
        counters.operation("finalizeLogosForTheme"),
        1,
        "{counters:?}"
    );
    let changed = logos_of(&brand);
    assert_eq!(changed.white, logos.white);
    assert_eq!(changed.favicon, logos.favicon);
    assert_ne!(url(&changed.colored), url(&logos.colored));
    let remote = remote_theme(&env, &theme_id(&brand)).await;
    assert_eq!(url(&changed.colored), remote.brand_image_colored_url);
    assert_eq!(&download(&url(&changed.colored).unwrap()).await, &recolored);

    // A logo removed from the spec leaves status; the remote one stays.
    env.api::<MeetingTheme>()
        .patch(
            "brand",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"logos": {"favicon": null}}})),
        )
        .await
        .unwrap();
    let brand = wait_logos(&env, "brand", "without the favicon", |l| {
        l.favicon.is_none() && l.white.is_some()
    })
    .await;
    let remote = remote_theme(&env, &theme_id(&brand)).await;
    assert_eq!(remote.branded_favicon_url, url(&logos.favicon));
    assert_eq!(env.sim.counters().operation("storageUpload"), 1);
}

#[tokio::test]
async fn invalid_images_are_rejected_locally_without_storage_calls() {
    let env = OperatorEnv::started("logos-invalid").await;
    let opaque = png(100, 30, false, 40);
    let big_favicon = png(40, 40, true, 50);
    put_config_map(
        &env,
        "bad",
        &[
            ("not-a-png", b"GIF89a not really an image"),
            ("opaque.png", &opaque),
            ("favicon.png", &big_favicon),
        ],
    )
    .await;
    env.create::<MeetingTheme>(theme(
        "bad",
        json!({
            "white": from_config_map("bad", "not-a-png"),
            "colored": from_config_map("bad", "opaque.png"),
            "favicon": from_config_map("bad", "favicon.png"),
        }),
    ))
    .await
    .unwrap();

    let bad = env
        .wait_theme("bad", "Synced", "False", "InvalidLogo")
        .await;
    let conditions = bad.status.as_ref().map(|s| &s.conditions[..]);
    assert!(
        has_condition(conditions, "Ready", "True", "Ready"),
        "the theme itself is fine: {conditions:?}"
    );
    let message = synced_message(&bad);
    for expected in [
        "logo white (ConfigMap bad/not-a-png): must be a PNG image",
        "logo colored (ConfigMap bad/opaque.png): must have a transparent background",
        "logo favicon (ConfigMap bad/favicon.png): favicon must be square, 16–32 px; got 40×40",
    ] {
        assert!(message.contains(expected), "{expected:?} in {message:?}");
    }
    assert_eq!(logos_of(&bad), LogosStatus::default());
    let counters = env.sim.counters();
    for operation in [
        "getUploadUrlsForTheme",
        "storageUpload",
        "finalizeLogosForTheme",
    ] {
        assert_eq!(
            counters.operation(operation),
            0,
            "{operation}: {counters:?}"
        );
    }
    let events = env.events_for("bad").await.join("\n");
    assert!(events.contains("LogoProblem: logo white"), "{events}");

    // The same problems on every resync: no status write, no new event.
    let before = env.api::<MeetingTheme>().get("bad").await.unwrap();
    tokio::time::sleep(Duration::from_secs(7)).await;
    let after = env.api::<MeetingTheme>().get("bad").await.unwrap();
    assert_eq!(
        before.metadata.resource_version, after.metadata.resource_version,
        "an unchanged problem writes no status"
    );
    let problems = |events: Vec<String>| {
        events
            .iter()
            .filter(|e| e.starts_with("LogoProblem:"))
            .count()
    };
    assert_eq!(problems(env.events_for("bad").await), 1);

    // Too big cannot reach the operator: Kubernetes caps a ConfigMap's
    // (and a Secret's) data at 1 MiB, the API's limit, so the rule is
    // enforced before any image can be read.
    let too_big = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("too-big".into()),
            ..Default::default()
        },
        binary_data: Some(BTreeMap::from([(
            "logo.png".to_owned(),
            ByteString(vec![0; png_rules::MAX_LOGO_BYTES + 1]),
        )])),
        ..Default::default()
    };
    let refused = env
        .api::<ConfigMap>()
        .create(&PostParams::default(), &too_big)
        .await;
    assert!(
        matches!(&refused, Err(kube::Error::Api(e)) if e.code == 422),
        "{refused:?}"
    );

    // Fixing one image uploads it alone; the others are still reported.
    let favicon = png(32, 32, true, 50);
    put_config_map(
        &env,
        "bad",
        &[
            ("not-a-png", b"GIF89a not really an image"),
            ("opaque.png", &opaque),
            ("favicon.png", &favicon),
        ],
    )
    .await;
    wait_logos(&env, "bad", "with the fixed favicon", |l| {
        uploaded(&l.favicon, &favicon)
    })
    .await;
    let bad = env
        .wait_for::<MeetingTheme, _>("bad", "reporting the two others", WAIT, |t| {
            !synced_message(t).contains("favicon")
        })
        .await;
    let message = synced_message(&bad);
    assert!(message.contains("logo white"), "{message}");
    assert!(message.contains("logo colored"), "{message}");
    assert!(has_condition(
        bad.status.as_ref().map(|s| &s.conditions[..]),
        "Synced",
        "False",
        "InvalidLogo"
    ));
    let counters = env.sim.counters();
    assert_eq!(counters.operation("storageUpload"), 1, "{counters:?}");
    assert_eq!(
        counters.operation("finalizeLogosForTheme"),
        1,
        "{counters:?}"
    );
}

#[tokio::test]
async fn a_logo_from_a_secret_is_uploaded_once_it_exists_and_again_when_it_changes() {
    let env = OperatorEnv::started("logos-secret").await;
    env.create::<MeetingTheme>(theme(
        "brand",
        json!({"favicon": {"secretKeyRef": {"name": "brand-favicon", "key": "favicon.png"}}}),
    ))
    .await
    .unwrap();
    let waiting = env
        .wait_theme("brand", "Synced", "False", "LogoSourceNotFound")
        .await;
    assert_eq!(
        synced_message(&waiting),
        "logo favicon (Secret brand-favicon/favicon.png): the Secret does not exist"
    );
    assert!(has_condition(
        waiting.status.as_ref().map(|s| &s.conditions[..]),
        "Ready",
        "True",
        "Ready"
    ));

    // The Secret's arrival is seen through the watch.
    let favicon = png(16, 16, true, 70);
    put_secret(&env, "brand-favicon", "favicon.png", &favicon).await;
    let brand = env
        .wait_for::<MeetingTheme, _>("brand", "Synced with the favicon", WAIT, |t| {
            uploaded(&logos_of(t).favicon, &favicon)
                && has_condition(
                    t.status.as_ref().map(|s| &s.conditions[..]),
                    "Synced",
                    "True",
                    "Ready",
                )
        })
        .await;
    let url = logos_of(&brand).favicon.and_then(|s| s.url).unwrap();
    let remote = remote_theme(&env, &theme_id(&brand)).await;
    assert_eq!(remote.branded_favicon_url.as_deref(), Some(url.as_str()));
    assert_eq!(download(&url).await, favicon);

    let replaced = png(24, 24, true, 80);
    put_secret(&env, "brand-favicon", "favicon.png", &replaced).await;
    wait_logos(&env, "brand", "with the replaced favicon", |l| {
        uploaded(&l.favicon, &replaced)
    })
    .await;
    let counters = env.sim.counters();
    assert_eq!(counters.operation("storageUpload"), 2, "{counters:?}");
    assert_eq!(
        counters.operation("finalizeLogosForTheme"),
        2,
        "{counters:?}"
    );
}

#[tokio::test]
async fn a_theme_created_again_gets_its_logos_again() {
    let env = OperatorEnv::started("logos-recreate").await;
    let white = png(60, 20, true, 5);
    put_config_map(&env, "white", &[("logo.png", &white)]).await;
    env.create::<MeetingTheme>(theme(
        "brand",
        json!({"white": from_config_map("white", "logo.png")}),
    ))
    .await
    .unwrap();
    let first = wait_logos(&env, "brand", "with the white logo", |l| {
        uploaded(&l.white, &white)
    })
    .await;
    let first_id = theme_id(&first);

    // Someone deletes the remote theme: the next resync creates it again,
    // and its recorded logo key is gone from it, so the logo goes up again.
    env.api_client()
        .delete_theme(&first_id, true)
        .await
        .unwrap();
    let again = env
        .wait_for::<MeetingTheme, _>("brand", "recreated with its logo", WAIT, |t| {
            let id = t.status.as_ref().and_then(|s| s.theme_id.as_deref());
            id.is_some_and(|id| id != first_id) && uploaded(&logos_of(t).white, &white)
        })
        .await;
    let remote = remote_theme(&env, &theme_id(&again)).await;
    assert_eq!(
        remote.brand_image_white_url,
        logos_of(&again).white.and_then(|s| s.url)
    );
    assert_eq!(env.sim.counters().operation("storageUpload"), 2);
}

#[tokio::test]
async fn a_failed_finalize_names_the_image_and_the_error() {
    // Uploaded files expire at once, so finalize answers key_not_found.
    let mut env = OperatorEnv::new("logos-expired", |config| {
        config.behavior.temp_logo_ttl_secs = 0;
    })
    .await;
    env.start_operator();
    put_config_map(&env, "white", &[("logo.png", &png(50, 50, true, 1))]).await;
    env.create::<MeetingTheme>(theme(
        "brand",
        json!({"white": from_config_map("white", "logo.png")}),
    ))
    .await
    .unwrap();
    let brand = env
        .wait_theme("brand", "Synced", "False", "LogoUploadFailed")
        .await;
    let message = synced_message(&brand);
    assert!(
        message.contains("logo white (ConfigMap white/logo.png): finalize failed (key_not_found)"),
        "{message}"
    );
    assert!(has_condition(
        brand.status.as_ref().map(|s| &s.conditions[..]),
        "Ready",
        "True",
        "Ready"
    ));
    assert_eq!(logos_of(&brand), LogosStatus::default());
}

/// The operator's local rules agree with the API's: each image is also
/// uploaded and finalized directly, and the `invalidProperty` answers are
/// read back through the operator's parser of finalize errors.
#[tokio::test]
async fn local_rules_match_what_finalize_reports() {
    let env = OperatorEnv::new("logos-rules", |_| {}).await;
    let client = env.api_client();
    let created = client
        .create_theme(&CreateTheme {
            theme_name: Some("rules".into()),
            main_color: "#123456".into(),
            brand_text: "Rules".into(),
            short_company_url: None,
        })
        .await
        .unwrap();
    let mut padded = png(10, 10, true, 1);
    padded.resize(png_rules::MAX_LOGO_BYTES + 10, 0);
    let cases: Vec<(&str, LogoType, LogoKind, Vec<u8>)> = vec![
        (
            "logo",
            LogoType::White,
            LogoKind::Logo,
            png(300, 1, true, 1),
        ),
        (
            "opaque",
            LogoType::White,
            LogoKind::Logo,
            png(20, 20, false, 1),
        ),
        (
            "wide",
            LogoType::Colored,
            LogoKind::Logo,
            png(301, 5, true, 1),
        ),
        ("gif", LogoType::Colored, LogoKind::Logo, b"GIF89a".to_vec()),
        ("padded", LogoType::White, LogoKind::Logo, padded),
        (
            "favicon",
            LogoType::Favicon,
            LogoKind::Favicon,
            png(16, 16, true, 1),
        ),
        (
            "oblong",
            LogoType::Favicon,
            LogoKind::Favicon,
            png(16, 20, true, 1),
        ),
        (
            "tiny",
            LogoType::Favicon,
            LogoKind::Favicon,
            png(8, 8, false, 1),
        ),
    ];
    for (name, logo_type, kind, bytes) in cases {
        let local: Vec<&str> = png_rules::check(&bytes, kind)
            .iter()
            .map(|v| v.property())
            .collect();
        let targets = client.logo_upload_targets().await.unwrap();
        let target = targets
            .iter()
            .find(|t| t.logo_type() == Some(logo_type))
            .expect("a target per logo type");
        let key = target.key().expect("a key").to_owned();
        client.upload_logo(target, bytes.into()).await.unwrap();
        let remote: Vec<String> = match client
            .finalize_logos(&created.theme_id, std::slice::from_ref(&key))
            .await
        {
            Ok(()) => Vec::new(),
            Err(error) => finalize_failures(&error)
                .into_iter()
                .map(
                    |FinalizeFailure {
                         key: k,
                         code,
                         invalid_property,
                     }| {
                        assert_eq!(k, key, "{name}");
                        assert_eq!(code, "invalid_logo_properties", "{name}");
                        invalid_property.unwrap_or_default()
                    },
                )
                .collect(),
        };
        assert_eq!(local, remote, "{name}");
    }
}
