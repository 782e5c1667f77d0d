//! Slack request signing (v0): HMAC-SHA256 over `v0:{timestamp}:{raw body}`, checked by
//! the rule of Slack's own verifier (python-slack-sdk's `SignatureVerifier`, whose known
//! answer is in ../shared/fixtures): refused when the timestamp is more than 300 s from now,
//! measured to the millisecond, and unless the header equals `v0=` and the lower-case hex of
//! the MAC, compared in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

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

/// Checks one request. `now_ms` comes from the injected clock.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_ms: i64,
) -> Result<(), VerifyError> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(VerifyError::Missing);
    };
    let ts_secs: i64 = ts.parse().map_err(|_| VerifyError::Missing)?;
    let skew_ms = now_ms.saturating_sub(ts_secs.saturating_mul(1000));
    if skew_ms.saturating_abs() > MAX_SKEW_SECS * 1000 {
        return Err(VerifyError::Stale);
    }
    // The base string holds the header exactly as sent.
    let expected = sign_raw(secret, ts, body);
    match bool::from(expected.as_bytes().ct_eq(sig.as_bytes())) {
        true => Ok(()),
        false => Err(VerifyError::Mismatch),
    }
}

/// `v0=` and the lower-case hex of the MAC over `v0:{timestamp}:{body}`.
fn sign_raw(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Signs as Slack does; used by tests and local tooling.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    sign_raw(secret, &timestamp.to_string(), body)
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
        let ms = now * 1000;
        assert_eq!(
            verify(secret, Some(ts), Some(sig), body, ms + 299_000),
            Ok(())
        );
        // The example is years old: at any real "now" it is a replay.
        assert_eq!(
            verify(
                secret,
                Some(ts),
                Some(sig),
                body,
                chrono::Utc::now().timestamp_millis()
            ),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(secret, Some(ts), Some(sig), body, ms - 301_000),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn tampering_is_refused() {
        let ka = known_answer();
        let secret = ka["signing_secret"].as_str().unwrap().as_bytes();
        let ts = ka["timestamp"].as_str().unwrap();
        let sig = ka["expected_signature"].as_str().unwrap();
        let now: i64 = ts.parse::<i64>().unwrap() * 1000;
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

    /// Differential cases against Slack's rule (python-slack-sdk: `abs(time.time() - ts) >
    /// 300` is stale, the header must equal the lower-case hex signature exactly).
    #[test]
    fn boundaries_and_case_follow_slacks_own_verifier() {
        let ka = known_answer();
        let secret = ka["signing_secret"].as_str().unwrap().as_bytes();
        let ts = ka["timestamp"].as_str().unwrap();
        let body = ka["body"].as_str().unwrap().as_bytes();
        let sig = ka["expected_signature"].as_str().unwrap();
        let t: i64 = ts.parse::<i64>().unwrap() * 1000;
        let check = |s: &str, ts: &str, now: i64| verify(secret, Some(ts), Some(s), body, now);
        // Freshness: 300 s either way is the edge, measured in milliseconds.
        for (now, ok) in [
            (t, true),
            (t + 300_000, true),
            (t + 300_001, false),
            (t + 300_500, false),
            (t - 300_000, true),
            (t - 300_001, false),
        ] {
            let got = check(sig, ts, now);
            assert_eq!(got.is_ok(), ok, "now = ts {:+} ms: {got:?}", now - t);
        }
        // Case and form: exactly `v0=` and lower-case hex.
        let upper = format!("v0={}", sig[3..].to_ascii_uppercase());
        for (s, why) in [
            (upper.as_str(), "upper-case hex"),
            (&sig.replace("v0=", "V0="), "upper-case version"),
            (&format!(" {sig}"), "leading space"),
            (&format!("{sig} "), "trailing space"),
            (&sig[..sig.len() - 1], "one digit short"),
            (&format!("{sig}0"), "one digit long"),
            (&sig[3..], "no version"),
        ] {
            assert_eq!(check(s, ts, t), Err(VerifyError::Mismatch), "{why}");
        }
        // The timestamp is signed as sent: a padded header does not match.
        assert_eq!(check(sig, &format!(" {ts}"), t), Err(VerifyError::Missing));
        assert_eq!(check(sig, &format!("{ts}.0"), t), Err(VerifyError::Missing));
        assert_eq!(check(sig, &format!("+{ts}"), t), Err(VerifyError::Mismatch));
    }
}
