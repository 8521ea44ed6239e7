//! Presigned storage upload forms: field generation and tamper-evident signatures.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::clock::format_ts;

/// Fields covered by the signature, in signing order.
pub const SIGNED_FIELDS: [&str; 9] = [
    "Content-Type",
    "key",
    "logoType",
    "bucket",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "Policy",
];

/// Name of the signature field.
pub const SIGNATURE_FIELD: &str = "X-Amz-Signature";

/// Builds the presigned form fields for one logo upload.
pub fn form_fields(
    secret: &[u8],
    bucket: &str,
    key: &str,
    logo_type: &str,
    now: Timestamp,
    expires: Timestamp,
) -> BTreeMap<String, String> {
    let date = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let day = now.strftime("%Y%m%d").to_string();
    let policy = json!({
        "expiration": format_ts(expires),
        "conditions": [
            {"Content-Type": "image/png"},
            {"key": key},
            {"logoType": logo_type},
            {"bucket": bucket},
            {"X-Amz-Algorithm": "AWS4-HMAC-SHA256"},
            {"X-Amz-Date": date},
        ],
    });
    let mut fields = BTreeMap::new();
    fields.insert("Content-Type".to_string(), "image/png".to_string());
    fields.insert("key".to_string(), key.to_string());
    fields.insert("logoType".to_string(), logo_type.to_string());
    fields.insert("bucket".to_string(), bucket.to_string());
    fields.insert(
        "X-Amz-Algorithm".to_string(),
        "AWS4-HMAC-SHA256".to_string(),
    );
    fields.insert(
        "X-Amz-Credential".to_string(),
        format!("ASIASIMULATOR000000/{day}/eu-west-1/s3/aws4_request"),
    );
    fields.insert("X-Amz-Date".to_string(), date);
    fields.insert(
        "X-Amz-Security-Token".to_string(),
        base64(uuid::Uuid::new_v4().as_bytes()),
    );
    fields.insert("Policy".to_string(), base64(policy.to_string().as_bytes()));
    let signature = sign(secret, &fields);
    fields.insert(SIGNATURE_FIELD.to_string(), signature);
    fields
}

/// Hex HMAC-SHA256 over the signed fields (missing ones count as empty).
pub fn sign(secret: &[u8], fields: &BTreeMap<String, String>) -> String {
    let mut message = String::new();
    for name in SIGNED_FIELDS {
        message.push_str(name);
        message.push('=');
        message.push_str(fields.get(name).map(String::as_str).unwrap_or(""));
        message.push('\n');
    }
    hex(&hmac_sha256(secret, message.as_bytes()))
}

/// Whether `fields` carry a signature matching their signed content.
pub fn verify(secret: &[u8], fields: &BTreeMap<String, String>) -> bool {
    let expected = sign(secret, fields);
    fields
        .get(SIGNATURE_FIELD)
        .is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn tampering_is_detected() {
        let now = Timestamp::now();
        let fields = form_fields(
            b"s3cret",
            "bucket",
            "auto-expiring-temp/logos/white/x",
            "white",
            now,
            now,
        );
        assert!(verify(b"s3cret", &fields));
        assert!(!verify(b"other", &fields));
        let mut changed = fields.clone();
        changed.insert("key".into(), "auto-expiring-temp/logos/white/y".into());
        assert!(!verify(b"s3cret", &changed));
        let mut unsigned = fields;
        unsigned.remove(SIGNATURE_FIELD);
        assert!(!verify(b"s3cret", &unsigned));
    }
}
