//! Slack request signing (v0): HMAC-SHA256 over `v0:{timestamp}:{raw body}`, compared in
//! constant time, refused outside a 300 s window so captured requests cannot be replayed.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const MAX_SKEW_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing X-Slack-Signature or X-Slack-Request-Timestamp")]
    Missing,
    #[error("timestamp outside the 300 s window")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// Checks one request. `now_secs` comes from the injected clock.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(VerifyError::Missing);
    };
    let ts_num: i64 = ts.trim().parse().map_err(|_| VerifyError::Missing)?;
    if (now_secs - ts_num).abs() > MAX_SKEW_SECS {
        return Err(VerifyError::Stale);
    }
    let expected = sig
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(VerifyError::Mismatch)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| VerifyError::Mismatch)?;
    mac.update(b"v0:");
    mac.update(ts.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| VerifyError::Mismatch)
}

/// Signs as Slack does; used by tests and local tooling.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's documented example, from ../shared/fixtures/slack/signature-known-answer.json.
    fn known_answer() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/slack/signature-known-answer.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!("missing fixture {path} ({e}); the tests need ../shared beside the repo")
        });
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn slacks_known_answer() {
        let ka = known_answer();
        let secret = ka["signing_secret"].as_str().unwrap().as_bytes();
        let ts = ka["timestamp"].as_str().unwrap();
        let body = ka["body"].as_str().unwrap().as_bytes();
        let sig = ka["expected_signature"].as_str().unwrap();
        let now: i64 = ts.parse().unwrap();
        assert_eq!(sign(secret, now, body), sig);
        assert_eq!(verify(secret, Some(ts), Some(sig), body, now + 299), Ok(()));
        // The example is years old: at any real "now" it is a replay.
        assert_eq!(
            verify(
                secret,
                Some(ts),
                Some(sig),
                body,
                chrono::Utc::now().timestamp()
            ),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(secret, Some(ts), Some(sig), body, now - 301),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn tampering_is_refused() {
        let ka = known_answer();
        let secret = ka["signing_secret"].as_str().unwrap().as_bytes();
        let ts = ka["timestamp"].as_str().unwrap();
        let sig = ka["expected_signature"].as_str().unwrap();
        let now: i64 = ts.parse().unwrap();
        let body = ka["body"]
            .as_str()
            .unwrap()
            .replace("text=", "text=declare");
        assert_eq!(
            verify(secret, Some(ts), Some(sig), body.as_bytes(), now),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"wrong", Some(ts), Some(sig), b"x", now),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(secret, None, Some(sig), b"x", now),
            Err(VerifyError::Missing)
        );
        assert_eq!(
            verify(secret, Some("abc"), Some(sig), b"x", now),
            Err(VerifyError::Missing)
        );
        assert_eq!(
            verify(secret, Some(ts), Some("v1=00"), b"x", now),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(secret, Some(ts), Some("v0=zz"), b"x", now),
            Err(VerifyError::Mismatch)
        );
    }
}
