//! Rooms: creation rules, updates, expiry and serial-ordered listing.

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
use crate::simulator::clock::format_ts;
use crate::simulator::errors::ApiError;
use crate::simulator::pagination::PageRequest;

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
    /// Expiry time.
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

fn room_not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("could not find room {id}"))
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
            .ok_or_else(|| room_not_found(id))
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
            return Err(ApiError::bad_request(format!(
                "The room with id: {room_id} could not be updated because it is expired"
            )));
        }
        if let Some(Some(theme_id)) = req.theme_id {
            self.owned_theme(app_id, theme_id)?;
        }
        let room = self
            .rooms
            .get_mut(&room_id)
            .ok_or_else(|| room_not_found(id))?;
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

    /// `GET /rooms` (all rooms) or `GET /themes/{id}/rooms` (rooms with that theme).
    pub fn list_rooms(&self, app_id: &str, theme: Option<Uuid>, page: &PageRequest) -> RoomPage {
        let Some(app) = self.apps.get(app_id) else {
            return RoomPage {
                rooms: Vec::new(),
                total_items: 0,
                bounds: None,
            };
        };
        let matching: Vec<(u64, &Room)> = app
            .room_serials
            .iter()
            .filter_map(|(serial, id)| self.rooms.get(id).map(|room| (*serial, room)))
            .filter(|(_, room)| theme.is_none() || room.theme_id == theme)
            .collect();
        let serials: Vec<u64> = matching.iter().map(|(s, _)| *s).collect();
        let window = page.window(&serials);
        let rooms: Vec<Room> = matching[window.clone()]
            .iter()
            .map(|(_, r)| (*r).clone())
            .collect();
        let bounds = match (rooms.first(), rooms.last()) {
            (Some(first), Some(last)) => Some((first.serial, last.serial)),
            _ => None,
        };
        RoomPage {
            rooms,
            total_items: matching.len(),
            bounds,
        }
    }

    /// Marks a room inactive and emits `room:expired` (once).
    pub(crate) fn expire_room(&mut self, id: Uuid, _now: Timestamp) {
        let Some(room) = self.rooms.get_mut(&id) else {
            return;
        };
        if room.expired {
            return;
        }
        room.expired = true;
        let room = room.clone();
        self.expiry.remove(&(room.expires_at, id));
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
