//! Password hashing with argon2id, off the async threads and bounded: each hash holds `memory_kib` of RAM,
//! so at most one hash per core runs at a time and the rest wait their turn instead of exhausting memory.

use crate::config::Argon2Params;
use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Hashes and verifies passwords.
pub struct Hasher {
    argon: Argon2<'static>,
    permits: Arc<Semaphore>,
    /// A hash of a random password with the same cost: verified when the account has no password, so that
    /// unknown emails take as long as wrong passwords.
    dummy: String,
}

impl Hasher {
    /// A hasher with these costs; computes its dummy hash (one hash at start-up).
    pub async fn new(params: Argon2Params) -> anyhow::Result<Self> {
        let p = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let mut hasher = Hasher {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, p),
            permits: Arc::new(Semaphore::new(cores)),
            dummy: String::new(),
        };
        hasher.dummy = hasher.hash(&crate::auth::crypto::random_alphanumeric(24)).await?;
        Ok(hasher)
    }

    /// The PHC string (`$argon2id$v=19$m=…`) of `password` with a fresh salt.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let argon = self.argon.clone();
        let password = password.to_owned();
        self.blocking(move || {
            let salt = SaltString::encode_b64(&crate::auth::crypto::random_bytes::<16>())
                .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
            argon
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))
        })
        .await
    }

    /// Whether `password` matches `phc`; with `None` (no such account, or no password on it) a dummy hash
    /// is verified and the answer is `false`, in about the same time.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> anyhow::Result<bool> {
        let argon = self.argon.clone();
        let password = password.to_owned();
        let known = phc.is_some();
        let phc = phc.unwrap_or(&self.dummy).to_owned();
        self.blocking(move || {
            let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
            // The stored hash carries its own parameters, so older costs keep verifying after a change.
            Ok(argon.verify_password(password.as_bytes(), &parsed).is_ok() && known)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self.permits.clone().acquire_owned().await.context("hasher closed")?;
        tokio::task::spawn_blocking(work).await.context("hashing task failed")?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_match() {
        let h = Hasher::new(Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 }).await.unwrap();
        let phc = h.hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(h.verify("correct horse", Some(&phc)).await.unwrap());
        assert!(!h.verify("wrong horse", Some(&phc)).await.unwrap());
        assert!(!h.verify("correct horse", None).await.unwrap());
        assert_ne!(phc, h.hash("correct horse").await.unwrap(), "salted");
    }
}
