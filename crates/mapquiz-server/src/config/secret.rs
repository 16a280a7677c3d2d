//! The signing secret: the configured one, or outside production one generated once and kept in a file
//! beside the database so that sessions survive restarts.

use super::AuthSecret;
use rand::RngExt as _;
use secrecy::SecretString;
use std::io::{self, Write};
use std::path::Path;

/// Bytes of randomness in a generated secret (hex-encoded in the file).
const GENERATED_BYTES: usize = 48;

/// The secret to sign with, reading or creating the secret file when none is configured.
pub fn resolve(secret: &AuthSecret) -> io::Result<SecretString> {
    match secret {
        AuthSecret::Configured(s) => Ok(s.clone()),
        AuthSecret::File(path) => load_or_create(path),
    }
}

fn load_or_create(path: &Path) -> io::Result<SecretString> {
    match std::fs::read_to_string(path) {
        Ok(existing) if existing.trim().len() >= 32 => return Ok(SecretString::from(existing.trim().to_owned())),
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} holds no usable secret; delete it to generate a new one", path.display()),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let bytes: [u8; GENERATED_BYTES] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(hex.as_bytes())?;
            file.sync_all()?;
            tracing::warn!(
                path = %path.display(),
                "no auth secret configured: generated one and kept it beside the database; set BETTER_AUTH_SECRET in production"
            );
            Ok(SecretString::from(hex))
        }
        // Another process created it between our read and our create: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => load_or_create(path),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("mapquiz.secret");
        let first = resolve(&AuthSecret::File(path.clone())).unwrap();
        let second = resolve(&AuthSecret::File(path.clone())).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_eq!(first.expose_secret().len(), GENERATED_BYTES * 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_truncated_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mapquiz.secret");
        std::fs::write(&path, "short").unwrap();
        assert!(resolve(&AuthSecret::File(path.clone())).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short");
    }
}
