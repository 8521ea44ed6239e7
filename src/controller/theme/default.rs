//! `applicationDefault: true`: the theme is made its application's default,
//! unless another theme of the application asks too.

use jiff::Timestamp;
use kube::ResourceExt;

use super::Themes;
use crate::controller::outcome::{Category, Failure, Halt};
use crate::crd::reasons::{condition as reason, event};
use crate::crd::theme::ApplicationDefaultStatus;
use crate::crd::{MeetingTheme, MeetingThemeStatus};
use crate::meetings::{MeetingsClient, format_timestamp};

/// Makes the theme the application default, or reports a conflict.
pub(super) async fn apply(
    themes: &Themes,
    theme: &MeetingTheme,
    client: &MeetingsClient,
    status: &mut MeetingThemeStatus,
) -> Result<(), Halt> {
    let applied = status
        .application_default
        .as_ref()
        .is_some_and(|d| d.applied);
    if theme.spec.application_default != Some(true) {
        if applied {
            // The API cannot unset a default; it stays until another theme is made default.
            status.application_default = Some(ApplicationDefaultStatus {
                applied: false,
                applied_at: None,
            });
        }
        return Ok(());
    }
    let Some(theme_id) = status.theme_id.clone() else {
        return Ok(());
    };
    let contenders = contenders(themes, theme, client.application_id());
    if !contenders.is_empty() {
        let message = format!(
            "MeetingThemes {} also ask to be the default theme of application {}; keep applicationDefault on one of them",
            contenders.join(", "),
            client.application_id()
        );
        return Err(
            Failure::new(Category::Observed, reason::DEFAULT_CONFLICT, message)
                .warn_once(event::REJECTED, "SetDefault")
                .into(),
        );
    }
    client
        .set_default_theme(&theme_id)
        .await
        .map_err(|error| Failure::api(&error, "SetDefault"))?;
    if !applied {
        // Re-assertions keep the first time, so a resync writes no status.
        status.application_default = Some(ApplicationDefaultStatus {
            applied: true,
            applied_at: Some(format_timestamp(&Timestamp::now())),
        });
        let note = format!("theme {theme_id} is now the application default");
        themes
            .services
            .events
            .normal(theme, event::DEFAULT_SET, "SetDefault", note)
            .await;
    }
    Ok(())
}

/// Other themes of the same application asking to be its default.
fn contenders(themes: &Themes, theme: &MeetingTheme, application_id: &str) -> Vec<String> {
    let uid = theme.uid();
    let mut others: Vec<String> = themes
        .services
        .themes
        .state()
        .iter()
        .filter(|other| other.uid() != uid && other.metadata.deletion_timestamp.is_none())
        .filter(|other| other.spec.application_default == Some(true))
        .filter(|other| {
            other
                .status
                .as_ref()
                .and_then(|s| s.application_id.as_deref())
                .is_none_or(|app| app == application_id)
        })
        .map(|other| {
            format!(
                "{}/{}",
                other.namespace().unwrap_or_default(),
                other.name_any()
            )
        })
        .collect();
    others.sort();
    others
}
