//! Validation of room create and update bodies.

use jiff::Timestamp;
use serde_json::Value;

use super::{Reader, available_features, callback_urls, finish};
use crate::clock::format_ts;
use crate::errors::ApiError;
use crate::state::values::{JoinApprovalLevel, RecordingOptions, RoomType};
use crate::state::{CreateRoom, UpdateRoom};

const JOIN_LEVELS: [&str; 3] = ["none", "after_owner_only", "explicit_approval"];

/// The window a long-term room's `expires_at` must fall in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifetimeRules {
    /// Current simulated time.
    pub now: Timestamp,
    /// `expires_at` must be after this.
    pub earliest: Timestamp,
    /// `expires_at` must not be after this.
    pub latest: Timestamp,
}

fn check_expiry(reader: &mut Reader<'_, '_>, rules: &LifetimeRules) -> Option<Timestamp> {
    let at = reader.timestamp("expires_at")?;
    if at <= rules.earliest {
        reader.report(
            "expires_at",
            &format!("must be greater than \"{}\"", format_ts(rules.earliest)),
        );
        return None;
    }
    if at > rules.latest {
        reader.report(
            "expires_at",
            &format!(
                "must be less than or equal to \"{}\"",
                format_ts(rules.latest)
            ),
        );
        return None;
    }
    Some(at)
}

fn join_level(reader: &mut Reader<'_, '_>) -> Option<JoinApprovalLevel> {
    reader
        .one_of("join_approval_level", &JOIN_LEVELS)
        .and_then(|level| JoinApprovalLevel::parse(&level))
}

/// Validates a `POST /rooms` body.
pub fn parse_create_room(body: &Value, rules: &LifetimeRules) -> Result<CreateRoom, ApiError> {
    let mut errors = Vec::new();
    let parsed = Reader::root(body, &mut errors).map(|mut r| {
        r.only(&[
            "display_name",
            "metadata",
            "type",
            "expires_at",
            "recording_options",
            "expire_after_use",
            "theme_id",
            "join_approval_level",
            "callback_urls",
            "available_features",
        ]);
        r.require("display_name");
        let display_name = r.string("display_name", 200).unwrap_or_default();
        let metadata = r.string("metadata", 500);
        let room_type = match r.one_of("type", &["instant", "long_term"]).as_deref() {
            Some("long_term") => RoomType::LongTerm,
            _ => RoomType::Instant,
        };
        let (expires_at, expire_after_use) = if room_type == RoomType::LongTerm {
            r.require("expires_at");
            (check_expiry(&mut r, rules), r.boolean("expire_after_use"))
        } else {
            r.forbid("expires_at");
            r.forbid("expire_after_use");
            (None, None)
        };
        let recording_options = r
            .object("recording_options")
            .map(|mut o| {
                o.only(&["auto_record", "record_only_owner"]);
                RecordingOptions {
                    auto_record: o.boolean("auto_record").unwrap_or(false),
                    record_only_owner: o.boolean("record_only_owner").unwrap_or(false),
                }
            })
            .unwrap_or_default();
        CreateRoom {
            display_name,
            metadata,
            room_type,
            expires_at,
            recording_options,
            expire_after_use,
            theme_id: r.uuid("theme_id", false).flatten(),
            join_approval_level: join_level(&mut r),
            callback_urls: callback_urls(&mut r, "callback_urls").unwrap_or_default(),
            available_features: available_features(&mut r, "available_features")
                .unwrap_or_default(),
        }
    });
    finish(errors, parsed)
}

/// Validates a `PATCH /rooms/{id}` body.
pub fn parse_update_room(body: &Value, rules: &LifetimeRules) -> Result<UpdateRoom, ApiError> {
    let mut errors = Vec::new();
    let parsed = Reader::root(body, &mut errors).and_then(|mut root| {
        root.only(&["update_details"]);
        if !root.require("update_details") {
            return None;
        }
        let mut r = root.object("update_details")?;
        if !r.non_empty() {
            return None;
        }
        r.only(&[
            "expires_at",
            "expire_after_use",
            "theme_id",
            "join_approval_level",
            "callback_urls",
            "available_features",
        ]);
        Some(UpdateRoom {
            expires_at: check_expiry(&mut r, rules),
            expire_after_use: r.boolean("expire_after_use"),
            theme_id: r.uuid("theme_id", true),
            join_approval_level: join_level(&mut r),
            callback_urls: callback_urls(&mut r, "callback_urls"),
            available_features: available_features(&mut r, "available_features"),
        })
    });
    finish(errors, parsed)
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use serde_json::json;

    use super::*;

    fn rules() -> LifetimeRules {
        let now: Timestamp = "2024-03-01T12:00:00Z".parse().unwrap();
        LifetimeRules {
            now,
            earliest: now.saturating_add(SignedDuration::from_mins(10)).unwrap(),
            latest: now
                .saturating_add(SignedDuration::from_hours(24 * 366))
                .unwrap(),
        }
    }

    fn message(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        result.unwrap_err().body()["message"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn create_defaults_to_instant() {
        let room = parse_create_room(&json!({"display_name": "Daily"}), &rules()).unwrap();
        assert_eq!(room.room_type, RoomType::Instant);
        assert_eq!(room.expires_at, None);
    }

    #[test]
    fn create_rules() {
        let r = rules();
        assert_eq!(
            message(parse_create_room(&json!({}), &r)),
            "\"display_name\" is required"
        );
        let long = "x".repeat(201);
        assert_eq!(
            message(parse_create_room(&json!({"display_name": long}), &r)),
            "\"display_name\" length must be less than or equal to 200 characters long"
        );
        assert_eq!(
            message(parse_create_room(
                &json!({"display_name": "a", "metadata": "m".repeat(501)}),
                &r
            )),
            "\"metadata\" length must be less than or equal to 500 characters long"
        );
        assert_eq!(
            message(parse_create_room(
                &json!({"display_name": "a", "expires_at": "2024-03-02T00:00:00Z"}),
                &r
            )),
            "\"expires_at\" is not allowed"
        );
        assert_eq!(
            message(parse_create_room(
                &json!({"display_name": "a", "type": "long_term"}),
                &r
            )),
            "\"expires_at\" is required"
        );
        assert_eq!(
            message(parse_create_room(
                &json!({"display_name": "a", "type": "long_term", "expires_at": "2024-03-01T12:05:00Z"}),
                &r
            )),
            "\"expires_at\" must be greater than \"2024-03-01T12:10:00.000Z\""
        );
        assert!(parse_create_room(&json!({"display_name": "a", "type": "long_term", "expires_at": "2026-03-01T12:05:00Z"}), &r).is_err());
        assert_eq!(
            message(parse_create_room(
                &json!({"display_name": "a", "type": "forever"}),
                &r
            )),
            "\"type\" must be one of [instant, long_term]"
        );
        assert_eq!(
            message(parse_create_room(
                &json!({"display_name": "a", "theme_id": "abc"}),
                &r
            )),
            "\"theme_id\" must be a valid GUID"
        );
        assert_eq!(
            message(parse_create_room(
                &json!({"display_name": "a", "id": "x"}),
                &r
            )),
            "\"id\" is not allowed"
        );
        let ok = parse_create_room(
            &json!({"display_name": "a", "type": "long_term", "expires_at": "2024-06-01T00:00:00.000Z",
                    "expire_after_use": true, "recording_options": {"auto_record": true},
                    "join_approval_level": "after_owner_only",
                    "callback_urls": {"rooms_callback_url": "https://x.test/cb"},
                    "available_features": {"is_chat_available": false}}),
            &r,
        )
        .unwrap();
        assert!(ok.recording_options.auto_record);
        assert_eq!(ok.available_features.is_chat_available, Some(false));
    }

    #[test]
    fn update_rules() {
        let r = rules();
        assert_eq!(
            message(parse_update_room(&json!({}), &r)),
            "\"update_details\" is required"
        );
        assert_eq!(
            message(parse_update_room(&json!({"update_details": {}}), &r)),
            "\"update_details\" must have at least 1 key"
        );
        assert_eq!(
            message(parse_update_room(
                &json!({"update_options": {"expire_after_use": true}}),
                &r
            )),
            "\"update_options\" is not allowed"
        );
        assert_eq!(
            message(parse_update_room(
                &json!({"update_details": {"display_name": "x"}}),
                &r
            )),
            "\"update_details.display_name\" is not allowed"
        );
        let update = parse_update_room(&json!({"update_details": {"theme_id": null}}), &r).unwrap();
        assert_eq!(update.theme_id, Some(None));
    }
}
