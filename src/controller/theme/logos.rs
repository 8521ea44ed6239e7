//! Theme logos: PNGs held by ConfigMap or Secret keys, checked locally and
//! uploaded to the theme when they change.
//!
//! Each reconcile of a theme reads the images its `spec.logos` names and
//! compares their SHA-256 with `status.logos`. An unchanged image is never
//! uploaded again (unless the remote theme, when it was read, no longer
//! shows the key recorded for it, e.g. after the theme was created again).
//! A changed image is first checked against the API's rules
//! ([`png_rules`](super::png_rules)); one that breaks a rule is reported
//! and nothing is sent. The valid changed images are posted to their
//! presigned storage targets, matched by `logoType`, and finalized together
//! in one `finalizeLogos` call; the theme is then read for the logo keys
//! and URLs shown in status.
//!
//! The API cannot remove a logo: a slot dropped from the spec leaves the
//! remote logo in place and is dropped from status.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::crd::conditions::Condition;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use sha2::{Digest, Sha256};

use super::png_rules::{self, LogoKind};
use crate::controller::outcome::Next;
use crate::crd::common::{KeySelector, ManagementPolicy};
use crate::crd::conditions::{SYNCED, condition, find, now};
use crate::crd::reasons::{condition as reasons, event};
use crate::crd::theme::{LogoSource, LogoState, LogosStatus, ThemeLogos};
use crate::crd::{MeetingTheme, MeetingThemeStatus};
use crate::meetings::{ApiError, LogoType, MeetingsClient, Theme};
use crate::services::events::EventPublisher;

/// What the logo work reads and writes beside the theme.
pub struct LogoContext<'a> {
    /// Kubernetes client, to read the ConfigMaps and Secrets.
    pub kube: &'a kube::Client,
    /// Event publisher.
    pub events: &'a EventPublisher,
    /// Images the API refused.
    pub rejections: &'a Rejections,
}

/// One logo slot of a theme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    /// Logo for dark backgrounds.
    White,
    /// Logo for light backgrounds.
    Colored,
    /// Favicon.
    Favicon,
}

impl Slot {
    /// Every slot, in the order messages list them.
    pub const ALL: [Slot; 3] = [Slot::White, Slot::Colored, Slot::Favicon];

    /// The slot's name in the spec and in `logoType`.
    pub fn name(self) -> &'static str {
        match self {
            Self::White => "white",
            Self::Colored => "colored",
            Self::Favicon => "favicon",
        }
    }

    fn logo_type(self) -> LogoType {
        match self {
            Self::White => LogoType::White,
            Self::Colored => LogoType::Colored,
            Self::Favicon => LogoType::Favicon,
        }
    }

    fn kind(self) -> LogoKind {
        match self {
            Self::Favicon => LogoKind::Favicon,
            Self::White | Self::Colored => LogoKind::Logo,
        }
    }

    fn source(self, logos: &ThemeLogos) -> Option<&LogoSource> {
        match self {
            Self::White => logos.white.as_ref(),
            Self::Colored => logos.colored.as_ref(),
            Self::Favicon => logos.favicon.as_ref(),
        }
    }

    fn state(self, status: &mut LogosStatus) -> &mut Option<LogoState> {
        match self {
            Self::White => &mut status.white,
            Self::Colored => &mut status.colored,
            Self::Favicon => &mut status.favicon,
        }
    }

    /// The remote theme's key and URL of this slot.
    fn remote(self, theme: &Theme) -> (Option<&str>, Option<&str>) {
        let (key, url) = match self {
            Self::White => (&theme.brand_image_white, &theme.brand_image_white_url),
            Self::Colored => (&theme.brand_image_colored, &theme.brand_image_colored_url),
            Self::Favicon => (&theme.branded_favicon, &theme.branded_favicon_url),
        };
        (key.as_deref(), url.as_deref())
    }
}

/// Which kind of object an image comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A ConfigMap key (`binaryData`, else `data`).
    ConfigMap,
    /// A Secret key.
    Secret,
}

impl SourceKind {
    fn name(self) -> &'static str {
        match self {
            Self::ConfigMap => "ConfigMap",
            Self::Secret => "Secret",
        }
    }
}

fn selector(source: &LogoSource) -> Option<(SourceKind, &KeySelector)> {
    match (&source.config_map_key_ref, &source.secret_key_ref) {
        (Some(selector), _) => Some((SourceKind::ConfigMap, selector)),
        (None, Some(selector)) => Some((SourceKind::Secret, selector)),
        (None, None) => None,
    }
}

/// `logo white (ConfigMap brand/logo.png)`: how messages name an image.
fn label(slot: Slot, source: &LogoSource) -> String {
    match selector(source) {
        Some((kind, s)) => format!(
            "logo {} ({} {}/{})",
            slot.name(),
            kind.name(),
            s.name,
            s.key
        ),
        None => format!("logo {}", slot.name()),
    }
}

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Neither reference is set (the CRD's rule normally prevents it).
    #[error("set configMapKeyRef or secretKeyRef")]
    Unset,
    /// The ConfigMap or Secret does not exist.
    #[error("the {} does not exist", .0.name())]
    Missing(SourceKind),
    /// The object exists but lacks the key.
    #[error("the {} has no key {key}{}", .kind.name(), if *.kind == SourceKind::ConfigMap { " in binaryData or data" } else { "" })]
    NoKey {
        /// ConfigMap or Secret.
        kind: SourceKind,
        /// The missing key.
        key: String,
    },
    /// Kubernetes refused or failed the read.
    #[error("could not read the {}: {error}", .kind.name())]
    Read {
        /// ConfigMap or Secret.
        kind: SourceKind,
        /// The failure.
        #[source]
        error: kube::Error,
    },
}

/// Reads an image from its ConfigMap (`binaryData`, else `data` as bytes) or Secret.
pub async fn read_source(
    kube: &kube::Client,
    namespace: &str,
    source: &LogoSource,
) -> Result<Vec<u8>, SourceError> {
    let (kind, selector) = selector(source).ok_or(SourceError::Unset)?;
    let read = |error| SourceError::Read { kind, error };
    let bytes = match kind {
        SourceKind::ConfigMap => {
            let api: Api<ConfigMap> = Api::namespaced(kube.clone(), namespace);
            let map = api
                .get_opt(&selector.name)
                .await
                .map_err(read)?
                .ok_or(SourceError::Missing(kind))?;
            let binary = map
                .binary_data
                .and_then(|mut d| d.remove(&selector.key))
                .map(|b| b.0);
            binary.or_else(|| {
                map.data
                    .and_then(|mut d| d.remove(&selector.key))
                    .map(String::into_bytes)
            })
        }
        SourceKind::Secret => {
            let api: Api<Secret> = Api::namespaced(kube.clone(), namespace);
            let secret = api
                .get_opt(&selector.name)
                .await
                .map_err(read)?
                .ok_or(SourceError::Missing(kind))?;
            secret
                .data
                .and_then(|mut d| d.remove(&selector.key))
                .map(|b| b.0)
        }
    };
    bytes.ok_or_else(|| SourceError::NoKey {
        kind,
        key: selector.key.clone(),
    })
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `MeetingTheme`s in `themes` whose logos come from `object`, a ConfigMap
/// or Secret of `kind`: the mapper of the theme controller's watches.
pub fn themes_using<K: Resource>(
    themes: &Store<MeetingTheme>,
    kind: SourceKind,
    object: &K,
) -> Vec<ObjectRef<MeetingTheme>> {
    let meta = object.meta();
    let (Some(namespace), Some(name)) = (meta.namespace.as_deref(), meta.name.as_deref()) else {
        return Vec::new();
    };
    themes
        .state()
        .iter()
        .filter(|theme| theme.metadata.namespace.as_deref() == Some(namespace))
        .filter(|theme| {
            theme.spec.logos.as_ref().is_some_and(|logos| {
                Slot::ALL.iter().any(|slot| {
                    slot.source(logos)
                        .and_then(selector)
                        .is_some_and(|(k, s)| k == kind && s.name == name)
                })
            })
        })
        .map(|theme| ObjectRef::from(theme.as_ref()))
        .collect()
}

/// One `finalizeLogos` error about one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalizeFailure {
    /// The storage key it is about.
    pub key: String,
    /// `invalid_logo_properties`, `key_not_found`, ...
    pub code: String,
    /// The broken rule (`exceeds_size`, `type`, `dimensions`, `transparent_bg`).
    pub invalid_property: Option<String>,
}

/// The per-key errors of a failed `finalizeLogos` call (empty when it has none).
pub fn finalize_failures(error: &ApiError) -> Vec<FinalizeFailure> {
    let Some(service) = error.service_error() else {
        return Vec::new();
    };
    service
        .errors
        .iter()
        .filter_map(|e| {
            let text = |field: &str| e.get(field).and_then(|v| v.as_str()).map(str::to_owned);
            Some(FinalizeFailure {
                key: text("logoKey").or_else(|| text("key"))?,
                code: text("code").unwrap_or_default(),
                invalid_property: text("invalidProperty"),
            })
        })
        .collect()
}

/// Images the API refused at finalize, per theme and slot, so the same
/// bytes are not uploaded again (kept in memory only).
#[derive(Debug, Default)]
pub struct Rejections(Mutex<HashMap<(String, Slot), (String, String)>>);

impl Rejections {
    fn remember(&self, uid: &str, slot: Slot, sha256: &str, message: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                (uid.to_owned(), slot),
                (sha256.to_owned(), message.to_owned()),
            );
    }

    /// The message of the refusal of exactly these bytes, if any.
    fn refused(&self, uid: &str, slot: Slot, sha256: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(uid.to_owned(), slot))
            .filter(|(sha, _)| sha == sha256)
            .map(|(_, message)| message.clone())
    }

    fn forget(&self, uid: &str, slot: Slot) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(uid.to_owned(), slot));
    }
}

/// A problem with one image, for the condition.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Problem {
    reason: &'static str,
    message: String,
    /// Whether a retry (with backoff) may fix it; otherwise a change must.
    retry: bool,
}

impl Problem {
    fn invalid(message: String) -> Self {
        Self {
            reason: reasons::INVALID_LOGO,
            message,
            retry: false,
        }
    }

    fn source(label: &str, error: &SourceError) -> Self {
        let (reason, retry) = match error {
            SourceError::Read { .. } => (reasons::LOGO_SOURCE_UNREADABLE, true),
            _ => (reasons::LOGO_SOURCE_NOT_FOUND, false),
        };
        Self {
            reason,
            message: format!("{label}: {error}"),
            retry,
        }
    }

    fn upload(message: String) -> Self {
        Self {
            reason: reasons::LOGO_UPLOAD_FAILED,
            message,
            retry: true,
        }
    }
}

/// What one logo sync found; [`LogoSync::fold`] folds it into the result
/// of the reconcile.
#[derive(Debug, Default)]
#[must_use]
pub struct LogoSync {
    problems: Vec<Problem>,
    /// `Synced` before this reconcile, to keep its transition time.
    previous: Option<Condition>,
}

impl LogoSync {
    /// Whether every logo is uploaded and current.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn reason(&self) -> Option<&'static str> {
        [
            reasons::INVALID_LOGO,
            reasons::LOGO_SOURCE_NOT_FOUND,
            reasons::LOGO_SOURCE_UNREADABLE,
            reasons::LOGO_UPLOAD_FAILED,
        ]
        .into_iter()
        .find(|r| self.problems.iter().any(|p| p.reason == *r))
    }

    fn message(&self) -> String {
        self.problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Folds the outcome into a status the theme report has marked
    /// ready: a problem turns `Synced` False (naming each image and rule)
    /// and, when a retry may fix it, asks for the theme's backoff.
    pub fn fold(self, theme: &MeetingTheme, status: &mut MeetingThemeStatus) -> Next {
        let Some(reason) = self.reason() else {
            return Next::Resync;
        };
        let message = self.message();
        let since = self
            .previous
            .filter(|c| c.status == "False")
            .map_or_else(now, |c| c.last_transition_time);
        let synced = condition(
            SYNCED,
            false,
            reason,
            message,
            theme.metadata.generation,
            since,
        );
        status.conditions.retain(|c| c.type_ != SYNCED);
        status.conditions.push(synced);
        if self.problems.iter().any(|p| p.retry) {
            Next::Backoff
        } else {
            Next::Resync
        }
    }
}

/// An image that changed and passed the local checks.
struct Pending {
    slot: Slot,
    label: String,
    bytes: Vec<u8>,
    sha256: String,
}

/// Whether the recorded state still describes `sha256` in the API. With
/// `remote` (the theme was read this reconcile) its key must also match.
fn is_current(state: Option<&LogoState>, sha256: &str, remote_key: Option<Option<&str>>) -> bool {
    let Some(state) = state.filter(|s| s.sha256 == sha256) else {
        return false;
    };
    match (remote_key, state.key.as_deref()) {
        (None, _) => true,
        (Some(remote), Some(ours)) => remote == Some(ours),
        (Some(remote), None) => remote.is_some(),
    }
}

/// Brings the theme's logos in line with `spec.logos`, recording them in
/// `status.logos`. `remote` is the theme when this reconcile read it.
/// Does nothing for `ObserveOnly` themes.
pub async fn sync(
    theme: &MeetingTheme,
    ctx: &LogoContext<'_>,
    client: &MeetingsClient,
    theme_id: &str,
    status: &mut MeetingThemeStatus,
    remote: Option<&Theme>,
) -> LogoSync {
    let mut outcome = LogoSync {
        previous: find(&status.conditions, SYNCED).cloned(),
        ..LogoSync::default()
    };
    if theme.spec.management_policy == ManagementPolicy::ObserveOnly {
        return outcome;
    }
    let namespace = theme.namespace().unwrap_or_default();
    let uid = theme.uid().unwrap_or_default();
    let wanted = theme.spec.logos.clone().unwrap_or_default();
    let mut recorded = status.logos.clone().unwrap_or_default();
    let mut pending = Vec::new();
    for slot in Slot::ALL {
        let Some(source) = slot.source(&wanted) else {
            // The API cannot remove a logo: the remote one stays.
            *slot.state(&mut recorded) = None;
            ctx.rejections.forget(&uid, slot);
            continue;
        };
        let image = Image {
            slot,
            source,
            label: label(slot, source),
        };
        let current = Current {
            state: slot.state(&mut recorded),
            remote,
        };
        match examine(ctx, &namespace, &uid, image, current).await {
            Ok(Some(image)) => pending.push(image),
            Ok(None) => {}
            Err(problems) => outcome.problems.extend(problems),
        }
    }
    if !pending.is_empty() {
        let uploader = Uploader {
            ctx,
            client,
            theme,
            theme_id,
            uid: &uid,
        };
        uploader.upload(pending, &mut recorded, &mut outcome).await;
    }
    status.logos = (recorded != LogosStatus::default()).then_some(recorded);
    let message = outcome.message();
    let reported = outcome
        .previous
        .as_ref()
        .is_some_and(|c| c.status == "False" && c.message == message);
    if !outcome.is_ok() && !reported {
        ctx.events
            .warning(theme, event::LOGO_PROBLEM, "UploadLogos", message)
            .await;
    }
    outcome
}

/// One logo slot the spec fills, and where its image comes from.
struct Image<'a> {
    slot: Slot,
    source: &'a LogoSource,
    label: String,
}

/// What is known of a slot: its recorded state, and the theme when this
/// reconcile read it.
struct Current<'a> {
    state: &'a mut Option<LogoState>,
    remote: Option<&'a Theme>,
}

/// Reads one slot's image and decides: nothing to do (current; its
/// recorded key and URL refreshed from the theme when it was read), an
/// upload, or the problems that stop it.
async fn examine(
    ctx: &LogoContext<'_>,
    namespace: &str,
    uid: &str,
    image: Image<'_>,
    current: Current<'_>,
) -> Result<Option<Pending>, Vec<Problem>> {
    let Image {
        slot,
        source,
        label,
    } = image;
    let bytes = read_source(ctx.kube, namespace, source)
        .await
        .map_err(|error| vec![Problem::source(&label, &error)])?;
    let sha256 = sha256_hex(&bytes);
    let remote_slot = current.remote.map(|r| slot.remote(r));
    let state = current.state;
    if is_current(state.as_ref(), &sha256, remote_slot.map(|(key, _)| key)) {
        if let (Some(state), Some((Some(key), url))) = (state.as_mut(), remote_slot) {
            state.key = Some(key.to_owned());
            state.url = url.map(str::to_owned).or(state.url.take());
        }
        return Ok(None);
    }
    if let Some(message) = ctx.rejections.refused(uid, slot, &sha256) {
        return Err(vec![Problem::invalid(message)]);
    }
    let violations = png_rules::check(&bytes, slot.kind());
    if !violations.is_empty() {
        return Err(violations
            .iter()
            .map(|v| Problem::invalid(format!("{label}: {v}")))
            .collect());
    }
    Ok(Some(Pending {
        slot,
        label,
        bytes,
        sha256,
    }))
}

/// What uploading the logos of one theme needs.
struct Uploader<'a> {
    ctx: &'a LogoContext<'a>,
    client: &'a MeetingsClient,
    theme: &'a MeetingTheme,
    theme_id: &'a str,
    uid: &'a str,
}

impl Uploader<'_> {
    /// Posts each image to the storage target of its logo type; returns the
    /// images posted with their keys.
    async fn post(
        &self,
        targets: &[crate::meetings::LogoUploadTarget],
        pending: Vec<Pending>,
        outcome: &mut LogoSync,
    ) -> Vec<(String, Pending)> {
        let mut uploaded = Vec::new();
        for image in pending {
            let target = targets
                .iter()
                .find(|t| t.logo_type() == Some(image.slot.logo_type()));
            let Some((target, key)) = target.and_then(|t| t.key().map(|k| (t, k.to_owned())))
            else {
                outcome.problems.push(Problem::upload(format!(
                    "{}: the API offered no upload target for logoType {}",
                    image.label,
                    image.slot.name()
                )));
                continue;
            };
            let bytes = bytes::Bytes::from(image.bytes.clone());
            match self.client.upload_logo(target, bytes).await {
                Ok(()) => uploaded.push((key, image)),
                Err(error) => outcome.problems.push(Problem::upload(format!(
                    "{}: upload failed: {error}",
                    image.label
                ))),
            }
        }
        uploaded
    }

    /// Records the finalized images with the keys and URLs the theme shows.
    fn record(
        &self,
        uploaded: &[(String, Pending)],
        remote: Option<&Theme>,
        recorded: &mut LogosStatus,
    ) {
        for (_, image) in uploaded {
            let (key, url) = remote.map(|r| image.slot.remote(r)).unwrap_or_default();
            *image.slot.state(recorded) = Some(LogoState {
                sha256: image.sha256.clone(),
                key: key.map(str::to_owned),
                url: url.map(str::to_owned),
            });
            self.ctx.rejections.forget(self.uid, image.slot);
        }
    }

    /// Uploads `pending` to their storage targets, finalizes them in one call
    /// and records them.
    async fn upload(
        &self,
        pending: Vec<Pending>,
        recorded: &mut LogosStatus,
        outcome: &mut LogoSync,
    ) {
        let Self {
            ctx,
            client,
            theme,
            theme_id,
            ..
        } = *self;
        let targets = match client.logo_upload_targets().await {
            Ok(targets) => targets,
            Err(error) => {
                outcome.problems.push(Problem::upload(format!(
                    "{}: could not get the upload URLs: {error}",
                    labels(&pending)
                )));
                return;
            }
        };
        let uploaded = self.post(&targets, pending, outcome).await;
        if uploaded.is_empty() {
            return;
        }
        let keys: Vec<String> = uploaded.iter().map(|(key, _)| key.clone()).collect();
        if let Err(error) = client.finalize_logos(theme_id, &keys).await {
            self.finalize_refused(&uploaded, &error, outcome);
            return;
        }
        // The finalize answer has no body: read the theme for keys and URLs.
        let remote = match client.get_theme(theme_id).await {
            Ok(remote) => Some(remote),
            Err(error) => {
                tracing::debug!(%error, "could not read the theme after finalizing logos");
                None
            }
        };
        self.record(&uploaded, remote.as_ref(), recorded);
        let slots: Vec<&str> = uploaded.iter().map(|(_, i)| i.slot.name()).collect();
        ctx.events
            .normal(
                theme,
                event::LOGOS_UPLOADED,
                "UploadLogos",
                format!("uploaded and finalized logos {}", slots.join(", ")),
            )
            .await;
    }

    /// Turns a failed finalize into problems: per key when the API said which
    /// key failed, else one for every image.
    fn finalize_refused(
        &self,
        uploaded: &[(String, Pending)],
        error: &ApiError,
        outcome: &mut LogoSync,
    ) {
        let (ctx, uid) = (self.ctx, self.uid);
        let failures = finalize_failures(error);
        let mut named = false;
        for (key, image) in uploaded {
            let mine: Vec<&FinalizeFailure> = failures.iter().filter(|f| &f.key == key).collect();
            if mine.is_empty() {
                continue;
            }
            named = true;
            let properties: Vec<&str> = mine
                .iter()
                .filter(|f| f.code == "invalid_logo_properties")
                .map(|f| f.invalid_property.as_deref().unwrap_or("unspecified"))
                .collect();
            if properties.is_empty() {
                let codes: Vec<&str> = mine.iter().map(|f| f.code.as_str()).collect();
                outcome.problems.push(Problem::upload(format!(
                    "{}: finalize failed ({}); it is uploaded again",
                    image.label,
                    codes.join(", ")
                )));
            } else {
                let message = format!(
                    "{}: the Meetings API refused it: invalid property {}",
                    image.label,
                    properties.join(", ")
                );
                ctx.rejections
                    .remember(uid, image.slot, &image.sha256, &message);
                outcome.problems.push(Problem::invalid(message));
            }
        }
        if !named {
            let images: Vec<&str> = uploaded.iter().map(|(_, i)| i.label.as_str()).collect();
            outcome.problems.push(Problem::upload(format!(
                "{}: finalize failed: {error}",
                images.join(", ")
            )));
        }
    }
}

fn labels(images: &[Pending]) -> String {
    images
        .iter()
        .map(|i| i.label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meetings::ServiceError;

    fn state(sha: &str, key: Option<&str>) -> LogoState {
        LogoState {
            sha256: sha.into(),
            key: key.map(Into::into),
            url: None,
        }
    }

    #[test]
    fn an_image_is_current_only_with_the_same_hash_and_remote_key() {
        let s = state("abc", Some("logos/white/1"));
        assert!(is_current(Some(&s), "abc", None));
        assert!(is_current(Some(&s), "abc", Some(Some("logos/white/1"))));
        assert!(!is_current(Some(&s), "abd", None));
        assert!(!is_current(None, "abc", None));
        // The remote lost or replaced the logo (e.g. the theme was recreated).
        assert!(!is_current(Some(&s), "abc", Some(None)));
        assert!(!is_current(Some(&s), "abc", Some(Some("logos/white/2"))));
        // The key was never learnt: any remote logo will do.
        let unknown = state("abc", None);
        assert!(is_current(Some(&unknown), "abc", Some(Some("k"))));
        assert!(!is_current(Some(&unknown), "abc", Some(None)));
    }

    #[test]
    fn hashes_are_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn labels_name_the_slot_and_source() {
        let source = LogoSource {
            config_map_key_ref: Some(KeySelector {
                name: "brand".into(),
                key: "logo.png".into(),
            }),
            secret_key_ref: None,
        };
        assert_eq!(
            label(Slot::White, &source),
            "logo white (ConfigMap brand/logo.png)"
        );
        let secret = LogoSource {
            config_map_key_ref: None,
            secret_key_ref: Some(KeySelector {
                name: "s".into(),
                key: "fav".into(),
            }),
        };
        assert_eq!(label(Slot::Favicon, &secret), "logo favicon (Secret s/fav)");
        assert_eq!(
            SourceError::NoKey {
                kind: SourceKind::ConfigMap,
                key: "logo.png".into()
            }
            .to_string(),
            "the ConfigMap has no key logo.png in binaryData or data"
        );
        assert_eq!(
            SourceError::Missing(SourceKind::Secret).to_string(),
            "the Secret does not exist"
        );
    }

    #[test]
    fn finalize_errors_are_read_per_key() {
        let error = ApiError::InvalidRequest(ServiceError {
            status: Some(400),
            name: "BadRequestError".into(),
            message: "could not finalize logos".into(),
            errors: vec![
                serde_json::json!({"logoKey": "tmp/w", "code": "invalid_logo_properties", "invalidProperty": "dimensions"}),
                serde_json::json!({"logoKey": "tmp/f", "code": "key_not_found"}),
                serde_json::json!("a plain string"),
            ],
        });
        assert_eq!(
            finalize_failures(&error),
            [
                FinalizeFailure {
                    key: "tmp/w".into(),
                    code: "invalid_logo_properties".into(),
                    invalid_property: Some("dimensions".into()),
                },
                FinalizeFailure {
                    key: "tmp/f".into(),
                    code: "key_not_found".into(),
                    invalid_property: None,
                },
            ]
        );
        assert!(finalize_failures(&ApiError::Timeout).is_empty());
    }

    #[test]
    fn the_condition_reason_is_the_one_a_user_must_act_on() {
        let outcome = LogoSync {
            problems: vec![Problem::upload("a".into()), Problem::invalid("b".into())],
            ..LogoSync::default()
        };
        assert_eq!(outcome.reason(), Some(reasons::INVALID_LOGO));
        assert_eq!(outcome.message(), "a; b");
        assert_eq!(LogoSync::default().reason(), None);
    }

    #[test]
    fn rejections_hold_per_theme_slot_and_hash() {
        let rejections = Rejections::default();
        rejections.remember("uid", Slot::White, "h1", "refused");
        assert_eq!(
            rejections.refused("uid", Slot::White, "h1").as_deref(),
            Some("refused")
        );
        assert_eq!(rejections.refused("uid", Slot::White, "h2"), None);
        assert_eq!(rejections.refused("uid", Slot::Favicon, "h1"), None);
        assert_eq!(rejections.refused("other", Slot::White, "h1"), None);
        rejections.forget("uid", Slot::White);
        assert_eq!(rejections.refused("uid", Slot::White, "h1"), None);
    }
}
