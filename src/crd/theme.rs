//! The `MeetingTheme` custom resource.

use crate::crd::conditions::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CredentialsRef, KeySelector, ManagementPolicy, PendingCreate};

/// What happens in the Meetings API when a `MeetingTheme` is deleted.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum ThemeDeletionPolicy {
    /// Delete the remote theme once no room uses it; until then deletion waits.
    #[default]
    Delete,
    /// Delete the remote theme at once with `force`; its rooms fall back to the default theme.
    ForceDelete,
    /// Leave the remote theme in the API.
    Orphan,
}

/// Desired state of a Meetings theme.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "meetings.vonage.com",
    version = "v1alpha1",
    kind = "MeetingTheme",
    doc = "A Vonage Meetings theme (colours, brand text, short URL, logos) that the operator creates, keeps in line with its spec and deletes safely: never while rooms still use it, unless told to.",
    namespaced,
    status = "MeetingThemeStatus",
    shortname = "mtheme",
    shortname = "mthemes",
    category = "meetings",
    printcolumn = r#"{"name":"Theme ID","type":"string","jsonPath":".status.themeId"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"Rooms","type":"integer","jsonPath":".status.roomCount"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    cel
)]
#[x_kube(
    validation = Rule::new("self.managementPolicy != 'ObserveOnly' || has(self.adoptId)").message("managementPolicy ObserveOnly needs adoptId: the id of the remote theme to observe"),
)]
#[serde(rename_all = "camelCase")]
pub struct MeetingThemeSpec {
    /// Theme name, unique in the application. Defaults to `<namespace>-<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub theme_name: Option<String>,
    /// Main colour as `#rgb` or `#rrggbb`.
    #[schemars(
        regex(pattern = r"^#([a-fA-F0-9]{6}|[a-fA-F0-9]{3})$"),
        length(max = 7)
    )]
    pub main_color: String,
    /// Brand text shown in the meeting UI.
    #[schemars(length(min = 1, max = 200))]
    pub brand_text: String,
    /// Short URL segment (unique across the whole service) placed in join URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-zA-Z0-9_~-]+$"), length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self.matches('[a-zA-Z_~-]')").message("shortCompanyUrl must contain at least one letter, '_', '~' or '-' (it cannot be digits only)"))]
    pub short_company_url: Option<String>,
    /// What deletion does in the API: `Delete` (default), `ForceDelete` or `Orphan`.
    #[serde(default)]
    pub deletion_policy: ThemeDeletionPolicy,
    /// Credentials Secret in this namespace; the operator's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<CredentialsRef>,
    /// Logo images, uploaded when they change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logos: Option<ThemeLogos>,
    /// Make this the application's default theme (at most one per application).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_default: Option<bool>,
    /// Adopt this existing remote theme instead of creating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("adoptId is immutable: create a new MeetingTheme to adopt another theme"))]
    pub adopt_id: Option<String>,
    /// `Managed` (default) or `ObserveOnly` (never writes to the API; needs `adoptId`).
    #[serde(default)]
    pub management_policy: ManagementPolicy,
}

/// Where each logo comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThemeLogos {
    /// Logo for dark backgrounds (PNG, transparent, 1-300 px).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub white: Option<LogoSource>,
    /// Logo for light backgrounds (PNG, transparent, 1-300 px).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colored: Option<LogoSource>,
    /// Favicon (PNG, transparent, square 16-32 px).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub favicon: Option<LogoSource>,
}

/// A PNG held by a ConfigMap or a Secret key in the theme's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.configMapKeyRef) != has(self.secretKeyRef)").message("set exactly one of configMapKeyRef and secretKeyRef"))]
pub struct LogoSource {
    /// A ConfigMap key (`binaryData` preferred).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<KeySelector>,
    /// A Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<KeySelector>,
}

/// The last uploaded image of one logo slot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogoState {
    /// SHA-256 of the uploaded PNG (hex); an image with the same hash is never uploaded again.
    pub sha256: String,
    /// Storage key of the finalized logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Public URL of the logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Uploaded logos.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogosStatus {
    /// White logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub white: Option<LogoState>,
    /// Coloured logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colored: Option<LogoState>,
    /// Favicon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub favicon: Option<LogoState>,
}

/// What the operator last told the API about the application default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDefaultStatus {
    /// Whether this theme was last set as the default (the API cannot read it back).
    pub applied: bool,
    /// When it was last set (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
}

/// Observed state of a Meetings theme.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingThemeStatus {
    /// `Ready` and `Synced`; `Reconciling` while work is in progress and
    /// `Stalled` when nothing can progress without a change (kstatus).
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The last `meetings.vonage.com/reconcile-requested-at` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Id of the remote theme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme_id: Option<String>,
    /// Name the remote theme was created with (used to find it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme_name: Option<String>,
    /// `MeetingRoom`s in this namespace that use the theme.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
    /// Rooms in the API (any owner) that use the theme, as last observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_count: Option<u32>,
    /// Application that owns the remote theme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// Set just before a create call, cleared when its answer is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_create: Option<Box<PendingCreate>>,
    /// Uploaded logos with their content hashes and URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logos: Option<LogosStatus>,
    /// The application-default setting last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_default: Option<ApplicationDefaultStatus>,
    /// The remote theme as last observed (ObserveOnly and adopted themes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteTheme>,
}

/// The remote theme's fields, mirrored for auditing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteTheme {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme_name: Option<String>,
    /// Main colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_color: Option<String>,
    /// Brand text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_text: Option<String>,
    /// Short URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_company_url: Option<String>,
}

impl MeetingTheme {
    /// The theme name to use in the API: the spec's, else `<namespace>-<name>`.
    pub fn desired_theme_name(&self) -> String {
        self.spec.theme_name.clone().unwrap_or_else(|| {
            let namespace = self.metadata.namespace.as_deref().unwrap_or("default");
            let name = self.metadata.name.as_deref().unwrap_or("theme");
            let mut generated = format!("{namespace}-{name}");
            generated.truncate(200);
            generated
        })
    }
}
