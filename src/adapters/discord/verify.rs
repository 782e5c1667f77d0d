//! Discord HTTP interactions carry an Ed25519 signature over `timestamp + body`
//! (`X-Signature-Ed25519`, `X-Signature-Timestamp`); anything that does not verify gets 401.
//! sevbot also refuses timestamps outside a 300 s window so captured requests cannot be
//! replayed.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};

pub const MAX_SKEW_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing X-Signature-Ed25519 or X-Signature-Timestamp")]
    Missing,
    #[error("timestamp outside the 300 s window")]
    Stale,
    #[error("signature does not verify")]
    Mismatch,
}

/// The application's public key, from the hex string in the developer portal.
pub fn public_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .map_err(|e| format!("DISCORD_PUBLIC_KEY is not hex: {e}"))?
        .try_into()
        .map_err(|_| "DISCORD_PUBLIC_KEY must be 32 bytes (64 hex characters)".to_string())?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|e| format!("DISCORD_PUBLIC_KEY is not an Ed25519 key: {e}"))
}

pub fn verify(
    key: &VerifyingKey,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    let (Some(sig), Some(ts)) = (signature, timestamp) else {
        return Err(VerifyError::Missing);
    };
    let ts_num: i64 = ts.trim().parse().map_err(|_| VerifyError::Missing)?;
    if (now_secs - ts_num).abs() > MAX_SKEW_SECS {
        return Err(VerifyError::Stale);
    }
    let sig: [u8; 64] = hex::decode(sig.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(VerifyError::Mismatch)?;
    let mut msg = Vec::with_capacity(ts.len() + body.len());
    msg.extend_from_slice(ts.trim().as_bytes());
    msg.extend_from_slice(body);
    // ed25519-dalek's verification does not branch on secret data.
    key.verify(&msg, &Signature::from_bytes(&sig))
        .map_err(|_| VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn keys() -> (SigningKey, VerifyingKey) {
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        let vk = sk.verifying_key();
        (sk, vk)
    }

    #[test]
    fn signed_requests_verify_and_tampered_ones_do_not() {
        let (sk, vk) = keys();
        let ts = "1700000000";
        let body = br#"{"type":1}"#;
        let sig = hex::encode(sk.sign(&[ts.as_bytes(), body].concat()).to_bytes());
        assert_eq!(
            verify(&vk, Some(&sig), Some(ts), body, 1_700_000_100),
            Ok(())
        );
        assert_eq!(
            verify(&vk, Some(&sig), Some(ts), br#"{"type":2}"#, 1_700_000_100),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&vk, Some(&sig), Some("1700000001"), body, 1_700_000_100),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&vk, Some(&sig), Some(ts), body, 1_700_000_301),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(&vk, None, Some(ts), body, 1_700_000_000),
            Err(VerifyError::Missing)
        );
        assert_eq!(
            verify(&vk, Some("zz"), Some(ts), body, 1_700_000_000),
            Err(VerifyError::Mismatch)
        );
        let other = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        assert_eq!(
            verify(&other, Some(&sig), Some(ts), body, 1_700_000_000),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn public_keys_from_hex() {
        let (_, vk) = keys();
        assert_eq!(public_key(&hex::encode(vk.to_bytes())).unwrap(), vk);
        assert!(public_key("abc").unwrap_err().contains("not hex"));
        assert!(public_key("abcd").unwrap_err().contains("32 bytes"));
    }
}
