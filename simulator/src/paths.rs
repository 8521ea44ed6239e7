//! Where the simulator serves what: the API's base paths, the control and
//! storage prefixes, and the operation id a request addresses.

use axum::http::Method;

/// Base paths the API is served under.
pub const API_BASES: [&str; 3] = ["/v1/meetings", "/beta/meetings", "/meetings"];
/// Prefix of the simulator's control endpoints.
pub const CONTROL_PREFIX: &str = "/_sim";
/// Prefix of the simulated storage service.
pub const STORAGE_PREFIX: &str = "/_storage";

/// Every operation id the simulator serves (the spec's, plus storage).
pub const OPERATION_IDS: [&str; 19] = [
    "getRooms",
    "createRoom",
    "getRoom",
    "updateRoom",
    "getRecording",
    "deleteRecording",
    "getSessionRecordings",
    "getDialInNumbers",
    "getThemes",
    "createTheme",
    "getThemeById",
    "deleteTheme",
    "updateTheme",
    "finalizeLogosForTheme",
    "getUploadUrlsForTheme",
    "getRoomsByThemeId",
    "updateApplication",
    "storageUpload",
    "storageDownload",
];

/// The operation id a request addresses, if any route serves it.
pub fn operation_id(method: &Method, path: &str) -> Option<&'static str> {
    if let Some(rest) = path.strip_prefix(STORAGE_PREFIX) {
        let segments: Vec<&str> = rest.trim_start_matches('/').splitn(2, '/').collect();
        return match (method.as_str(), segments.as_slice()) {
            ("POST", [bucket]) if !bucket.is_empty() => Some("storageUpload"),
            ("GET", [_, key]) if !key.is_empty() => Some("storageDownload"),
            _ => None,
        };
    }
    let rest = API_BASES
        .iter()
        .find_map(|base| path.strip_prefix(base).filter(|r| r.starts_with('/')))?;
    let segments: Vec<&str> = rest[1..].split('/').collect();
    let op = match (method.as_str(), segments.as_slice()) {
        ("GET", ["rooms"]) => "getRooms",
        ("POST", ["rooms"]) => "createRoom",
        ("GET", ["rooms", _]) => "getRoom",
        ("PATCH", ["rooms", _]) => "updateRoom",
        ("GET", ["recordings", _]) => "getRecording",
        ("DELETE", ["recordings", _]) => "deleteRecording",
        ("GET", ["sessions", _, "recordings"]) => "getSessionRecordings",
        ("GET", ["dial-in-numbers"]) => "getDialInNumbers",
        ("GET", ["themes"]) => "getThemes",
        ("POST", ["themes"]) => "createTheme",
        ("GET", ["themes", "logos-upload-urls"]) => "getUploadUrlsForTheme",
        ("GET", ["themes", _]) => "getThemeById",
        ("DELETE", ["themes", _]) => "deleteTheme",
        ("PATCH", ["themes", _]) => "updateTheme",
        ("PUT", ["themes", _, "finalizeLogos"]) => "finalizeLogosForTheme",
        ("GET", ["themes", _, "rooms"]) => "getRoomsByThemeId",
        ("PATCH", ["applications"]) => "updateApplication",
        _ => return None,
    };
    let has_empty = segments.iter().any(|s| s.is_empty());
    (!has_empty).then_some(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_match_the_spec() {
        let spec: serde_yaml::Value = serde_yaml::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../api/meetings-openapi.yaml"
            ))
            .unwrap(),
        )
        .unwrap();
        let paths = spec["paths"].as_mapping().unwrap();
        let mut seen = Vec::new();
        for (path, item) in paths {
            let path = path.as_str().unwrap();
            let concrete: String = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "abc123" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            for (method, op) in item.as_mapping().unwrap() {
                let method = method.as_str().unwrap();
                let Some(expected) = op.get("operationId").and_then(|v| v.as_str()) else {
                    continue;
                };
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                for base in API_BASES {
                    assert_eq!(
                        operation_id(&method, &format!("{base}{concrete}")),
                        Some(expected),
                        "{method} {base}{concrete}"
                    );
                }
                seen.push(expected.to_string());
            }
        }
        for op in &seen {
            assert!(OPERATION_IDS.contains(&op.as_str()), "{op}");
        }
        assert_eq!(seen.len(), OPERATION_IDS.len() - 2);
    }

    #[test]
    fn classification_edges() {
        assert_eq!(operation_id(&Method::DELETE, "/v1/meetings/rooms/x"), None);
        assert_eq!(operation_id(&Method::GET, "/meetingsx/rooms"), None);
        assert_eq!(operation_id(&Method::GET, "/v1/meetings/rooms/"), None);
        assert_eq!(
            operation_id(&Method::POST, "/_storage/bucket"),
            Some("storageUpload")
        );
        assert_eq!(
            operation_id(&Method::GET, "/_storage/bucket/logos/white/x"),
            Some("storageDownload")
        );
        assert_eq!(operation_id(&Method::GET, "/_sim/counters"), None);
    }
}
