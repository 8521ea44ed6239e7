//! Wire representations of rooms, themes, recordings and applications.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::clock::format_ts;
use super::config::{Behavior, EmbeddedShape};
use super::keys::mint_participant_token;
use super::pagination::PageRequest;
use super::state::values::CallbackUrls;
use super::state::{Application, Recording, Room, RoomPage, State, Theme};

/// Where join links point.
const MEETINGS_HOST: &str = "https://meetings.vonage.com";

/// Inserts `value` under `key`, or `null`/nothing for `None` depending on the behaviour.
fn optional(map: &mut Map<String, Value>, behavior: &Behavior, key: &str, value: Option<Value>) {
    match value {
        Some(value) => {
            map.insert(key.to_string(), value);
        }
        None if behavior.null_unset_fields => {
            map.insert(key.to_string(), Value::Null);
        }
        None => {}
    }
}

fn callback_urls(urls: &CallbackUrls, behavior: &Behavior) -> Value {
    let mut map = Map::new();
    for (key, value) in [
        ("rooms_callback_url", &urls.rooms_callback_url),
        ("sessions_callback_url", &urls.sessions_callback_url),
        ("recordings_callback_url", &urls.recordings_callback_url),
    ] {
        optional(&mut map, behavior, key, value.clone().map(Value::String));
    }
    Value::Object(map)
}

/// A room, with fresh host link.
pub fn room(state: &State, room: &Room, now: Timestamp) -> Value {
    let behavior = &state.behavior;
    let short = state
        .effective_theme(&room.application_id, room.theme_id)
        .and_then(|t| t.short_company_url.as_deref())
        .map(|s| format!("{s}/"))
        .unwrap_or_default();
    let token =
        mint_participant_token(&state.secret, &room.id.to_string(), &room.meeting_code, now);
    let code = &room.meeting_code;
    let mut map = Map::new();
    map.insert("id".into(), json!(room.id));
    map.insert("display_name".into(), json!(room.display_name));
    optional(
        &mut map,
        behavior,
        "metadata",
        room.metadata.clone().map(Value::String),
    );
    map.insert("type".into(), json!(room.room_type.as_str()));
    map.insert("recording_options".into(), json!(room.recording_options));
    map.insert("meeting_code".into(), json!(code));
    map.insert(
        "is_available".into(),
        json!(!room.expired || behavior.expired_rooms_report_available),
    );
    optional(
        &mut map,
        behavior,
        "theme_id",
        state.reported_theme_id(room).map(|id| json!(id)),
    );
    map.insert("created_at".into(), json!(format_ts(room.created_at)));
    map.insert("expires_at".into(), json!(format_ts(room.expires_at)));
    map.insert("expire_after_use".into(), json!(room.expire_after_use));
    map.insert(
        "join_approval_level".into(),
        json!(room.join_approval_level.as_str()),
    );
    map.insert(
        "callback_urls".into(),
        callback_urls(&room.callback_urls, behavior),
    );
    map.insert("available_features".into(), json!(room.available_features));
    map.insert(
        "_links".into(),
        json!({
            "guest_url": {"href": format!("{MEETINGS_HOST}/{short}{code}")},
            "host_url": {"href": format!("{MEETINGS_HOST}/{short}?room_token={code}&participant_token={token}")},
        }),
    );
    Value::Object(map)
}

/// A listing page; `link_base` is scheme-less, e.g. `127.0.0.1:8080/meetings/rooms`.
pub fn rooms_page(
    state: &State,
    page: &RoomPage,
    req: &PageRequest,
    link_base: &str,
    now: Timestamp,
) -> Value {
    let behavior = &state.behavior;
    // Built by moving values in: `json!` would copy every room once more.
    let rooms = Value::Array(page.rooms.iter().map(|r| room(state, r, now)).collect());
    let embedded = match behavior.embedded_shape {
        EmbeddedShape::Spec => Value::Object(Map::from_iter([("rooms".to_owned(), rooms)])),
        EmbeddedShape::LiveFlatArray => rooms,
    };
    let page_size = if behavior.page_size_as_string {
        json!(req.page_size.to_string())
    } else {
        json!(req.page_size)
    };
    Value::Object(Map::from_iter([
        ("page_size".to_owned(), page_size),
        ("total_items".to_owned(), json!(page.total_items)),
        ("_embedded".to_owned(), embedded),
        ("_links".to_owned(), req.links(link_base, page.bounds)),
    ]))
}

/// A theme.
pub fn theme(behavior: &Behavior, theme: &Theme) -> Value {
    let mut map = Map::new();
    map.insert("theme_id".into(), json!(theme.id));
    map.insert("theme_name".into(), json!(theme.theme_name));
    map.insert("domain".into(), json!("VCP"));
    map.insert("account_id".into(), json!(theme.account_id));
    map.insert("application_id".into(), json!(theme.application_id));
    map.insert("main_color".into(), json!(theme.main_color));
    optional(
        &mut map,
        behavior,
        "short_company_url",
        theme.short_company_url.clone().map(Value::String),
    );
    map.insert("brand_text".into(), json!(theme.brand_text));
    for (key, logo) in [
        ("brand_image_colored", &theme.brand_image_colored),
        ("brand_image_white", &theme.brand_image_white),
        ("branded_favicon", &theme.branded_favicon),
    ] {
        optional(&mut map, behavior, key, logo.as_ref().map(|l| json!(l.key)));
        optional(
            &mut map,
            behavior,
            &format!("{key}_url"),
            logo.as_ref().map(|l| json!(l.url)),
        );
    }
    Value::Object(map)
}

/// `GET /themes`: an array, or `{}` when empty and the live switch is on.
pub fn themes(behavior: &Behavior, list: &[Theme]) -> Value {
    if list.is_empty() && behavior.empty_themes_as_object {
        return json!({});
    }
    Value::Array(list.iter().map(|t| theme(behavior, t)).collect())
}

/// A recording.
pub fn recording(rec: &Recording) -> Value {
    let mut value = json!({
        "id": rec.id,
        "session_id": rec.session_id,
        "started_at": format_ts(rec.started_at),
        "status": rec.status,
    });
    if let Some(ended) = rec.ended_at {
        value["ended_at"] = json!(format_ts(ended));
    }
    if let Some(url) = &rec.url {
        value["_links"] = json!({ "url": { "href": url } });
    }
    value
}

/// `PATCH /applications` answer.
pub fn application(app: &Application) -> Value {
    let mut value = json!({
        "application_id": app.id,
        "account_id": app.account_id,
    });
    if let Some(theme) = app.default_theme_id {
        value["default_theme_id"] = json!(theme);
    }
    value
}

/// `GET /dial-in-numbers`: a fixed list.
pub fn dial_in_numbers() -> Value {
    json!([
        {"number": "17323338801", "locale": "en-US", "display_name": "United States"},
        {"number": "442038973950", "locale": "en-GB", "display_name": "United Kingdom"},
        {"number": "4969509524", "locale": "de-DE", "display_name": "Germany"},
        {"number": "33187210050", "locale": "fr-FR", "display_name": "France"},
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_support::*;
    use crate::state::{CreateRoom, CreateTheme};

    #[test]
    fn room_links_use_theme_short_url_and_fresh_tokens() {
        let mut state = state();
        let mut req = CreateTheme::simple("#fff", "B");
        req.short_company_url = Some("acme".into());
        let theme_id = state.create_theme(APP, req).unwrap().id;
        let create = CreateRoom {
            display_name: "r".into(),
            theme_id: Some(theme_id),
            ..CreateRoom::default()
        };
        let r = state.create_room(APP, create, t0()).unwrap();
        let a = room(&state, &r, t0());
        let b = room(&state, &r, t0());
        assert_eq!(
            a["_links"]["guest_url"]["href"],
            format!("https://meetings.vonage.com/acme/{}", r.meeting_code)
        );
        assert_ne!(a["_links"]["host_url"], b["_links"]["host_url"]);
        assert_eq!(a["created_at"], "2024-03-01T12:00:00.000Z");
        assert_eq!(a["is_available"], true);
        assert!(a.get("metadata").is_none());
        assert_eq!(a["available_features"]["is_chat_available"], true);
    }

    #[test]
    fn default_theme_is_reported_only_when_switched_on() {
        let mut state = state();
        let theme_id = state
            .create_theme(APP, CreateTheme::simple("#fff", "B"))
            .unwrap()
            .id;
        state.set_default_theme(APP, theme_id).unwrap();
        let create = CreateRoom {
            display_name: "r".into(),
            ..CreateRoom::default()
        };
        let r = state.create_room(APP, create, t0()).unwrap();
        assert!(room(&state, &r, t0()).get("theme_id").is_none());
        state.behavior.rooms_report_default_theme = true;
        assert_eq!(room(&state, &r, t0())["theme_id"], json!(theme_id));
        let req = PageRequest::parse(None, 20, 1000).unwrap();
        let page = state.list_rooms(APP, None, &req);
        let v = rooms_page(&state, &page, &req, "h/meetings/rooms", t0());
        assert_eq!(v["_embedded"]["rooms"][0]["theme_id"], json!(theme_id));
    }

    #[test]
    fn live_switches_change_shapes() {
        let mut state = state();
        state.behavior = Behavior::live();
        let t = state
            .create_theme(APP, CreateTheme::simple("#fff", "B"))
            .unwrap();
        let v = theme(&state.behavior, &t);
        assert!(v["brand_image_white"].is_null() && v.get("brand_image_white").is_some());
        assert_eq!(themes(&state.behavior, &[]), json!({}));
        assert_eq!(themes(&Behavior::default(), &[]), json!([]));
        let r = state
            .create_room(
                APP,
                CreateRoom {
                    display_name: "r".into(),
                    ..CreateRoom::default()
                },
                t0(),
            )
            .unwrap();
        let req = PageRequest::parse(None, 20, 1000).unwrap();
        let page = state.list_rooms(APP, None, &req);
        let v = rooms_page(&state, &page, &req, "h/meetings/rooms", t0());
        assert_eq!(v["_embedded"][0]["id"], json!(r.id));
        state.behavior.page_size_as_string = true;
        let v = rooms_page(&state, &page, &req, "h/meetings/rooms", t0());
        assert_eq!(v["page_size"], "20");
    }
}
