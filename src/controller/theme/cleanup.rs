//! A deleted theme, per `deletionPolicy`: `Orphan` leaves it, `Delete` waits
//! until no room uses it, `ForceDelete` deletes it at once.

use kube::ResourceExt;

use super::{Themes, find_by_name, local_users};
use crate::controller::outcome::{Category, Failure, Halt};
use crate::crd::reasons::{condition as reason, event};
use crate::crd::theme::ThemeDeletionPolicy;
use crate::crd::{MeetingTheme, MeetingThemeStatus};
use crate::meetings::{ApiError, MeetingsClient};

/// Deletes or leaves the remote theme; `Ok` once the finalizer may go.
pub(super) async fn delete(
    themes: &Themes,
    theme: &MeetingTheme,
    status: &mut MeetingThemeStatus,
) -> Result<(), Halt> {
    let policy = theme.spec.deletion_policy;
    let in_doubt = status.theme_id.is_none() && status.pending_create.is_some();
    if policy == ThemeDeletionPolicy::Orphan || (status.theme_id.is_none() && !in_doubt) {
        return orphan(themes, theme, status).await;
    }
    if policy == ThemeDeletionPolicy::Delete {
        let users = local_users(themes, theme);
        if !users.is_empty() {
            status.rooms = users.clone();
            return Err(blocked(format!(
                "deletion waits: MeetingRooms {} still use this theme; delete them or change their themeRef, or set deletionPolicy ForceDelete",
                users.join(", ")
            )));
        }
    }
    let client = client(themes, theme).await?;
    let theme_id = match status.theme_id.clone() {
        Some(id) => id,
        // A create whose answer was lost may have made the theme: find it,
        // or deleting the MeetingTheme would leak it.
        None => match find_by_name(theme, &client).await {
            Ok(Some(found)) => found.theme_id,
            Ok(None) => return Ok(()),
            Err(error) => return Err(Failure::api(&error, "RecoverCreate").into()),
        },
    };
    let force = policy == ThemeDeletionPolicy::ForceDelete;
    match client.delete_theme(&theme_id, force).await {
        Ok(()) | Err(ApiError::NotFound(_)) => {
            deleted(themes, theme, status, &theme_id, force).await;
            Ok(())
        }
        Err(ApiError::InvalidRequest(e)) => Err(blocked(format!(
            "deletion waits: the API refused to delete theme {theme_id}: {e}; it is deleted once no room in the API uses it (rooms cannot be deleted, only expire), or set deletionPolicy ForceDelete"
        ))),
        Err(error) => Err(Failure::api(&error, "Delete").into()),
    }
}

/// Leaves the remote theme in place (or there is none).
async fn orphan(
    themes: &Themes,
    theme: &MeetingTheme,
    status: &MeetingThemeStatus,
) -> Result<(), Halt> {
    let Some(theme_id) = status.theme_id.as_deref() else {
        return Ok(());
    };
    let note = if was_default(status) {
        format!("left theme {theme_id} in the API; it stays the application default")
    } else {
        format!("left theme {theme_id} in the API")
    };
    themes
        .services
        .events
        .normal(theme, event::ORPHANED, "Delete", note)
        .await;
    Ok(())
}

async fn deleted(
    themes: &Themes,
    theme: &MeetingTheme,
    status: &MeetingThemeStatus,
    theme_id: &str,
    force: bool,
) {
    let mut note = if force {
        format!("deleted theme {theme_id} with force; its rooms fall back to the default theme")
    } else {
        format!("deleted theme {theme_id}")
    };
    if was_default(status) {
        note.push_str("; it was the application default, so the application has no default theme until another MeetingTheme sets applicationDefault");
    }
    themes
        .services
        .events
        .normal(theme, event::DELETED, "Delete", note)
        .await;
}

fn was_default(status: &MeetingThemeStatus) -> bool {
    status
        .application_default
        .as_ref()
        .is_some_and(|d| d.applied)
}

/// The Meetings client for the deletion, or why there is none.
async fn client(themes: &Themes, theme: &MeetingTheme) -> Result<MeetingsClient, Halt> {
    let namespace = theme.namespace().unwrap_or_default();
    let resolved = themes
        .services
        .credentials
        .client(&namespace, theme.spec.credentials_ref.as_ref())
        .await;
    resolved.map_err(|problem| {
        let message = format!("cannot delete the theme: {problem}");
        Failure::new(Category::Credentials, reason::CREDENTIALS, message).into()
    })
}

/// Deletion waits; users of the theme are watched (rooms) or polled (the API).
fn blocked(message: String) -> Halt {
    Failure::new(Category::Blocked, reason::DELETION_BLOCKED, message)
        .warn_once(event::DELETION_BLOCKED, "Delete")
        .into()
}
