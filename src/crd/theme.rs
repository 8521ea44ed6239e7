//! The `MeetingTheme` custom resource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CredentialsRef, PendingCreate};

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
    namespaced,
    status = "MeetingThemeStatus",
    shortname = "mtheme",
    shortname = "mthemes",
    category = "meetings",
    printcolumn = r#"{"name":"Theme ID","type":"string","jsonPath":".status.themeId"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Rooms","type":"integer","jsonPath":".status.roomCount"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    cel
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
}

/// Observed state of a Meetings theme.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingThemeStatus {
    /// `Ready` and `Synced`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
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
    pub pending_create: Option<PendingCreate>,
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
