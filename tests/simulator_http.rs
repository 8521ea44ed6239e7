//! Black-box HTTP tests of the Meetings API simulator: auth, error shapes, pagination,
//! storage uploads, faults, callbacks and the control endpoints.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use meetings_simulator::{
    AppCredentials, Behavior, CallbackUrls, DefaultApplication, EmbeddedShape, FaultKind,
    FaultSpec, RunningSimulator, Simulator, SimulatorConfig, generate_key_pair,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn mint(creds: &AppCredentials, iat: i64, exp: Option<i64>) -> String {
    let mut claims = json!({
        "application_id": creds.application_id,
        "iat": iat,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    if let Some(exp) = exp {
        claims["exp"] = json!(exp);
    }
    let key = EncodingKey::from_rsa_pem(creds.private_key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
}

fn token(creds: &AppCredentials) -> String {
    let now = Timestamp::now().as_second();
    mint(creds, now, Some(now + 900))
}

struct Api {
    sim: RunningSimulator,
    http: reqwest::Client,
    creds: AppCredentials,
}

impl Api {
    async fn start() -> Self {
        Self::with_behavior(Behavior::default()).await
    }

    async fn with_behavior(behavior: Behavior) -> Self {
        // One key pair per test process keeps start-up fast; ids still differ per simulator.
        static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let pem = KEY.get_or_init(|| generate_key_pair().unwrap().private_pem);
        let config = SimulatorConfig {
            default_application: DefaultApplication::PrivateKey {
                application_id: None,
                private_key_pem: pem.clone(),
            },
            behavior,
            ..SimulatorConfig::default()
        };
        Self::with(Simulator::builder().with_config(config)).await
    }

    async fn with(builder: Simulator) -> Self {
        let sim = builder.start().await.unwrap();
        let creds = sim.default_application().unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self { sim, http, creds }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send_as(&self.creds, method, path, body).await
    }

    async fn send_as(
        &self,
        creds: &AppCredentials,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(token(creds));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A `/_sim` control request; answers the status and the JSON body.
    async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sim.control_url()));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn advance(&self, seconds: i64) {
        let (status, body) = self
            .control(
                reqwest::Method::POST,
                "/clock/advance",
                Some(json!({ "seconds": seconds })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn create_room(&self, body: Value) -> Value {
        let (status, room) = self.send(reqwest::Method::POST, "/rooms", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{room}");
        room
    }

    async fn long_term_room(&self, name: &str, extra: Value) -> Value {
        let expires = self
            .sim
            .now()
            .saturating_add(SignedDuration::from_hours(48))
            .unwrap();
        let mut body =
            json!({"display_name": name, "type": "long_term", "expires_at": expires.to_string()});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.create_room(body).await
    }
}

#[tokio::test]
async fn auth_errors_have_the_gateway_shape() {
    let api = Api::start().await;
    let resp = api.http.get(api.url("/rooms")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"title":"Missing Auth","detail":"Auth header is required"})
    );
    let unauthorized =
        json!({"title":"Unauthorized","detail":"You did not provide correct credentials"});
    let now = Timestamp::now().as_second();
    let other = api.sim.add_application().await.unwrap();
    let forged = AppCredentials {
        application_id: api.creds.application_id.clone(),
        private_key_pem: other.private_key_pem.clone(),
    };
    for bad in [
        "garbage".to_string(),
        mint(&api.creds, now - 3600, Some(now - 60)),
        mint(&api.creds, now - 25 * 3600, Some(now + 3600)),
        mint(&forged, now, Some(now + 60)),
    ] {
        let resp = api
            .http
            .get(api.url("/rooms"))
            .bearer_auth(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.json::<Value>().await.unwrap(), unauthorized);
    }
    // Rotation: the old key stops working, the new one works.
    let rotated = api.sim.rotate_key(&other.application_id).await.unwrap();
    let (status, _) = api
        .send_as(&other, reqwest::Method::GET, "/themes", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api
        .send_as(&rotated, reqwest::Method::GET, "/themes", None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn rooms_follow_the_type_rules_and_error_shapes() {
    let api = Api::start().await;
    let room = api.create_room(json!({"display_name": "Standup"})).await;
    assert_eq!(room["type"], "instant");
    assert_eq!(room["is_available"], true);
    let created: Timestamp = room["created_at"].as_str().unwrap().parse().unwrap();
    let expires: Timestamp = room["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        expires.duration_since(created),
        SignedDuration::from_mins(10)
    );
    assert!(room["created_at"].as_str().unwrap().ends_with('Z'));
    let code = room["meeting_code"].as_str().unwrap();
    assert_eq!(
        room["_links"]["guest_url"]["href"],
        format!("https://meetings.vonage.com/{code}")
    );
    let id = room["id"].as_str().unwrap();

    let (status, again) = api
        .send(reqwest::Method::GET, &format!("/rooms/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(again["_links"]["host_url"], room["_links"]["host_url"]);

    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            &format!("/rooms/{id}"),
            Some(json!({"update_details": {"expire_after_use": true}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["name"], "BadRequestError");
    assert_eq!(
        body["message"],
        format!("The room with id: {id} could not be updated because of its type: temporary")
    );

    let lt = api.long_term_room("Weekly", json!({})).await;
    let lt_id = lt["id"].as_str().unwrap();
    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            &format!("/rooms/{lt_id}"),
            Some(json!({"update_details": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"status":400,"name":"InputValidationError","message":"\"update_details\" must have at least 1 key",
               "errors":["\"update_details\" must have at least 1 key"]})
    );
    let (status, body) = api
        .send(
            reqwest::Method::PATCH,
            &format!("/rooms/{lt_id}"),
            Some(json!({"update_details": {"join_approval_level": "explicit_approval"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["join_approval_level"], "explicit_approval");

    let (status, body) = api
        .send(
            reqwest::Method::POST,
            "/rooms",
            Some(json!({"display_name": "x", "expires_at": "2030-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["name"], "InputValidationError");

    let resp = api
        .http
        .delete(api.url(&format!("/rooms/{id}")))
        .bearer_auth(token(&api.creds))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);

    let (status, body) = api
        .send(
            reqwest::Method::GET,
            &format!("/rooms/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["name"], "NotFoundError");
    assert_eq!(body["message"], "room not found");
}

#[tokio::test]
async fn applications_are_isolated_tenants() {
    let api = Api::start().await;
    let other = api.sim.add_application().await.unwrap();
    let room = api.create_room(json!({"display_name": "Mine"})).await;
    let path = format!("/rooms/{}", room["id"].as_str().unwrap());
    let (status, _) = api.send_as(&other, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = api
        .send_as(&other, reqwest::Method::GET, "/rooms", None)
        .await;
    assert_eq!(page["total_items"], 0);
    assert_eq!(api.sim.rooms(&api.creds.application_id).len(), 1);
    assert!(api.sim.rooms(&other.application_id).is_empty());
}

#[tokio::test]
async fn pagination_links_chain_across_every_base_path() {
    let api = Api::start().await;
    for i in 0..7 {
        api.create_room(json!({"display_name": format!("r{i}")}))
            .await;
    }
    let host = api.sim.addr().to_string();
    for base in ["/v1/meetings", "/beta/meetings", "/meetings"] {
        let mut url = format!("http://{host}{base}/rooms?page_size=3");
        let mut seen = 0;
        loop {
            let page: Value = api
                .http
                .get(&url)
                .bearer_auth(token(&api.creds))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(page["total_items"], 7);
            assert_eq!(page["page_size"], 3);
            for link in ["first", "self", "prev", "next"] {
                let href = page["_links"][link]["href"].as_str().unwrap();
                assert!(
                    href.starts_with(&format!("{host}/meetings/rooms?page_size=3")),
                    "{href}"
                );
            }
            let rooms = page["_embedded"]["rooms"].as_array().unwrap();
            seen += rooms.len();
            if rooms.len() < 3 {
                break;
            }
            let next = page["_links"]["next"]["href"].as_str().unwrap();
            let start = next.split("start_id=").nth(1).unwrap();
            url = format!("http://{host}{base}/rooms?page_size=3&start_id={start}");
        }
        assert_eq!(seen, 7);
    }
    api.sim
        .update_behavior(|b| b.embedded_shape = EmbeddedShape::LiveFlatArray);
    let (_, page) = api
        .send(reqwest::Method::GET, "/rooms?page_size=1000", None)
        .await;
    assert_eq!(page["_embedded"].as_array().unwrap().len(), 7);
    let (status, body) = api
        .send(reqwest::Method::GET, "/rooms?page_size=1001", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn themes_conflicts_limits_and_deletion() {
    let api = Api::start().await;
    api.sim.update_behavior(|b| b.theme_limit = Some(2));
    let (status, themes) = api.send(reqwest::Method::GET, "/themes", None).await;
    assert_eq!((status, themes), (StatusCode::OK, json!([])));
    let body = json!({"main_color": "#12f64e", "brand_text": "Acme", "theme_name": "Main", "short_company_url": "acme"});
    let (status, theme) = api
        .send(reqwest::Method::POST, "/themes", Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{theme}");
    assert_eq!(theme["domain"], "VCP");
    assert_eq!(theme["application_id"], api.creds.application_id);
    let theme_id = theme["theme_id"].as_str().unwrap().to_string();
    let (status, err) = api.send(reqwest::Method::POST, "/themes", Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["name"], "ConflictError");
    assert_eq!(err["message"], "theme_name already exists in application");
    let (status, _) = api
        .send(
            reqwest::Method::POST,
            "/themes",
            Some(json!({"main_color": "#fff", "brand_text": "B"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, err) = api
        .send(
            reqwest::Method::POST,
            "/themes",
            Some(json!({"main_color": "#fff", "brand_text": "B"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(err["message"], "exceeded maximum theme limit");

    let room = api
        .long_term_room("Themed", json!({"theme_id": theme_id}))
        .await;
    assert_eq!(
        room["_links"]["guest_url"]["href"],
        format!(
            "https://meetings.vonage.com/acme/{}",
            room["meeting_code"].as_str().unwrap()
        )
    );
    let (status, page) = api
        .send(
            reqwest::Method::GET,
            &format!("/themes/{theme_id}/rooms"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total_items"], 1);

    let (status, err) = api
        .send(
            reqwest::Method::DELETE,
            &format!("/themes/{theme_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err,
        json!({"status":400,"name":"BadRequestError","message":"could not delete theme",
               "errors":[format!("Theme {theme_id} is used by 1 room")]})
    );
    let (status, _) = api
        .send(
            reqwest::Method::DELETE,
            &format!("/themes/{theme_id}?force=true"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, room) = api
        .send(
            reqwest::Method::GET,
            &format!("/rooms/{}", room["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(room.get("theme_id").is_none(), "{room}");
    let (status, err) = api
        .send(reqwest::Method::GET, &format!("/themes/{theme_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["message"], format!("could not find theme {theme_id}"));

    let missing = uuid::Uuid::new_v4();
    let (status, err) = api
        .send(
            reqwest::Method::PATCH,
            "/applications",
            Some(json!({"update_details": {"default_theme_id": missing}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["message"],
        format!("Failed to update application because theme id {missing} not found")
    );
}

fn transparent_png(width: u32, height: u32) -> Vec<u8> {
    let mut data = vec![200u8; (width * height * 4) as usize];
    data[3] = 0;
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&data).unwrap();
    }
    out
}

fn upload_form(fields: &Value, file: Vec<u8>) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields.as_object().unwrap() {
        form = form.text(name.clone(), value.as_str().unwrap().to_string());
    }
    let part = reqwest::multipart::Part::bytes(file)
        .file_name("logo.png")
        .mime_str("image/png")
        .unwrap();
    form.part("file", part)
}

#[tokio::test]
async fn logo_upload_and_finalize() {
    let api = Api::start().await;
    let (_, theme) = api
        .send(
            reqwest::Method::POST,
            "/themes",
            Some(json!({"main_color": "#fff", "brand_text": "B"})),
        )
        .await;
    let theme_id = theme["theme_id"].as_str().unwrap().to_string();
    assert!(theme.get("brand_image_white").is_none());
    let (status, forms) = api
        .send(reqwest::Method::GET, "/themes/logos-upload-urls", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let forms = forms.as_array().unwrap().clone();
    assert_eq!(forms.len(), 3);
    let white = forms
        .iter()
        .find(|f| f["fields"]["logoType"] == "white")
        .unwrap();
    let favicon = forms
        .iter()
        .find(|f| f["fields"]["logoType"] == "favicon")
        .unwrap();
    let storage_url = white["url"].as_str().unwrap();
    assert!(storage_url.starts_with(&format!("http://{}/_storage/", api.sim.addr())));

    // Tampered field: SignatureDoesNotMatch.
    let mut tampered = white["fields"].clone();
    tampered["key"] = json!("auto-expiring-temp/logos/white/evil");
    let resp = api
        .http
        .post(storage_url)
        .multipart(upload_form(&tampered, transparent_png(10, 10)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("<Code>SignatureDoesNotMatch</Code>")
    );
    // An Authorization header is refused.
    let resp = api
        .http
        .post(storage_url)
        .bearer_auth(token(&api.creds))
        .multipart(upload_form(&white["fields"], transparent_png(10, 10)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // A PUT is not an upload.
    let resp = api
        .http
        .put(storage_url)
        .body(transparent_png(10, 10))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);

    for (form, png) in [
        (white, transparent_png(120, 40)),
        (favicon, transparent_png(64, 64)),
    ] {
        let resp = api
            .http
            .post(storage_url)
            .multipart(upload_form(&form["fields"], png))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }
    let white_key = white["fields"]["key"].as_str().unwrap();
    let favicon_key = favicon["fields"]["key"].as_str().unwrap();
    let (status, err) = api
        .send(
            reqwest::Method::PUT,
            &format!("/themes/{theme_id}/finalizeLogos"),
            Some(json!({"keys": [white_key, {"key": favicon_key}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["message"], "could not finalize logos");
    assert_eq!(
        err["errors"],
        json!([{"logoKey": favicon_key, "code": "invalid_logo_properties", "invalidProperty": "dimensions"}])
    );
    let (status, _) = api
        .send(
            reqwest::Method::PUT,
            &format!("/themes/{theme_id}/finalizeLogos"),
            Some(json!({"keys": [white_key]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, theme) = api
        .send(reqwest::Method::GET, &format!("/themes/{theme_id}"), None)
        .await;
    let logo_url = theme["brand_image_white_url"].as_str().unwrap();
    assert!(
        theme["brand_image_white"]
            .as_str()
            .unwrap()
            .starts_with("logos/white/")
    );
    let logo = api.http.get(logo_url).send().await.unwrap();
    assert_eq!(logo.status(), StatusCode::OK);
    assert_eq!(
        logo.bytes().await.unwrap().to_vec(),
        transparent_png(120, 40)
    );
}

#[tokio::test]
async fn faults_drop_after_commit_rate_limit_and_hang() {
    let api = Api::start().await;
    api.sim
        .faults()
        .add(FaultSpec::new("createRoom", FaultKind::CommitThenDrop).times(1));
    let result = api
        .http
        .post(api.url("/rooms"))
        .bearer_auth(token(&api.creds))
        .json(&json!({"display_name": "ghost"}))
        .send()
        .await;
    assert!(
        result.is_err(),
        "expected a dropped connection, got {result:?}"
    );
    assert_eq!(
        api.sim.rooms(&api.creds.application_id).len(),
        1,
        "the create was committed"
    );
    assert_eq!(api.sim.counters().dropped_connections, 1);

    api.sim.faults().add(
        FaultSpec::new(
            "getRooms",
            FaultKind::RateLimited {
                retry_after_secs: 7,
            },
        )
        .times(2),
    );
    for _ in 0..2 {
        let resp = api
            .http
            .get(api.url("/rooms"))
            .bearer_auth(token(&api.creds))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "7");
    }
    let (status, _) = api.send(reqwest::Method::GET, "/rooms", None).await;
    assert_eq!(status, StatusCode::OK);
    let counters = api.sim.counters();
    assert_eq!(counters.operation_status("getRooms", 429), 2);
    assert_eq!(counters.operation_status("getRooms", 200), 1);

    api.sim
        .faults()
        .add(FaultSpec::new("getThemes", FaultKind::Timeout).times(1));
    let result = api
        .http
        .get(api.url("/themes"))
        .bearer_auth(token(&api.creds))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());

    let exchanges = api.sim.exchanges();
    let create = exchanges
        .iter()
        .find(|e| e.operation_id.as_deref() == Some("createRoom"))
        .unwrap();
    assert_eq!(create.request_body, Some(json!({"display_name": "ghost"})));
    assert!(!create.delivered);
    let ok = exchanges
        .iter()
        .rev()
        .find(|e| e.operation_id.as_deref() == Some("getRooms") && e.status == 200)
        .unwrap();
    assert_eq!(ok.body.as_ref().unwrap()["total_items"], 1);
}

#[tokio::test]
async fn callbacks_fire_for_expiry_and_meetings() {
    let (hook, received) = receiver().await;

    let api = Api::start().await;
    api.sim
        .set_application_callbacks(
            &api.creds.application_id,
            CallbackUrls {
                sessions_callback_url: Some(format!("{hook}/sessions")),
                ..CallbackUrls::default()
            },
        )
        .unwrap();
    let room = api
        .create_room(json!({"display_name": "cb", "callback_urls": {"rooms_callback_url": format!("{hook}/rooms")}}))
        .await;
    let room_id: uuid::Uuid = room["id"].as_str().unwrap().parse().unwrap();
    let session = api.sim.start_session(room_id).unwrap();
    api.sim.join_session(&session.id, "Ann", true).unwrap();
    api.sim.end_session(&session.id).unwrap();
    api.sim.advance_clock(SignedDuration::from_mins(11));
    assert!(api.sim.flush_callbacks(Duration::from_secs(5)).await);
    let events: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events,
        [
            "session:started",
            "session:participant:joined",
            "session:participant:left",
            "session:ended",
            "room:expired"
        ]
    );
    let (_, room) = api
        .send(reqwest::Method::GET, &format!("/rooms/{room_id}"), None)
        .await;
    assert_eq!(room["is_available"], false);
    assert_eq!(api.sim.counters().callbacks_delivered, 5);
}

#[tokio::test]
async fn control_endpoints_work_over_http() {
    let api = Api::start().await;
    let control = api.sim.control_url();
    let token: Value = api
        .http
        .get(format!("{control}/token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap();
    let resp = api
        .http
        .get(api.url("/dial-in-numbers"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        !resp
            .json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .is_empty()
    );

    let app: Value = api
        .http
        .post(format!("{control}/applications"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        app["private_key_pem"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );

    let fault = json!({"operation": "getDialInNumbers", "kind": {"type": "server_error", "status": 503}, "trigger": {"times": 1}});
    let resp = api
        .http
        .post(format!("{control}/faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = api
        .http
        .get(api.url("/dial-in-numbers"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);

    let counters: Value = api
        .http
        .get(format!("{control}/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["by_operation"]["getDialInNumbers"], 2);
    api.http
        .delete(format!("{control}/counters"))
        .send()
        .await
        .unwrap();
    let counters: Value = api
        .http
        .get(format!("{control}/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["total"], 0);

    let room = api.create_room(json!({"display_name": "clocked"})).await;
    let resp = api
        .http
        .post(format!("{control}/clock/advance"))
        .json(&json!({"seconds": 601}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let state: Value = api
        .http
        .get(format!("{control}/state/{}", api.creds.application_id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["rooms"][0]["id"], room["id"]);
    assert_eq!(state["rooms"][0]["expired"], true);
    let resp = api
        .http
        .patch(format!("{control}/behavior"))
        .json(&json!({"expired_rooms_report_available": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, room) = api
        .send(
            reqwest::Method::GET,
            &format!("/rooms/{}", room["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(room["is_available"], true);
}

#[tokio::test]
async fn malformed_input_gets_4xx_json() {
    let api = Api::start().await;
    let resp = api
        .http
        .post(api.url("/rooms"))
        .bearer_auth(token(&api.creds))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["name"],
        "BadRequestError"
    );
    for body in [json!([1, 2]), json!("x"), json!({"display_name": 5})] {
        let (status, err) = api.send(reqwest::Method::POST, "/rooms", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(err["name"], "InputValidationError");
    }
    let (status, _) = api.send(reqwest::Method::GET, "/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, err) = api
        .send(reqwest::Method::GET, "/sessions/abc/recordings", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        err["message"],
        "Failed to find session recordings by id: abc"
    );
    let (status, err) = api
        .send(reqwest::Method::GET, "/recordings/abc", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["message"], "Recording abc was not found");
}

/// The spec, as JSON, with the known-bad CallbackUrls pattern corrected.
fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/api/meetings-openapi.yaml"
    ))
    .unwrap();
    let mut spec: Value = serde_yaml::from_str(&text).unwrap();
    fn fix(value: &mut Value) {
        match value {
            Value::String(s) if s == "^https?:\\\\/\\\\/.*$" => *s = "^https?://.*$".into(),
            Value::Array(items) => items.iter_mut().for_each(fix),
            Value::Object(map) => map.values_mut().for_each(fix),
            _ => {}
        }
    }
    fix(&mut spec);
    spec
}

/// Response schemas by (operationId, status), each rooted with the spec's components.
fn response_schemas(spec: &Value) -> std::collections::HashMap<(String, u16), Value> {
    let mut schemas = std::collections::HashMap::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            for (status, response) in op["responses"].as_object().unwrap() {
                if let Some(schema) = response.pointer("/content/application~1json/schema") {
                    let mut rooted = schema.clone();
                    rooted["components"] = spec["components"].clone();
                    schemas.insert((id.to_string(), status.parse().unwrap()), rooted);
                }
            }
        }
    }
    schemas
}

#[tokio::test]
async fn every_response_matches_the_spec() {
    let api = Api::start().await;
    let get = reqwest::Method::GET;
    let (_, theme) = api
        .send(
            reqwest::Method::POST,
            "/themes",
            Some(json!({"main_color": "#abc", "brand_text": "B", "short_company_url": "co"})),
        )
        .await;
    let theme_id = theme["theme_id"].as_str().unwrap().to_string();
    api.send(reqwest::Method::GET, "/themes", None).await;
    api.send(get.clone(), &format!("/themes/{theme_id}"), None)
        .await;
    api.send(
        reqwest::Method::PATCH,
        &format!("/themes/{theme_id}"),
        Some(json!({"update_details": {"brand_text": "C"}})),
    )
    .await;
    let room = api
        .long_term_room(
            "all",
            json!({"theme_id": theme_id, "metadata": "m", "callback_urls": {"rooms_callback_url": "http://127.0.0.1:9/x"},
                   "recording_options": {"auto_record": false}, "available_features": {"is_chat_available": false}}),
        )
        .await;
    let room_id = room["id"].as_str().unwrap();
    api.create_room(json!({"display_name": "instant"})).await;
    api.send(get.clone(), "/rooms?page_size=1", None).await;
    api.send(get.clone(), &format!("/rooms/{room_id}"), None)
        .await;
    api.send(
        reqwest::Method::PATCH,
        &format!("/rooms/{room_id}"),
        Some(json!({"update_details": {"callback_urls": {"sessions_callback_url": "https://example.com"}}})),
    )
    .await;
    api.send(get.clone(), &format!("/themes/{theme_id}/rooms"), None)
        .await;
    api.send(get.clone(), "/dial-in-numbers", None).await;
    api.send(
        reqwest::Method::PATCH,
        "/applications",
        Some(json!({"update_details": {"default_theme_id": theme_id}})),
    )
    .await;
    let (_, forms) = api
        .send(get.clone(), "/themes/logos-upload-urls", None)
        .await;
    let form = &forms[0];
    let resp = api
        .http
        .post(form["url"].as_str().unwrap())
        .multipart(upload_form(&form["fields"], transparent_png(20, 20)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let key = form["fields"]["key"].as_str().unwrap();
    api.send(
        reqwest::Method::PUT,
        &format!("/themes/{theme_id}/finalizeLogos"),
        Some(json!({"keys": [key, "missing"]})),
    )
    .await;
    api.send(
        reqwest::Method::PUT,
        &format!("/themes/{theme_id}/finalizeLogos"),
        Some(json!({"keys": [key]})),
    )
    .await;
    api.send(get.clone(), &format!("/themes/{theme_id}"), None)
        .await;
    api.send(
        reqwest::Method::DELETE,
        &format!("/themes/{theme_id}"),
        None,
    )
    .await;

    let session = api.sim.start_session(room_id.parse().unwrap()).unwrap();
    let recording = api.sim.start_recording(&session.id).unwrap();
    api.sim.stop_recording(recording.id).unwrap();
    api.send(get.clone(), &format!("/recordings/{}", recording.id), None)
        .await;
    api.sim.upload_recording(recording.id).unwrap();
    api.send(get.clone(), &format!("/recordings/{}", recording.id), None)
        .await;
    api.send(
        get.clone(),
        &format!("/sessions/{}/recordings", session.id),
        None,
    )
    .await;
    api.send(
        reqwest::Method::DELETE,
        &format!("/recordings/{}", recording.id),
        None,
    )
    .await;

    let schemas = response_schemas(&spec());
    let room_schema =
        jsonschema::validator_for(&schemas[&("createRoom".to_string(), 201)]).unwrap();
    assert!(
        !room_schema.is_valid(&json!({"id": 5, "meeting_code": "12"})),
        "the validator must not be vacuous"
    );
    let mut covered = std::collections::BTreeSet::new();
    for exchange in api.sim.exchanges() {
        let Some(op) = exchange.operation_id.clone() else {
            continue;
        };
        let Some(schema) = schemas.get(&(op.clone(), exchange.status)) else {
            continue;
        };
        let body = exchange.body.clone().unwrap_or(Value::Null);
        let validator = jsonschema::validator_for(schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{op} {} {}: {errors:?}\n{body}",
            exchange.status,
            exchange.path
        );
        covered.insert((op, exchange.status));
    }
    let with_schema: std::collections::BTreeSet<_> = schemas.keys().cloned().collect();
    let missed: Vec<_> = with_schema.difference(&covered).collect();
    assert!(missed.is_empty(), "responses never exercised: {missed:?}");
}

#[tokio::test]
async fn every_fault_kind_behaves() {
    let api = Api::start().await;
    let app = api.creds.application_id.clone();
    let theme = json!({"main_color": "#fff", "brand_text": "B"});
    let faults = api.sim.faults();

    faults.add(FaultSpec::new("createTheme", FaultKind::DropBeforeCommit).times(1));
    let result = api
        .http
        .post(api.url("/themes"))
        .bearer_auth(token(&api.creds))
        .json(&theme)
        .send()
        .await;
    assert!(result.is_err());
    assert!(api.sim.themes(&app).is_empty(), "nothing was committed");

    faults.add(FaultSpec::new("createTheme", FaultKind::CommitThenBadGateway).times(1));
    let (status, _) = api
        .send(reqwest::Method::POST, "/themes", Some(theme.clone()))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(api.sim.themes(&app).len(), 1, "the create was committed");

    faults.add(FaultSpec::new("getThemes", FaultKind::Unauthorized).times(1));
    let (status, body) = api.send(reqwest::Method::GET, "/themes", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["title"], "Unauthorized");

    faults.add(
        FaultSpec::new(
            "getThemes",
            FaultKind::Latency {
                fixed_ms: 200,
                jitter_ms: 0,
            },
        )
        .times(1),
    );
    let started = std::time::Instant::now();
    let (status, _) = api.send(reqwest::Method::GET, "/themes", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(200));

    faults.set_error_rate(1.0);
    let (status, _) = api.send(reqwest::Method::GET, "/themes", None).await;
    assert!(status.is_server_error());
    faults.clear();

    faults.set_rate_limit(Some(meetings_simulator::RateLimit {
        per_second: 0.5,
        burst: Some(2),
        retry_after_secs: None,
    }));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let resp = api
            .http
            .get(api.url("/themes"))
            .bearer_auth(token(&api.creds))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = resp.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= 1);
        }
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    faults.clear();
}

#[tokio::test]
async fn duplicated_callbacks_arrive_twice() {
    let (base, received) = receiver().await;
    let hook = format!("{base}/hook");

    let api = Api::start().await;
    api.sim.update_behavior(|b| {
        b.duplicate_callbacks = true;
        b.recording_ready_event = meetings_simulator::RecordingReadyEvent::Uploaded;
    });
    let room = api
        .create_room(
            json!({"display_name": "dup", "callback_urls": {"recordings_callback_url": hook}}),
        )
        .await;
    let session = api
        .sim
        .start_session(room["id"].as_str().unwrap().parse().unwrap())
        .unwrap();
    let recording = api.sim.start_recording(&session.id).unwrap();
    api.sim.stop_recording(recording.id).unwrap();
    api.sim.advance_clock(SignedDuration::from_secs(31));
    assert!(api.sim.flush_callbacks(Duration::from_secs(5)).await);
    let events: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events,
        [
            "recording:started",
            "recording:started",
            "recording:ended",
            "recording:ended",
            "recording:uploaded",
            "recording:uploaded"
        ]
    );
    let ready = &received.lock().unwrap()[4];
    assert_eq!(ready["recording_id"], json!(recording.id));
    assert!(ready["url"].as_str().unwrap().starts_with("http://"));
    // Session events had no URL anywhere: skipped, not failed.
    let counters = api.sim.counters();
    assert_eq!(counters.callbacks_failed, 0);
    assert!(counters.callbacks_skipped >= 1);
}

/// A callback receiver on loopback: its base URL and the events it received, in order.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/{kind}",
        axum::routing::post(move |axum::Json(event): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(event);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (hook, received)
}

/// The rooms of a listing page, whichever `_embedded` shape it has.
fn embedded(page: &Value) -> Vec<Value> {
    let embedded = &page["_embedded"];
    embedded
        .as_array()
        .or_else(|| embedded["rooms"].as_array())
        .unwrap()
        .clone()
}

/// How many rooms `GET /rooms` and `GET /themes/{theme_id}/rooms` list (checked against
/// `total_items`).
async fn counts(api: &Api, theme_id: &str) -> (usize, usize) {
    let (_, all) = api.get("/rooms").await;
    let (_, themed) = api.get(&format!("/themes/{theme_id}/rooms")).await;
    assert_eq!(all["total_items"], embedded(&all).len());
    assert_eq!(themed["total_items"], embedded(&themed).len());
    (embedded(&all).len(), embedded(&themed).len())
}

fn timestamp(value: &Value) -> Timestamp {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn live_quirks_differ_from_the_spec_world() {
    for live in [false, true] {
        let behavior = if live {
            Behavior::live()
        } else {
            Behavior::default()
        };
        let api = Api::with_behavior(behavior).await;
        api.sim.freeze_clock(true);
        let (hook, received) = receiver().await;
        let (_, theme) = api
            .send(
                reqwest::Method::POST,
                "/themes",
                Some(json!({"main_color": "#fff", "brand_text": "B"})),
            )
            .await;
        let theme_id = theme["theme_id"].as_str().unwrap().to_string();
        let room = api
            .create_room(json!({"display_name": "quirks", "theme_id": theme_id,
                "callback_urls": {"sessions_callback_url": format!("{hook}/sessions"),
                                  "recordings_callback_url": format!("{hook}/recordings")}}))
            .await;
        let room_id = room["id"].as_str().unwrap();

        // Listings: page size type and where the theme listing's links point.
        let (_, page) = api.get("/rooms?page_size=5").await;
        assert_eq!(page["page_size"], if live { json!("5") } else { json!(5) });
        let (status, page) = api
            .get(&format!("/themes/{theme_id}/rooms?page_size=5"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["total_items"], 1);
        let host = api.sim.addr();
        let path = if live {
            format!("{host}/meetings/rooms")
        } else {
            format!("{host}/meetings/themes/{theme_id}/rooms")
        };
        for link in ["first", "self", "prev", "next"] {
            let href = page["_links"][link]["href"].as_str().unwrap();
            assert_eq!(href.split('?').next(), Some(path.as_str()), "{link}");
        }

        // A meeting with a recording, driven through the control API.
        let post = reqwest::Method::POST;
        let (_, session) = api
            .control(post.clone(), &format!("/rooms/{room_id}/sessions"), None)
            .await;
        let sid = session["id"].as_str().unwrap();
        let (_, ann) = api
            .control(
                post.clone(),
                &format!("/sessions/{sid}/participants"),
                Some(json!({"name": "Ann", "is_host": true})),
            )
            .await;
        let (_, rec) = api
            .control(post.clone(), &format!("/sessions/{sid}/recordings"), None)
            .await;
        let rec_id = rec["id"].as_str().unwrap();
        api.advance(90).await;
        let (status, _) = api
            .control(post.clone(), &format!("/recordings/{rec_id}/stop"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, err) = api
            .send(
                reqwest::Method::DELETE,
                &format!("/recordings/{rec_id}"),
                None,
            )
            .await;
        if live {
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_eq!(
                err,
                json!({"status": 404, "name": "NotFoundError",
                       "message": "Could not find recording", "errors": []})
            );
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(
                err,
                json!({"status": 403, "name": "ForbiddenError",
                       "message": "Can only delete recordings in 'uploaded' status", "errors": []})
            );
        }
        let (status, _) = api
            .control(post.clone(), &format!("/recordings/{rec_id}/upload"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = api
            .send(
                reqwest::Method::DELETE,
                &format!("/recordings/{rec_id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let ann_id = ann["id"].as_str().unwrap();
        let (status, _) = api
            .control(
                reqwest::Method::DELETE,
                &format!("/sessions/{sid}/participants/{ann_id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        assert!(api.sim.flush_callbacks(Duration::from_secs(5)).await);
        let events = received.lock().unwrap().clone();
        let names: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        let expected = if live {
            [
                "session:started",
                "participant:joined",
                "recording:started",
                "recording:ended",
                "recording:uploaded",
                "participant:left",
            ]
        } else {
            [
                "session:started",
                "session:participant:joined",
                "recording:started",
                "recording:ended",
                "recording:ready",
                "session:participant:left",
            ]
        };
        assert_eq!(names, expected);
        let durations: Vec<&Value> = events.iter().filter_map(|e| e.get("duration")).collect();
        let duration = if live { json!("90") } else { json!(90) };
        assert_eq!(durations, [&duration, &duration]);
    }
}

#[tokio::test]
async fn participants_keep_an_instant_room_alive() {
    let api = Api::start().await;
    let post = reqwest::Method::POST;
    let (status, _) = api
        .control(post.clone(), "/clock/freeze", Some(json!({"frozen": true})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let room = api.create_room(json!({"display_name": "busy"})).await;
    let id = room["id"].as_str().unwrap();
    let first_expiry = timestamp(&room["expires_at"]);
    let ten_minutes = SignedDuration::from_mins(10);

    let (_, session) = api
        .control(post.clone(), &format!("/rooms/{id}/sessions"), None)
        .await;
    let sid = session["id"].as_str().unwrap();
    api.advance(5 * 60).await;
    let (status, ann) = api
        .control(
            post.clone(),
            &format!("/sessions/{sid}/participants"),
            Some(json!({"name": "Ann"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ann}");

    // Well past the first expiry: alive, and the expiry slides with the clock.
    for _ in 0..3 {
        api.advance(20 * 60).await;
        let (status, got) = api.get(&format!("/rooms/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["is_available"], true);
        let expires = timestamp(&got["expires_at"]);
        assert!(expires > first_expiry);
        assert_eq!(expires, api.sim.now() + ten_minutes);
    }

    // The last participant leaves: ten more minutes, then the room expires.
    let left_at = api.sim.now();
    let ann_id = ann["id"].as_str().unwrap();
    let (status, _) = api
        .control(
            reqwest::Method::DELETE,
            &format!("/sessions/{sid}/participants/{ann_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    api.advance(599).await;
    let (_, got) = api.get(&format!("/rooms/{id}")).await;
    assert_eq!(got["is_available"], true);
    assert_eq!(timestamp(&got["expires_at"]), left_at + ten_minutes);
    api.advance(1).await;
    let (_, got) = api.get(&format!("/rooms/{id}")).await;
    assert_eq!(got["is_available"], false);
    assert_eq!(timestamp(&got["expires_at"]), left_at + ten_minutes);
    let (status, err) = api
        .control(
            post,
            &format!("/sessions/{sid}/participants"),
            Some(json!({"name": "Late"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
}

#[tokio::test]
async fn expired_rooms_stay_listed_unless_purged() {
    for live in [false, true] {
        let behavior = if live {
            Behavior::live()
        } else {
            Behavior::default()
        };
        let api = Api::with_behavior(behavior).await;
        api.sim.freeze_clock(true);
        let (_, theme) = api
            .send(
                reqwest::Method::POST,
                "/themes",
                Some(json!({"main_color": "#fff", "brand_text": "B"})),
            )
            .await;
        let theme_id = theme["theme_id"].as_str().unwrap().to_string();
        let instant = api
            .create_room(json!({"display_name": "instant", "theme_id": theme_id}))
            .await;
        let short_expiry = api.sim.now() + SignedDuration::from_mins(20);
        let short = api
            .create_room(json!({"display_name": "short", "type": "long_term",
                                "expires_at": short_expiry.to_string()}))
            .await;
        let kept = api
            .long_term_room("kept", json!({"theme_id": theme_id}))
            .await;
        let [instant, short, kept] = [&instant, &short, &kept].map(|r| r["id"].as_str().unwrap());
        // Purging off: expired rooms stay, reported available only by the live service.
        api.advance(21 * 60).await;
        for id in [instant, short] {
            let (status, room) = api.get(&format!("/rooms/{id}")).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(room["is_available"], live);
        }
        assert_eq!(counts(&api, &theme_id).await, (3, 2));
        let (status, err) = api
            .send(
                reqwest::Method::PATCH,
                &format!("/rooms/{short}"),
                Some(json!({"update_details": {"expire_after_use": true}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            err,
            json!({"status": 400, "name": "BadRequestError", "errors": [],
                   "message": format!("The room with id: {short} could not be updated")})
        );

        // Switched on at runtime: a room goes an hour after it expired, not before.
        let (status, body) = api
            .control(
                reqwest::Method::PATCH,
                "/behavior",
                Some(json!({"purge_expired_after_secs": 3600})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(api.sim.behavior().purge_expired_after_secs, Some(3600));
        // Now: instant expired 11 min ago, short 1 min ago.
        api.advance(49 * 60 - 1).await;
        assert_eq!(
            api.get(&format!("/rooms/{instant}")).await.0,
            StatusCode::OK
        );
        assert_eq!(counts(&api, &theme_id).await, (3, 2));
        api.advance(1).await;
        let (status, err) = api.get(&format!("/rooms/{instant}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            err,
            json!({"status": 404, "name": "NotFoundError", "message": "room not found", "errors": []})
        );
        assert_eq!(counts(&api, &theme_id).await, (2, 1));
        api.advance(10 * 60).await;
        assert_eq!(
            api.get(&format!("/rooms/{short}")).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(counts(&api, &theme_id).await, (1, 1));
        let (_, all) = api.get("/rooms").await;
        assert_eq!(embedded(&all)[0]["id"], kept);
        assert_eq!(api.sim.rooms(&api.creds.application_id).len(), 1);
    }
}

#[tokio::test]
async fn rooms_report_the_default_theme_when_switched_on() {
    let api = Api::start().await;
    let mut themes = Vec::new();
    for brand in ["Default", "Other"] {
        let (_, theme) = api
            .send(
                reqwest::Method::POST,
                "/themes",
                Some(json!({"main_color": "#fff", "brand_text": brand})),
            )
            .await;
        themes.push(theme["theme_id"].as_str().unwrap().to_string());
    }
    let [default, other] = [&themes[0], &themes[1]];
    let (status, _) = api
        .send(
            reqwest::Method::PATCH,
            "/applications",
            Some(json!({"update_details": {"default_theme_id": default}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let plain = api.create_room(json!({"display_name": "plain"})).await;
    let plain_path = format!("/rooms/{}", plain["id"].as_str().unwrap());
    let default_rooms = format!("/themes/{default}/rooms");
    assert!(plain.get("theme_id").is_none(), "{plain}");
    assert_eq!(api.get(&default_rooms).await.1["total_items"], 0);

    let switch = |on: bool| {
        api.control(
            reqwest::Method::PATCH,
            "/behavior",
            Some(json!({ "rooms_report_default_theme": on })),
        )
    };
    assert_eq!(switch(true).await.0, StatusCode::OK);
    assert_eq!(api.get(&plain_path).await.1["theme_id"], json!(default));
    let created = api.create_room(json!({"display_name": "new"})).await;
    assert_eq!(created["theme_id"], json!(default));
    let (_, all) = api.get("/rooms").await;
    assert!(
        embedded(&all)
            .iter()
            .all(|room| room["theme_id"] == json!(default))
    );
    assert_eq!(api.get(&default_rooms).await.1["total_items"], 2);

    // An explicit theme wins; removing it makes the room follow the default again.
    let lt = api.long_term_room("lt", json!({"theme_id": other})).await;
    assert_eq!(lt["theme_id"], json!(other));
    assert_eq!(
        api.get(&format!("/themes/{other}/rooms")).await.1["total_items"],
        1
    );
    let (status, lt) = api
        .send(
            reqwest::Method::PATCH,
            &format!("/rooms/{}", lt["id"].as_str().unwrap()),
            Some(json!({"update_details": {"theme_id": null}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lt}");
    assert_eq!(lt["theme_id"], json!(default));
    assert_eq!(api.get(&default_rooms).await.1["total_items"], 3);
    assert_eq!(
        api.get(&format!("/themes/{other}/rooms")).await.1["total_items"],
        0
    );

    assert_eq!(switch(false).await.0, StatusCode::OK);
    assert!(api.get(&plain_path).await.1.get("theme_id").is_none());
    assert_eq!(api.get(&default_rooms).await.1["total_items"], 0);
}
