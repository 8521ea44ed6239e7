//! `MeetingTheme`s as a [`ManagedKind`]: settled themes are read once per
//! resync cycle, created exactly once (theme names are unique per application, so
//! a lost create is found by name), updated, deleted per policy once no room
//! uses them, made the application default on request, and given their logos.

mod cleanup;
mod default;
pub mod logos;
pub mod png_rules;
mod report;
pub mod sync;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kube::ResourceExt;

use super::context::Services;
use super::kind::{Change, ManagedKind, Observed, SpecView, Vanished};
use super::outcome::{Halt, Next};
use crate::crd::common::ManagementPolicy;
use crate::crd::conditions::{READY, SYNCED, is_true};
use crate::crd::theme::ThemeDeletionPolicy;
use crate::crd::{MeetingTheme, MeetingThemeStatus, PendingCreate};
use crate::meetings::{ApiError, CreateTheme, MeetingsClient, Theme, ThemeUpdate};
use crate::services::snapshot::Freshness;
use crate::services::status_cache::{LastObserved, StatusCache, WriteBudget};
use crate::services::theme_users::ThemeUsers;

/// How often a Ready theme's status is written at most while only its
/// room list and room count change, once [`TALLY_BURST`] writes are spent.
/// Every room event wakes the theme, and while rooms are being created the
/// tallies change many times a second; writing each change would cost
/// several status writes per room, each carrying the whole room list and
/// each counting the theme's rooms in the API listing.
pub const TALLY_INTERVAL: Duration = Duration::from_secs(2);

/// Tally-only writes a theme may make at once: a team's few rooms show in
/// its count as they are made, by the time they are Ready.
pub const TALLY_BURST: u32 = 5;

/// The theme controller's state: the shared services and what only themes need.
pub struct Themes {
    /// Services shared with the room controller.
    pub services: Services,
    /// Theme statuses written but not yet seen through the watch.
    pub statuses: StatusCache<MeetingThemeStatus>,
    /// Set once the room cache holds the first complete list: until then a
    /// theme cannot tell which rooms use it.
    pub rooms_synced: Arc<AtomicBool>,
    /// When each theme was last read from the API.
    pub observed: LastObserved,
    /// Each theme's budget of tally-only status writes.
    pub tally_writes: Arc<WriteBudget>,
    /// The rooms that use each theme.
    pub users: ThemeUsers,
    /// Logo images the API refused, so they are not uploaded again.
    pub logo_rejections: logos::Rejections,
}

/// A located theme: its id, and the theme itself when this pass read it
/// (a settled theme already read in this cycle is not read again).
pub struct Located {
    id: String,
    read: Option<Theme>,
}

impl Located {
    fn read(theme: Theme) -> Self {
        Self {
            id: theme.theme_id.clone(),
            read: Some(theme),
        }
    }
}

impl Themes {
    /// Whether a settled theme is read from the API in this pass: once per
    /// resync cycle (every theme is woken when a cycle begins), or, with its
    /// own period annotation, once that period has passed since its last read.
    pub fn read_due(&self, theme: &MeetingTheme) -> bool {
        let uid = theme.uid().unwrap_or_default();
        let settings = &self.services.settings;
        match settings.own_period(theme.metadata.annotations.as_ref()) {
            Some(period) => !self.observed.is_recent(&uid, period),
            None => !self
                .observed
                .since(&uid, self.services.cycle.began().into_std()),
        }
    }
}

impl ManagedKind for Themes {
    type Object = MeetingTheme;
    type Status = MeetingThemeStatus;
    type Remote = Located;
    type Plan = ();
    type Request = CreateTheme;
    type Update = ThemeUpdate;
    type Extras = logos::LogoSync;

    const KIND: &'static str = crate::telemetry::KIND_THEME;
    const NOUN: &'static str = "theme";

    fn services(&self) -> &Services {
        &self.services
    }

    fn statuses(&self) -> &StatusCache<MeetingThemeStatus> {
        &self.statuses
    }

    fn spec(theme: &MeetingTheme) -> SpecView<'_> {
        let policy = theme.spec.management_policy;
        SpecView {
            credentials_ref: theme.spec.credentials_ref.as_ref(),
            adopt_id: theme.spec.adopt_id.as_deref(),
            management_policy: policy,
            wants_finalizer: policy == ManagementPolicy::Managed
                && theme.spec.deletion_policy != ThemeDeletionPolicy::Orphan,
        }
    }

    fn observed_status(theme: &MeetingTheme) -> MeetingThemeStatus {
        theme.status.clone().unwrap_or_default()
    }

    fn may_work(&self) -> bool {
        // Its rooms decide its status and whether it may be deleted; the
        // room cache wakes every theme once it is complete.
        self.rooms_synced.load(Ordering::Acquire)
    }

    fn hold(&self, theme: &MeetingTheme, current: &MeetingThemeStatus) -> Option<Duration> {
        // A Ready theme whose spec did not change is written within its
        // budget; what arrives meanwhile is taken up by the next pass.
        if !writes_tallies_only(theme, current) {
            return None;
        }
        let wait = self.tally_writes.wait(&theme.uid().unwrap_or_default());
        (!wait.is_zero()).then_some(wait)
    }

    fn wrote_status(&self, uid: &str) {
        self.tally_writes.spend(uid);
    }

    fn forget(&self, uid: &str) {
        self.observed.forget(uid);
        self.tally_writes.forget(uid);
    }

    async fn finalize(
        &self,
        theme: &MeetingTheme,
        status: &mut MeetingThemeStatus,
    ) -> Result<(), Halt> {
        cleanup::delete(self, theme, status).await
    }

    fn plan(&self, _theme: &MeetingTheme, _client: &MeetingsClient) -> Result<(), Halt> {
        Ok(())
    }

    async fn observe(
        &self,
        theme: &MeetingTheme,
        client: &MeetingsClient,
        theme_id: &str,
        status: &MeetingThemeStatus,
    ) -> Result<Observed<Located>, ApiError> {
        let unchanged = status.observed_generation == theme.metadata.generation
            && is_true(&status.conditions, SYNCED)
            && !self.read_due(theme);
        if unchanged {
            return Ok(Observed::Found(Located {
                id: theme_id.to_owned(),
                read: None,
            }));
        }
        Ok(self.adopt(client, theme_id).await?.into())
    }

    async fn adopt(
        &self,
        client: &MeetingsClient,
        theme_id: &str,
    ) -> Result<Option<Located>, ApiError> {
        match client.get_theme(theme_id).await {
            Ok(found) => Ok(Some(Located::read(found))),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn vanished(
        &self,
        _theme: &MeetingTheme,
        _status: &mut MeetingThemeStatus,
        theme_id: &str,
    ) -> Vanished {
        Vanished::Recreate(format!(
            "theme {theme_id} no longer exists in the API; creating a new one"
        ))
    }

    fn forget_remote(status: &mut MeetingThemeStatus) {
        status.theme_id = None;
    }

    fn create_request(&self, theme: &MeetingTheme, (): &()) -> Result<CreateTheme, Halt> {
        Ok(sync::create_request(theme))
    }

    fn mark_creating(theme: &MeetingTheme, status: &mut MeetingThemeStatus) {
        status.theme_name = Some(theme.desired_theme_name());
    }

    async fn recover(
        &self,
        theme: &MeetingTheme,
        client: &MeetingsClient,
        _pending: &PendingCreate,
        _request: &CreateTheme,
    ) -> Result<Option<Located>, ApiError> {
        Ok(find_by_name(theme, client).await?.map(Located::read))
    }

    async fn create(
        &self,
        client: &MeetingsClient,
        request: &CreateTheme,
    ) -> Result<Located, ApiError> {
        client.create_theme(request).await.map(Located::read)
    }

    fn remote_id(remote: &Located) -> &str {
        &remote.id
    }

    fn describe(remote: &Located) -> String {
        format!("theme {}", remote.id)
    }

    fn diff(
        &self,
        theme: &MeetingTheme,
        _status: &MeetingThemeStatus,
        (): &(),
        remote: &Located,
    ) -> Result<Option<Change<ThemeUpdate>>, Halt> {
        let Some(read) = remote.read.as_ref() else {
            return Ok(None);
        };
        let update = sync::mutable_diff(theme, read);
        let fields = sync::changed_fields(&update);
        Ok((!update.is_empty()).then_some(Change { update, fields }))
    }

    fn may_update(_theme: &MeetingTheme, _fields: &[&'static str]) -> Result<(), Halt> {
        Ok(())
    }

    async fn update(
        &self,
        client: &MeetingsClient,
        id: &str,
        update: &ThemeUpdate,
    ) -> Result<Located, ApiError> {
        client.update_theme(id, update).await.map(Located::read)
    }

    async fn extras(
        &self,
        theme: &MeetingTheme,
        client: &MeetingsClient,
        status: &mut MeetingThemeStatus,
        remote: &Located,
    ) -> Result<logos::LogoSync, Halt> {
        if remote.read.is_some() {
            self.observed.mark(&theme.uid().unwrap_or_default());
        }
        if let Some(count) = count_remote_rooms(self, client, &remote.id).await {
            status.room_count = Some(count);
        }
        let observe_only = theme.spec.management_policy == ManagementPolicy::ObserveOnly;
        if remote.read.is_some() && !observe_only {
            // The API cannot read the setting back, so it is re-asserted on
            // every full observation.
            default::apply(self, theme, client, status).await?;
        }
        let logo_context = logos::LogoContext {
            kube: &self.services.kube,
            events: &self.services.events,
            rejections: &self.logo_rejections,
        };
        let read = remote.read.as_ref();
        Ok(logos::sync(theme, &logo_context, client, &remote.id, status, read).await)
    }

    fn report(
        &self,
        theme: &MeetingTheme,
        status: &mut MeetingThemeStatus,
        (): (),
        remote: &Located,
        drift: &[&'static str],
        logos: logos::LogoSync,
    ) -> Next {
        report::ready(self, theme, status, remote.read.as_ref(), drift);
        logos.fold(theme, status)
    }
}

/// The theme a create with a lost answer made, found by its unique name.
async fn find_by_name(
    theme: &MeetingTheme,
    client: &MeetingsClient,
) -> Result<Option<Theme>, ApiError> {
    let name = theme.desired_theme_name();
    let themes = client.themes().await?;
    Ok(themes
        .into_iter()
        .find(|t| t.theme_name.as_deref() == Some(name.as_str())))
}

/// Rooms in the API using the theme, from the shared listing (best effort),
/// no older than one resync period: a theme woken as a cycle begins counts
/// from the listing that cycle reads.
async fn count_remote_rooms(
    themes: &Themes,
    client: &MeetingsClient,
    theme_id: &str,
) -> Option<u32> {
    let freshness = Freshness {
        max_age: themes.services.settings.resync,
        not_before: None,
    };
    let counted = themes
        .services
        .snapshots
        .count(client, freshness, |r| {
            r.theme_id.as_deref() == Some(theme_id)
        })
        .await;
    match counted {
        Ok(count) => u32::try_from(count).ok(),
        Err(error) => {
            tracing::debug!(%error, "could not count rooms of theme");
            None
        }
    }
}

/// Whether a pass of `theme` with `status` could only change its room
/// tallies: it is Ready at its generation and nothing is pending. Such
/// passes keep to the write budget ([`TALLY_BURST`], [`TALLY_INTERVAL`]).
pub fn writes_tallies_only(theme: &MeetingTheme, status: &MeetingThemeStatus) -> bool {
    status.observed_generation == theme.metadata.generation
        && status.pending_create.is_none()
        && theme.metadata.deletion_timestamp.is_none()
        && is_true(&status.conditions, READY)
}

/// Names of the `MeetingRoom`s in the theme's namespace that reference it,
/// sorted (from [`ThemeUsers`], kept by the room watch).
fn local_users(themes: &Themes, theme: &MeetingTheme) -> Vec<String> {
    themes.users.of(
        theme.metadata.namespace.as_deref().unwrap_or_default(),
        theme.metadata.name.as_deref().unwrap_or_default(),
    )
}
