//! Fixed-size stand-ins for the string keys of sets that hold one entry per
//! room: 16 bytes in place of a string of 40 to 100.
//!
//! A digest is the first 128 bits of SHA-256 over the key's parts, each
//! followed by a 0 byte (no part of a Kubernetes name or uid contains one).
//! Two keys share a digest with the odds of two random UUIDs being equal,
//! and no one can pick a name to match another's.

use sha2::{Digest, Sha256};

/// The digest of the key made of `parts`.
pub fn key_digest(parts: &[&str]) -> u128 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let mut first = [0; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_kept_apart() {
        assert_eq!(key_digest(&["a", "b"]), key_digest(&["a", "b"]));
        assert_ne!(key_digest(&["a", "b"]), key_digest(&["ab", ""]));
        assert_ne!(key_digest(&["a/b"]), key_digest(&["a", "b"]));
        assert_ne!(key_digest(&["a"]), key_digest(&["b"]));
    }
}
