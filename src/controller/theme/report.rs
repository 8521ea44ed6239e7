//! What a theme's status says once the theme is located: its id and name,
//! the API's view of it, the rooms that use it, and `Ready`/`Synced`.

use super::{Themes, local_users};
use crate::crd::common::ManagementPolicy;
use crate::crd::conditions::{READY, SYNCED, condition, now, set_condition};
use crate::crd::reasons::condition as reason;
use crate::crd::theme::RemoteTheme;
use crate::crd::{MeetingTheme, MeetingThemeStatus};
use crate::meetings::Theme;

/// The status of a theme that exists; `read` is the theme when this pass
/// read it, `drift` the fields an observed theme differs in.
pub(super) fn ready(
    themes: &Themes,
    theme: &MeetingTheme,
    status: &mut MeetingThemeStatus,
    read: Option<&Theme>,
    drift: &[&'static str],
) {
    let generation = theme.metadata.generation;
    if let Some(remote) = read {
        status.theme_id = Some(remote.theme_id.clone());
        status.theme_name = remote.theme_name.clone();
        status.remote = Some(RemoteTheme {
            theme_name: remote.theme_name.clone(),
            main_color: remote.main_color.clone(),
            brand_text: remote.brand_text.clone(),
            short_company_url: remote.short_company_url.clone(),
        });
    }
    status.rooms = local_users(themes, theme);
    status.pending_create = None;
    status.observed_generation = generation;
    let id = status.theme_id.clone().unwrap_or_default();
    set_condition(
        &mut status.conditions,
        condition(
            READY,
            true,
            reason::READY,
            format!("theme {id} is ready"),
            generation,
            now(),
        ),
    );
    let synced = match theme.spec.management_policy {
        ManagementPolicy::Managed => Some((reason::READY, "the theme matches the spec".to_owned())),
        // An observed theme's Synced condition (what differs) is set by the
        // full observation; passes without a read keep it.
        ManagementPolicy::ObserveOnly => read.map(|_| (reason::OBSERVE_ONLY, observed(drift))),
    };
    if let Some((why, message)) = synced {
        set_condition(
            &mut status.conditions,
            condition(SYNCED, true, why, message, generation, now()),
        );
    }
}

/// The `Synced` message of an observed theme.
fn observed(drift: &[&'static str]) -> String {
    if drift.is_empty() {
        "observing; the remote theme matches the spec".to_owned()
    } else {
        format!(
            "observing only; the remote theme differs from the spec in {} (not changed in ObserveOnly mode)",
            drift.join(", ")
        )
    }
}
