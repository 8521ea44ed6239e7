//! Rooms: creation rules, updates, expiry and serial-ordered listing.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::State;
use super::values::{
    AvailableFeatures, CallbackKind, CallbackUrls, FeaturesPatch, JoinApprovalLevel,
    RecordingOptions, RoomType,
};
use crate::clock::format_ts;
use crate::errors::{ApiError, ControlError};
use crate::pagination::PageRequest;

/// A room as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Room {
    /// Room id.
    pub id: Uuid,
    /// Owning application.
    pub application_id: String,
    /// Hidden, sparse, increasing serial used for pagination.
    pub serial: u64,
    /// Display name.
    pub display_name: String,
    /// Free text.
    pub metadata: Option<String>,
    /// Instant or long-term.
    pub room_type: RoomType,
    /// Recording options.
    pub recording_options: RecordingOptions,
    /// Numeric meeting code.
    pub meeting_code: String,
    /// Explicit theme, if any.
    pub theme_id: Option<Uuid>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry time; for an instant room with participants present it slides to
    /// `now + instant_lifetime_secs`, and is set that far past the last one leaving.
    pub expires_at: Timestamp,
    /// Close after a session ends (long-term only).
    pub expire_after_use: bool,
    /// Join approval level.
    pub join_approval_level: JoinApprovalLevel,
    /// Room-level callback URLs.
    pub callback_urls: CallbackUrls,
    /// UI features.
    pub available_features: AvailableFeatures,
    /// Whether the room has become inactive.
    pub expired: bool,
}

/// A validated `POST /rooms` body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateRoom {
    /// Display name.
    pub display_name: String,
    /// Free text.
    pub metadata: Option<String>,
    /// Room type.
    pub room_type: RoomType,
    /// Expiry (long-term only; already range-checked).
    pub expires_at: Option<Timestamp>,
    /// Recording options.
    pub recording_options: RecordingOptions,
    /// Close after use (long-term only).
    pub expire_after_use: Option<bool>,
    /// Theme to apply.
    pub theme_id: Option<Uuid>,
    /// Join approval level.
    pub join_approval_level: Option<JoinApprovalLevel>,
    /// Callback URLs.
    pub callback_urls: CallbackUrls,
    /// Feature overrides.
    pub available_features: FeaturesPatch,
}

/// A validated `PATCH /rooms/{id}` body (`update_details`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateRoom {
    /// New expiry (already range-checked).
    pub expires_at: Option<Timestamp>,
    /// New close-after-use flag.
    pub expire_after_use: Option<bool>,
    /// `Some(None)` removes the theme.
    pub theme_id: Option<Option<Uuid>>,
    /// New join approval level.
    pub join_approval_level: Option<JoinApprovalLevel>,
    /// Callback URLs to set.
    pub callback_urls: Option<CallbackUrls>,
    /// Feature overrides.
    pub available_features: Option<FeaturesPatch>,
}

/// One page of a room listing.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomPage {
    /// Rooms on this page, ascending serial.
    pub rooms: Vec<Room>,
    /// Rooms across all pages.
    pub total_items: usize,
    /// First and last serial on the page.
    pub bounds: Option<(u64, u64)>,
}

/// The 404 for a room that does not exist (or was purged), worded as the notes record it.
fn room_not_found() -> ApiError {
    ApiError::NotFound("room not found".into())
}

pub(crate) fn theme_not_found(id: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound(format!("could not find theme {id}"))
}

impl State {
    /// `POST /rooms`.
    pub fn create_room(
        &mut self,
        app_id: &str,
        req: CreateRoom,
        now: Timestamp,
    ) -> Result<Room, ApiError> {
        if let Some(theme_id) = req.theme_id {
            self.owned_theme(app_id, theme_id)?;
        }
        let limit = self.behavior.room_limit;
        let app = self.app_mut(app_id)?;
        if limit.is_some_and(|limit| app.active_rooms >= limit) {
            return Err(ApiError::Forbidden(
                "Maximum number of rooms for owner exceeded".into(),
            ));
        }
        let expires_at = match (req.room_type, req.expires_at) {
            (RoomType::LongTerm, Some(at)) => at,
            _ => now
                .saturating_add(secs(self.behavior.instant_lifetime_secs))
                .unwrap_or(now),
        };
        let mut rng = rand::rng();
        self.last_serial += rng.random_range(1..=50);
        let serial = self.last_serial;
        let meeting_code = self.new_meeting_code();
        let mut available_features = AvailableFeatures::default();
        available_features.merge(&req.available_features);
        let room = Room {
            id: Uuid::new_v4(),
            application_id: app_id.to_string(),
            serial,
            display_name: req.display_name,
            metadata: req.metadata,
            room_type: req.room_type,
            recording_options: req.recording_options,
            meeting_code,
            theme_id: req.theme_id,
            created_at: now,
            expires_at,
            expire_after_use: req.expire_after_use.unwrap_or(false),
            join_approval_level: req.join_approval_level.unwrap_or_default(),
            callback_urls: req.callback_urls,
            available_features,
            expired: false,
        };
        let app = self.app_mut(app_id)?;
        app.room_serials.insert(serial, room.id);
        app.active_rooms += 1;
        self.meeting_codes.insert(room.meeting_code.clone());
        self.expiry.insert((room.expires_at, room.id));
        self.rooms.insert(room.id, room.clone());
        Ok(room)
    }

    fn new_meeting_code(&self) -> String {
        let mut rng = rand::rng();
        let p = self
            .behavior
            .ten_digit_meeting_code_probability
            .clamp(0.0, 1.0);
        loop {
            let code = if rng.random_bool(p) {
                rng.random_range(1_000_000_000u64..=9_999_999_999)
                    .to_string()
            } else {
                rng.random_range(100_000_000u64..=999_999_999).to_string()
            };
            if !self.meeting_codes.contains(&code) {
                return code;
            }
        }
    }

    /// `GET /rooms/{id}`.
    pub fn room(&self, app_id: &str, id: &str) -> Result<&Room, ApiError> {
        Uuid::parse_str(id)
            .ok()
            .and_then(|uuid| self.rooms.get(&uuid))
            .filter(|room| room.application_id == app_id)
            .ok_or_else(room_not_found)
    }

    /// `PATCH /rooms/{id}`.
    pub fn update_room(
        &mut self,
        app_id: &str,
        id: &str,
        req: UpdateRoom,
    ) -> Result<Room, ApiError> {
        let room = self.room(app_id, id)?;
        let room_id = room.id;
        if room.room_type == RoomType::Instant {
            return Err(ApiError::bad_request(format!(
                "The room with id: {room_id} could not be updated because of its type: temporary"
            )));
        }
        if room.expired {
            // No capture shows this answer: it reuses the recorded 400 wording for rooms
            // that cannot be updated, without inventing a reason.
            return Err(ApiError::bad_request(format!(
                "The room with id: {room_id} could not be updated"
            )));
        }
        if let Some(Some(theme_id)) = req.theme_id {
            self.owned_theme(app_id, theme_id)?;
        }
        let room = self.rooms.get_mut(&room_id).ok_or_else(room_not_found)?;
        if let Some(at) = req.expires_at {
            self.expiry.remove(&(room.expires_at, room_id));
            room.expires_at = at;
            self.expiry.insert((at, room_id));
        }
        if let Some(flag) = req.expire_after_use {
            room.expire_after_use = flag;
        }
        if let Some(theme) = req.theme_id {
            room.theme_id = theme;
        }
        if let Some(level) = req.join_approval_level {
            room.join_approval_level = level;
        }
        if let Some(urls) = &req.callback_urls {
            room.callback_urls.merge(urls);
        }
        if let Some(features) = &req.available_features {
            room.available_features.merge(features);
        }
        Ok(room.clone())
    }

    /// The `theme_id` a room reports: its explicit theme, else the application default when
    /// `rooms_report_default_theme` is on.
    pub fn reported_theme_id(&self, room: &Room) -> Option<Uuid> {
        if room.theme_id.is_some() || !self.behavior.rooms_report_default_theme {
            return room.theme_id;
        }
        self.apps
            .get(&room.application_id)
            .and_then(|app| app.default_theme_id)
    }

    /// `GET /rooms` (all rooms) or `GET /themes/{id}/rooms` (rooms reporting that theme).
    pub fn list_rooms(&self, app_id: &str, theme: Option<Uuid>, page: &PageRequest) -> RoomPage {
        let Some(app) = self.apps.get(app_id) else {
            return RoomPage {
                rooms: Vec::new(),
                total_items: 0,
                bounds: None,
            };
        };
        // Every room: the page alone is read; a theme's rooms: all are looked at.
        let themed: BTreeMap<u64, Uuid>;
        let serials = match theme {
            None => &app.room_serials,
            Some(_) => {
                themed = app
                    .room_serials
                    .iter()
                    .filter(|(_, id)| {
                        let room = self.rooms.get(*id);
                        room.is_some_and(|room| self.reported_theme_id(room) == theme)
                    })
                    .map(|(serial, id)| (*serial, *id))
                    .collect();
                &themed
            }
        };
        let rooms: Vec<Room> = page
            .page_of(serials)
            .into_iter()
            .filter_map(|(_, id)| self.rooms.get(id).cloned())
            .collect();
        let bounds = match (rooms.first(), rooms.last()) {
            (Some(first), Some(last)) => Some((first.serial, last.serial)),
            _ => None,
        };
        RoomPage {
            rooms,
            total_items: serials.len(),
            bounds,
        }
    }

    /// Marks a room inactive and emits `room:expired` (once).
    pub(crate) fn expire_room(&mut self, id: Uuid, now: Timestamp) {
        let Some(room) = self.rooms.get_mut(&id) else {
            return;
        };
        if room.expired {
            return;
        }
        room.expired = true;
        let room = room.clone();
        self.expiry.remove(&(room.expires_at, id));
        self.occupied.remove(&id);
        // Inactive since its expiry time, or since now when closed early (after use).
        self.expired.insert((room.expires_at.min(now), id));
        if let Some(app) = self.apps.get_mut(&room.application_id) {
            app.active_rooms = app.active_rooms.saturating_sub(1);
        }
        let payload = json!({
            "event": "room:expired",
            "room_id": room.id,
            "room_type": room.room_type.as_str(),
            "expires_at": format_ts(room.expires_at),
            "created_at": format_ts(room.created_at),
        });
        self.emit(
            &room.application_id,
            Some(&room.callback_urls),
            CallbackKind::Rooms,
            "room:expired",
            payload,
        );
    }

    /// Removes rooms expired for at least `purge_expired_after_secs` (when set): they answer
    /// 404 and leave every listing; their meeting codes become free.
    pub(crate) fn purge_expired_rooms(&mut self, now: Timestamp) {
        let Some(delay) = self.behavior.purge_expired_after_secs else {
            return;
        };
        while let Some(&(at, id)) = self.expired.first() {
            if at.saturating_add(secs(delay)).unwrap_or(at) > now {
                break;
            }
            self.expired.pop_first();
            self.drop_room(id);
        }
    }

    /// Removes room `id` of `app_id` at once, expired or not, as if the service had purged
    /// it: no callback is sent; the room answers 404 and leaves every listing.
    pub fn remove_room(&mut self, app_id: &str, id: &str) -> Result<Room, ControlError> {
        let id = self
            .room(app_id, id)
            .map_err(|_| ControlError::NotFound(format!("room {id}")))?
            .id;
        self.drop_room(id)
            .ok_or_else(|| ControlError::NotFound(format!("room {id}")))
    }

    /// Forgets a room with its expiry and occupancy entries; frees its meeting code.
    fn drop_room(&mut self, id: Uuid) -> Option<Room> {
        let room = self.rooms.remove(&id)?;
        if let Some(app) = self.apps.get_mut(&room.application_id) {
            app.room_serials.remove(&room.serial);
            if !room.expired {
                app.active_rooms = app.active_rooms.saturating_sub(1);
            }
        }
        self.meeting_codes.remove(&room.meeting_code);
        self.expiry.remove(&(room.expires_at, id));
        self.occupied.remove(&id);
        // A stale entry in the purge index is harmless: purging a missing room is a no-op.
        Some(room)
    }

    /// The expiry of an instant room kept alive at `now`: `now + instant_lifetime_secs`.
    fn instant_deadline(&self, now: Timestamp) -> Timestamp {
        now.saturating_add(secs(self.behavior.instant_lifetime_secs))
            .unwrap_or(now)
    }

    /// Slides the `expires_at` of occupied instant rooms to `now + instant_lifetime_secs`
    /// (never earlier than before) when `instant_expiry_moves_during_use`; they are out of
    /// the expiry index meanwhile either way.
    pub(crate) fn extend_occupied_rooms(&mut self, now: Timestamp) {
        if !self.behavior.instant_expiry_moves_during_use {
            return;
        }
        let deadline = self.instant_deadline(now);
        for id in &self.occupied {
            if let Some(room) = self.rooms.get_mut(id) {
                room.expires_at = room.expires_at.max(deadline);
            }
        }
    }

    /// The first participant is present in an instant room: it stops expiring while occupied.
    pub(crate) fn room_occupied(&mut self, id: Uuid, now: Timestamp) {
        let deadline = self.instant_deadline(now);
        let Some(room) = self.rooms.get_mut(&id) else {
            return;
        };
        if room.room_type != RoomType::Instant || room.expired || !self.occupied.insert(id) {
            return;
        }
        self.expiry.remove(&(room.expires_at, id));
        if self.behavior.instant_expiry_moves_during_use {
            room.expires_at = room.expires_at.max(deadline);
        }
    }

    /// The last participant left an instant room: it expires `instant_lifetime_secs` later
    /// (never earlier than it already would).
    pub(crate) fn room_vacated(&mut self, id: Uuid, now: Timestamp) {
        if !self.occupied.remove(&id) {
            return;
        }
        let deadline = self.instant_deadline(now);
        let Some(room) = self.rooms.get_mut(&id) else {
            return;
        };
        room.expires_at = room.expires_at.max(deadline);
        self.expiry.insert((room.expires_at, id));
    }

    /// Every room of `app_id`, ascending serial.
    pub fn rooms_of(&self, app_id: &str) -> Vec<Room> {
        self.apps
            .get(app_id)
            .map(|app| {
                app.room_serials
                    .values()
                    .filter_map(|id| self.rooms.get(id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub(crate) fn secs(n: u64) -> SignedDuration {
    SignedDuration::from_secs(i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::themes::CreateTheme;
    use super::*;

    fn instant(name: &str) -> CreateRoom {
        CreateRoom {
            display_name: name.into(),
            ..CreateRoom::default()
        }
    }

    fn long_term(at: Timestamp) -> CreateRoom {
        CreateRoom {
            display_name: "lt".into(),
            room_type: RoomType::LongTerm,
            expires_at: Some(at),
            ..CreateRoom::default()
        }
    }

    #[test]
    fn instant_rooms_expire_after_ten_minutes_and_fire_once() {
        let mut state = state();
        let room = state.create_room(APP, instant("a"), t0()).unwrap();
        assert_eq!(format_ts(room.expires_at), "2024-03-01T12:10:00.000Z");
        assert!(
            room.meeting_code.len() >= 9 && room.meeting_code.bytes().all(|b| b.is_ascii_digit())
        );
        state.sweep(t0().saturating_add(SignedDuration::from_mins(9)).unwrap());
        assert!(state.take_events().is_empty());
        state.sweep(t0().saturating_add(SignedDuration::from_mins(10)).unwrap());
        let events = state.take_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].name, "room:expired");
        assert_eq!(events[0].payload["room_type"], "instant");
        assert!(state.room(APP, &room.id.to_string()).unwrap().expired);
        state.sweep(t0().saturating_add(SignedDuration::from_hours(1)).unwrap());
        assert!(state.take_events().is_empty());
    }

    #[test]
    fn tenants_are_isolated() {
        let mut state = state();
        let room = state.create_room(APP, instant("a"), t0()).unwrap();
        assert!(state.room(OTHER, &room.id.to_string()).is_err());
        assert!(state.room(APP, "not-a-uuid").is_err());
        let page = state.list_rooms(OTHER, None, &PageRequest::parse(None, 20, 1000).unwrap());
        assert_eq!(page.total_items, 0);
    }

    #[test]
    fn serials_increase_sparsely_and_pages_chain() {
        let mut state = state();
        for i in 0..45 {
            state
                .create_room(APP, instant(&format!("r{i}")), t0())
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut query = "page_size=20".to_string();
        loop {
            let page = state.list_rooms(
                APP,
                None,
                &PageRequest::parse(Some(&query), 20, 1000).unwrap(),
            );
            assert_eq!(page.total_items, 45);
            if page.rooms.is_empty() {
                break;
            }
            seen.extend(page.rooms.iter().map(|r| r.serial));
            let (_, last) = page.bounds.unwrap();
            query = format!("page_size=20&start_id={}", last + 1);
        }
        assert_eq!(seen.len(), 45);
        assert!(seen.windows(2).all(|w| w[0] < w[1] && w[1] - w[0] <= 50));
    }

    #[test]
    fn only_long_term_rooms_update() {
        let mut state = state();
        let room = state.create_room(APP, instant("a"), t0()).unwrap();
        let err = state
            .update_room(APP, &room.id.to_string(), UpdateRoom::default())
            .unwrap_err();
        assert_eq!(
            err.body()["message"],
            format!(
                "The room with id: {} could not be updated because of its type: temporary",
                room.id
            )
        );
        let later = t0().saturating_add(SignedDuration::from_hours(48)).unwrap();
        let room = state.create_room(APP, long_term(later), t0()).unwrap();
        let even_later = later.saturating_add(SignedDuration::from_hours(1)).unwrap();
        let update = UpdateRoom {
            expires_at: Some(even_later),
            join_approval_level: Some(JoinApprovalLevel::ExplicitApproval),
            ..UpdateRoom::default()
        };
        let updated = state
            .update_room(APP, &room.id.to_string(), update)
            .unwrap();
        assert_eq!(updated.expires_at, even_later);
        // The old expiry no longer fires (only the instant room expires).
        state.sweep(later);
        let events = state.take_events();
        assert!(
            events.iter().all(|e| e.payload["room_type"] == "instant"),
            "{events:?}"
        );
        state.sweep(even_later);
        assert_eq!(state.take_events().len(), 1);
    }

    #[test]
    fn theme_references_and_removal() {
        let mut state = state();
        let theme = state
            .create_theme(APP, CreateTheme::simple("#abc", "B"))
            .unwrap();
        let foreign = state
            .create_theme(OTHER, CreateTheme::simple("#abc", "B"))
            .unwrap();
        let later = t0().saturating_add(SignedDuration::from_hours(48)).unwrap();
        let mut req = long_term(later);
        req.theme_id = Some(foreign.id);
        assert!(matches!(
            state.create_room(APP, req.clone(), t0()),
            Err(ApiError::NotFound(_))
        ));
        req.theme_id = Some(theme.id);
        let room = state.create_room(APP, req, t0()).unwrap();
        let update = UpdateRoom {
            theme_id: Some(None),
            ..UpdateRoom::default()
        };
        let updated = state
            .update_room(APP, &room.id.to_string(), update)
            .unwrap();
        assert_eq!(updated.theme_id, None);
    }

    #[test]
    fn missing_rooms_and_expired_updates_use_the_recorded_wordings() {
        let mut state = state();
        let err = state.room(APP, &Uuid::new_v4().to_string()).unwrap_err();
        assert_eq!(err.status().as_u16(), 404);
        assert_eq!(err.body()["message"], "room not found");
        assert_eq!(
            state.room(APP, "x").unwrap_err().body()["message"],
            "room not found"
        );
        let later = t0().saturating_add(SignedDuration::from_hours(1)).unwrap();
        let room = state.create_room(APP, long_term(later), t0()).unwrap();
        state.sweep(later);
        let update = UpdateRoom {
            expire_after_use: Some(true),
            ..UpdateRoom::default()
        };
        let err = state
            .update_room(APP, &room.id.to_string(), update)
            .unwrap_err();
        assert_eq!(
            err.body(),
            json!({"status": 400, "name": "BadRequestError", "errors": [],
                   "message": format!("The room with id: {} could not be updated", room.id)})
        );
    }

    #[test]
    fn expired_rooms_stay_unless_purging_is_on() {
        let mut state = state();
        let kept = state.create_room(APP, instant("kept"), t0()).unwrap();
        let day = t0().saturating_add(SignedDuration::from_hours(24)).unwrap();
        state.sweep(day);
        assert!(state.room(APP, &kept.id.to_string()).unwrap().expired);
        let all = PageRequest::parse(None, 20, 1000).unwrap();
        assert_eq!(state.list_rooms(APP, None, &all).total_items, 1);

        // Switched on later: rooms already expired long enough go at the next sweep.
        state.behavior.purge_expired_after_secs = Some(3600);
        let fresh = state.create_room(APP, instant("fresh"), day).unwrap();
        state.sweep(day);
        assert_eq!(
            state.room(APP, &kept.id.to_string()).unwrap_err().body()["message"],
            "room not found"
        );
        assert_eq!(state.list_rooms(APP, None, &all).total_items, 1);
        // `fresh` expires at day+10min and is purged an hour after that, not before.
        let expired = day.saturating_add(SignedDuration::from_mins(10)).unwrap();
        let almost = expired
            .saturating_add(SignedDuration::from_mins(59))
            .unwrap();
        state.sweep(almost);
        assert!(state.room(APP, &fresh.id.to_string()).unwrap().expired);
        state.sweep(
            expired
                .saturating_add(SignedDuration::from_hours(1))
                .unwrap(),
        );
        assert!(state.room(APP, &fresh.id.to_string()).is_err());
        let page = state.list_rooms(APP, None, &all);
        assert_eq!((page.total_items, page.rooms.len()), (0, 0));
        assert!(state.rooms_of(APP).is_empty());
        assert!(!state.meeting_codes.contains(&fresh.meeting_code));
    }

    #[test]
    fn removed_rooms_vanish_at_once() {
        let mut state = state();
        state.behavior.room_limit = Some(1);
        let room = state.create_room(APP, instant("a"), t0()).unwrap();
        let id = room.id.to_string();
        assert!(state.remove_room(OTHER, &id).is_err());
        assert_eq!(state.remove_room(APP, &id).unwrap().id, room.id);
        assert!(state.room(APP, &id).is_err());
        assert!(state.rooms_of(APP).is_empty());
        assert!(state.remove_room(APP, &id).is_err());
        // It no longer counts against the limit, and never expires.
        state.create_room(APP, instant("b"), t0()).unwrap();
        state.sweep(t0().saturating_add(SignedDuration::from_hours(1)).unwrap());
        let events = state.take_events();
        assert_eq!(events.len(), 1, "only b expires: {events:?}");
    }

    #[test]
    fn closed_rooms_are_purged_from_when_they_closed() {
        let mut state = state();
        state.behavior.purge_expired_after_secs = Some(60);
        let far = t0().saturating_add(SignedDuration::from_hours(48)).unwrap();
        let room = state.create_room(APP, long_term(far), t0()).unwrap();
        state.expire_room(room.id, t0());
        state.sweep(t0().saturating_add(SignedDuration::from_secs(59)).unwrap());
        assert!(state.room(APP, &room.id.to_string()).is_ok());
        state.sweep(t0().saturating_add(SignedDuration::from_secs(60)).unwrap());
        assert!(state.room(APP, &room.id.to_string()).is_err());
    }

    #[test]
    fn rooms_follow_the_default_theme_only_when_reporting_it() {
        let mut state = state();
        let default = state
            .create_theme(APP, CreateTheme::simple("#abc", "D"))
            .unwrap();
        let own = state
            .create_theme(APP, CreateTheme::simple("#abc", "O"))
            .unwrap();
        state.set_default_theme(APP, default.id).unwrap();
        let plain = state.create_room(APP, instant("plain"), t0()).unwrap();
        let mut req = instant("own");
        req.theme_id = Some(own.id);
        let themed = state.create_room(APP, req, t0()).unwrap();
        let all = PageRequest::parse(None, 20, 1000).unwrap();

        assert_eq!(state.reported_theme_id(&plain), None);
        assert_eq!(state.list_rooms(APP, Some(default.id), &all).total_items, 0);
        state.behavior.rooms_report_default_theme = true;
        assert_eq!(state.reported_theme_id(&plain), Some(default.id));
        assert_eq!(state.reported_theme_id(&themed), Some(own.id));
        let page = state.list_rooms(APP, Some(default.id), &all);
        assert_eq!(page.rooms.len(), 1);
        assert_eq!(page.rooms[0].id, plain.id);
        assert_eq!(page.rooms[0].theme_id, None, "the stored theme stays unset");
        assert_eq!(state.list_rooms(APP, Some(own.id), &all).total_items, 1);
        // Removing an explicit theme makes the room follow the default again.
        let far = t0().saturating_add(SignedDuration::from_hours(48)).unwrap();
        let mut req = long_term(far);
        req.theme_id = Some(own.id);
        let lt = state.create_room(APP, req, t0()).unwrap();
        let unthemed = UpdateRoom {
            theme_id: Some(None),
            ..UpdateRoom::default()
        };
        let lt = state
            .update_room(APP, &lt.id.to_string(), unthemed)
            .unwrap();
        assert_eq!(state.reported_theme_id(&lt), Some(default.id));
        assert_eq!(state.list_rooms(APP, Some(default.id), &all).total_items, 2);
        // Without a default theme there is nothing to report.
        state
            .delete_theme(APP, &default.id.to_string(), true)
            .unwrap();
        assert_eq!(state.reported_theme_id(&plain), None);
    }

    #[test]
    fn room_limit_counts_active_rooms() {
        let mut state = state();
        state.behavior.room_limit = Some(2);
        state.create_room(APP, instant("a"), t0()).unwrap();
        state.create_room(APP, instant("b"), t0()).unwrap();
        let err = state.create_room(APP, instant("c"), t0()).unwrap_err();
        assert_eq!(err.status().as_u16(), 403);
        state.create_room(OTHER, instant("c"), t0()).unwrap();
        let later = t0().saturating_add(SignedDuration::from_mins(11)).unwrap();
        state.sweep(later);
        state.create_room(APP, instant("c"), later).unwrap();
    }
}
