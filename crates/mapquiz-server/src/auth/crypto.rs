//! The cryptographic primitives of sign-in: random tokens, token hashes, the Better Auth cookie signature,
//! keyed hashes for backup codes, and the encryption of TOTP secrets at rest.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, KeyInit as _, Mac};
use rand::RngExt as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Characters of session tokens, OAuth states and PKCE verifiers drawn here.
const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Length of a session token (protocol §0.3).
pub const TOKEN_LEN: usize = 32;
/// Length of a Base64 HMAC-SHA256 signature.
pub const SIGNATURE_LEN: usize = 44;

/// `len` characters of `[A-Za-z0-9]` from the thread's CSPRNG.
pub fn random_alphanumeric(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())])).collect()
}

/// A random identifier for single-use values (OAuth state, pending second factor).
pub fn random_identifier() -> String {
    random_alphanumeric(32)
}

/// `N` random bytes from the thread's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    rand::rng().random()
}

/// Lower-case hex SHA-256: how session tokens are stored (never in clear).
pub fn sha256_hex(data: &str) -> String {
    hex(&Sha256::digest(data.as_bytes()))
}

/// Base64url (no padding) SHA-256: the PKCE S256 code challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The server's keys, all derived from the one configured secret.
pub struct Keys {
    /// The secret itself: Better Auth signs cookies with it directly, so imported sessions stay valid.
    cookie: Vec<u8>,
    /// Derived key for backup-code hashes.
    codes: Vec<u8>,
    /// Derived key for TOTP secrets at rest.
    totp: Key,
}

impl Keys {
    /// Derives every key from `secret`.
    pub fn new(secret: &SecretString) -> Self {
        let cookie = secret.expose_secret().as_bytes().to_vec();
        let totp = Key::from(hmac(&cookie, b"mapquiz totp secret encryption v1"));
        Keys { codes: hmac(&cookie, b"mapquiz backup codes v1").to_vec(), cookie, totp }
    }

    /// `base64(HMAC-SHA256(secret, value))`, as Better Auth signs its cookies.
    pub fn sign(&self, value: &str) -> String {
        STANDARD.encode(hmac(&self.cookie, value.as_bytes()))
    }

    /// `value.signature`, the signed form of a cookie value (before URL-encoding).
    pub fn signed(&self, value: &str) -> String {
        format!("{value}.{}", self.sign(value))
    }

    /// The value of `signed` (`value.signature`) when the signature is right (constant-time), else `None`.
    pub fn verify_signed<'a>(&self, signed: &'a str) -> Option<&'a str> {
        let (value, signature) = signed.rsplit_once('.')?;
        if signature.len() != SIGNATURE_LEN {
            return None;
        }
        let signature = STANDARD.decode(signature).ok()?;
        let mut mac = HmacSha256::new_from_slice(&self.cookie).ok()?;
        mac.update(value.as_bytes());
        mac.verify_slice(&signature).ok().map(|()| value)
    }

    /// Keyed hash of a backup code: a stolen database does not reveal the codes, even by brute force.
    pub fn code_hash(&self, code: &str) -> String {
        hex(&hmac(&self.codes, code.as_bytes()))
    }

    /// Encrypts a TOTP secret for storage: base64(nonce ‖ ciphertext).
    pub fn encrypt(&self, plaintext: &[u8]) -> anyhow::Result<String> {
        let nonce_bytes: [u8; 12] = random_bytes();
        let sealed = ChaCha20Poly1305::new(&self.totp)
            .encrypt(&Nonce::from(nonce_bytes), plaintext)
            .map_err(|_| anyhow::anyhow!("TOTP secret encryption failed"))?;
        Ok(STANDARD.encode([nonce_bytes.as_slice(), &sealed].concat()))
    }

    /// Decrypts what [`Keys::encrypt`] produced.
    pub fn decrypt(&self, stored: &str) -> anyhow::Result<Vec<u8>> {
        let bytes = STANDARD.decode(stored)?;
        anyhow::ensure!(bytes.len() > 12, "stored TOTP secret is truncated");
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into()?;
        ChaCha20Poly1305::new(&self.totp)
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| anyhow::anyhow!("stored TOTP secret does not decrypt with this server's secret"))
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(&SecretString::from("test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"))
    }

    #[test]
    fn tokens_are_alphanumeric_and_distinct() {
        let a = random_alphanumeric(TOKEN_LEN);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, random_alphanumeric(TOKEN_LEN));
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let k = keys();
        let signed = k.signed("abc");
        assert_eq!(signed.len(), 3 + 1 + SIGNATURE_LEN);
        assert_eq!(k.verify_signed(&signed), Some("abc"));
        assert_eq!(k.verify_signed(&signed.replace("abc", "abd")), None);
        assert_eq!(k.verify_signed("abc.short"), None);
        let other = Keys::new(&SecretString::from("another-secret-0123456789-abcdefghijklmnop"));
        assert_eq!(other.verify_signed(&signed), None);
    }

    #[test]
    fn a_known_signature() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), a published test vector.
        let k = Keys::new(&SecretString::from("key"));
        assert_eq!(
            k.sign("The quick brown fox jumps over the lazy dog"),
            "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
        );
    }

    #[test]
    fn pkce_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn encryption_round_trips_and_is_randomised() {
        let k = keys();
        let a = k.encrypt(b"secret").unwrap();
        assert_ne!(a, k.encrypt(b"secret").unwrap());
        assert_eq!(k.decrypt(&a).unwrap(), b"secret");
        assert!(keys_other().decrypt(&a).is_err());
    }

    fn keys_other() -> Keys {
        Keys::new(&SecretString::from("another-secret-0123456789-abcdefghijklmnop"))
    }

    #[test]
    fn token_hash_is_hex_sha256() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
