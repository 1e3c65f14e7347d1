//! The key that encrypts secrets at rest: AES-256-GCM (RustCrypto's
//! `aes-gcm`), a random 96-bit nonce per value stored before the
//! ciphertext, and associated data that names what the value is (a
//! namespace and a secret's name, an execution), so that a ciphertext moved
//! to another row does not decrypt.
//!
//! The key is given by the caller (the server reads `MORTAR_SECRET_KEY`) or
//! kept in the data dir's key file, `secret.key`, created with mode 0600 at
//! first open. Written once under a temporary name, synced, then renamed, so
//! a crash never leaves half a key.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::secret::Secret;

/// The key file's name inside the data dir.
pub const KEY_FILE: &str = "secret.key";
/// Where a rotation writes the new key before the database changes; see
/// [`crate::store::Store::rotate_key`].
pub const NEW_KEY_FILE: &str = "secret.key.new";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{from}: {reason}")]
    Malformed { from: String, reason: String },
    #[error("cannot read the secret key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the secret key file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a value does not decrypt with this key (wrong key, or the value was changed)")]
    Open,
}

/// 32 bytes of AES-256 key. `Debug` prints `******`. Kept as a plain
/// array: generic-array's slice constructors are deprecated.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("******")
    }
}

impl SecretKey {
    /// A new random key, from the operating system's generator.
    pub fn generate() -> Self {
        Self(Aes256Gcm::generate_key(OsRng).into())
    }

    /// A key from its base64 text; `from` names where the text came from
    /// (an environment variable, a file), for the error.
    pub fn from_base64(text: &str, from: &str) -> Result<Self, KeyError> {
        let malformed = |reason: String| KeyError::Malformed {
            from: from.to_owned(),
            reason,
        };
        let bytes = STANDARD.decode(text.trim()).map_err(|_| {
            malformed(
                "not base64: give the base64 of 32 random bytes (`openssl rand -base64 32`)".into(),
            )
        })?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            malformed(format!(
                "{} bytes once decoded; AES-256 needs 32 (`openssl rand -base64 32`)",
                bytes.len()
            ))
        })?;
        Ok(Self(bytes))
    }

    /// The key as base64 text, to print or to write in the key file.
    pub fn to_base64(&self) -> Secret {
        Secret::new(STANDARD.encode(self.0))
    }

    /// The nonce, then the ciphertext and its tag.
    pub(crate) fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let cipher = Aes256Gcm::new(&self.0.into());
        // Encryption fails only past 64 GiB of plaintext.
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: associated,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// What [`SecretKey::seal`] made, with the same associated data.
    pub(crate) fn open(&self, associated: &[u8], sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(KeyError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| KeyError::Open)?;
        Aes256Gcm::new(&self.0.into())
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: body,
                    aad: associated,
                },
            )
            .map_err(|_| KeyError::Open)
    }

    /// Reads a key file; `None` when there is none.
    pub fn read_file(path: &Path) -> Result<Option<Self>, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text, &path.display().to_string()).map(Some),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the key to `path`, mode 0600: whole under a temporary name,
    /// synced, then renamed over `path`.
    pub fn write_file(&self, path: &Path) -> Result<(), KeyError> {
        let write_error = |source| KeyError::Write {
            path: path.to_owned(),
            source,
        };
        let temporary = path.with_extension("tmp");
        let _ = std::fs::remove_file(&temporary);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(write_error)?;
        file.write_all(format!("{}\n", self.to_base64().expose()).as_bytes())
            .map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        drop(file);
        std::fs::rename(&temporary, path).map_err(write_error)?;
        if let Some(dir) = path.parent().and_then(|dir| std::fs::File::open(dir).ok()) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_with_the_same_key_and_associated_data_only() {
        let key = SecretKey::generate();
        let sealed = key.seal(b"ns\0A", b"hunter2");
        assert_eq!(sealed.len(), NONCE_LEN + 7 + TAG_LEN);
        assert_ne!(
            sealed,
            key.seal(b"ns\0A", b"hunter2"),
            "a fresh nonce each time"
        );
        assert_eq!(key.open(b"ns\0A", &sealed).unwrap(), b"hunter2");
        assert!(
            key.open(b"ns\0B", &sealed).is_err(),
            "moved to another secret"
        );
        assert!(
            SecretKey::generate().open(b"ns\0A", &sealed).is_err(),
            "another key"
        );
        assert!(key.open(b"ns\0A", &sealed[..10]).is_err());
    }

    #[test]
    fn base64_round_trip_and_bad_keys_name_their_origin() {
        let key = SecretKey::generate();
        let again = SecretKey::from_base64(key.to_base64().expose(), "X").unwrap();
        assert_eq!(again.open(b"", &key.seal(b"", b"v")).unwrap(), b"v");
        let short = SecretKey::from_base64(&STANDARD.encode([1u8; 16]), "MORTAR_SECRET_KEY")
            .unwrap_err()
            .to_string();
        assert!(short.starts_with("MORTAR_SECRET_KEY: 16 bytes"), "{short}");
        let junk = SecretKey::from_base64("not base64!", "MORTAR_SECRET_KEY")
            .unwrap_err()
            .to_string();
        assert!(junk.contains("MORTAR_SECRET_KEY: not base64"), "{junk}");
        assert_eq!(format!("{key:?}"), "******");
    }

    #[test]
    fn key_file_is_written_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        assert!(SecretKey::read_file(&path).unwrap().is_none());
        let key = SecretKey::generate();
        key.write_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let read = SecretKey::read_file(&path).unwrap().unwrap();
        assert_eq!(read.to_base64(), key.to_base64());
    }
}
