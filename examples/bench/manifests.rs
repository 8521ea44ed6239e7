//! What the benchmark applies: namespaces, the credentials Secret, the
//! themes and the rooms (made one at a time as they are sent), and a warm-up
//! of the API server's first custom-resource writes.

use std::collections::HashMap;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use meetings_operator::crd::{MeetingRoom, MeetingTheme};
use meetings_operator::meetings::format_timestamp;
use serde_json::json;

use crate::args::Args;
use crate::report::secs;
use crate::support;

/// The Secret with the application's credentials, in the first namespace.
pub const CREDENTIALS_SECRET: &str = "meetings-credentials";

/// A MeetingTheme to apply, and where.
pub struct ThemeManifest {
    namespace: String,
    name: String,
    object: MeetingTheme,
}

/// Theme `j` lives in namespace `j mod namespaces`.
pub fn theme_manifests(args: &Args, namespaces: &[String]) -> Result<Vec<ThemeManifest>, String> {
    (0..args.themes)
        .map(|j| {
            let namespace = namespaces[j % namespaces.len()].clone();
            let name = format!("theme-{j}");
            let object = serde_json::from_value(json!({
                "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {
                    "themeName": format!("bench-theme-{j}"),
                    "mainColor": "#0a66c2",
                    "brandText": format!("Bench {j}"),
                    "shortCompanyUrl": format!("bench-co-{j}"),
                }
            }))
            .map_err(|e| format!("theme {name}: {e}"))?;
            Ok(ThemeManifest {
                namespace,
                name,
                object,
            })
        })
        .collect()
}

/// The rooms, made one at a time as they are applied: at 100,000 rooms a
/// list of typed objects would cost the benchmark a few hundred MiB.
/// Room `i` lives in namespace `i mod namespaces` and uses that namespace's
/// themes round robin (none if it has none).
pub struct RoomPlan {
    count: usize,
    namespaces: Vec<String>,
    themes_of: HashMap<String, Vec<String>>,
    expires: String,
}

impl RoomPlan {
    pub fn new(args: &Args, namespaces: &[String], themes: &[ThemeManifest]) -> Self {
        let mut themes_of: HashMap<String, Vec<String>> = HashMap::new();
        for theme in themes {
            themes_of
                .entry(theme.namespace.clone())
                .or_default()
                .push(theme.name.clone());
        }
        Self {
            count: args.rooms,
            namespaces: namespaces.to_vec(),
            themes_of,
            expires: format_timestamp(
                &(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30)),
            ),
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    fn namespace(&self, i: usize) -> &str {
        &self.namespaces[i % self.namespaces.len()]
    }

    fn name(i: usize) -> String {
        format!("room-{i:05}")
    }

    fn theme(&self, i: usize) -> Option<&str> {
        let names = self.themes_of.get(self.namespace(i))?;
        Some(names[(i / self.namespaces.len()) % names.len()].as_str())
    }

    /// Rooms that name a theme.
    pub fn themed(&self) -> usize {
        (0..self.count).filter(|i| self.theme(*i).is_some()).count()
    }

    fn object(&self, i: usize) -> Result<MeetingRoom, String> {
        let mut spec = json!({
            "displayName": format!("Bench room {i}"),
            "type": "long_term",
            "expiresAt": self.expires,
            "joinApprovalLevel": "none",
        });
        if let Some(theme) = self.theme(i) {
            spec["themeRef"] = json!({ "name": theme });
        }
        serde_json::from_value(json!({
            "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
            "metadata": {"name": Self::name(i), "namespace": self.namespace(i)},
            "spec": spec,
        }))
        .map_err(|e| format!("room {i}: {e}"))
    }
}

/// Creates and deletes one MeetingTheme and one MeetingRoom before the
/// operator starts: the API server's first write of a custom resource kind
/// after it started takes about two seconds (once), which is no part of what
/// is measured. Returns how long each took.
pub async fn warm_up(kube: &kube::Client, namespace: &str) -> Result<Vec<(String, f64)>, String> {
    let theme: MeetingTheme = serde_json::from_value(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingTheme",
        "metadata": {"name": "warm-up"},
        "spec": {"mainColor": "#000000", "brandText": "warm-up"}
    }))
    .map_err(|e| format!("warm-up theme: {e}"))?;
    let room: MeetingRoom = serde_json::from_value(json!({
        "apiVersion": "meetings.vonage.com/v1alpha1", "kind": "MeetingRoom",
        "metadata": {"name": "warm-up"},
        "spec": {"displayName": "warm-up", "type": "instant"}
    }))
    .map_err(|e| format!("warm-up room: {e}"))?;
    let themes: Api<MeetingTheme> = Api::namespaced(kube.clone(), namespace);
    let rooms: Api<MeetingRoom> = Api::namespaced(kube.clone(), namespace);
    let mut took = Vec::new();
    let at = Instant::now();
    themes
        .create(&PostParams::default(), &theme)
        .await
        .map_err(|e| format!("warm-up theme: {e}"))?;
    took.push(("MeetingTheme".to_owned(), secs(at.elapsed())));
    let at = Instant::now();
    rooms
        .create(&PostParams::default(), &room)
        .await
        .map_err(|e| format!("warm-up room: {e}"))?;
    took.push(("MeetingRoom".to_owned(), secs(at.elapsed())));
    themes
        .delete("warm-up", &Default::default())
        .await
        .map_err(|e| format!("warm-up theme: {e}"))?;
    rooms
        .delete("warm-up", &Default::default())
        .await
        .map_err(|e| format!("warm-up room: {e}"))?;
    Ok(took)
}

/// Creates the namespace `name`.
pub async fn create_namespace(kube: &kube::Client, name: &str) -> Result<(), String> {
    let api: Api<Namespace> = Api::all(kube.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    api.create(&PostParams::default(), &ns)
        .await
        .map(drop)
        .map_err(|e| format!("creating namespace {name}: {e}"))
}

/// Creates the credentials Secret the operator uses by default.
pub async fn write_credentials(
    kube: &kube::Client,
    namespace: &str,
    application_id: &str,
    private_key_pem: &str,
) -> Result<(), String> {
    let secret = support::credentials_secret(CREDENTIALS_SECRET, application_id, private_key_pem);
    Api::<Secret>::namespaced(kube.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await
        .map(drop)
        .map_err(|e| format!("creating the credentials Secret: {e}"))
}

/// Creates the themes, then the rooms, `concurrency` at a time (each room's
/// object made as its create is sent); returns when each room's create was
/// sent, by `namespace/name`.
pub async fn apply(
    kube: &kube::Client,
    themes: &[ThemeManifest],
    rooms: &RoomPlan,
    concurrency: usize,
) -> Result<HashMap<String, Instant>, String> {
    futures::stream::iter(themes.iter().map(|theme| async move {
        Api::<MeetingTheme>::namespaced(kube.clone(), &theme.namespace)
            .create(&PostParams::default(), &theme.object)
            .await
            .map(drop)
            .map_err(|e| format!("creating theme {}: {e}", theme.name))
    }))
    .buffer_unordered(concurrency.max(1))
    .try_collect::<Vec<()>>()
    .await?;
    let sent = futures::stream::iter((0..rooms.len()).map(|i| async move {
        let namespace = rooms.namespace(i);
        let object = rooms.object(i)?;
        let at = Instant::now();
        Api::<MeetingRoom>::namespaced(kube.clone(), namespace)
            .create(&PostParams::default(), &object)
            .await
            .map_err(|e| format!("creating room {namespace}/{}: {e}", RoomPlan::name(i)))?;
        Ok::<_, String>((format!("{namespace}/{}", RoomPlan::name(i)), at))
    }))
    .buffer_unordered(concurrency.max(1))
    .try_collect::<HashMap<String, Instant>>()
    .await?;
    Ok(sent)
}
