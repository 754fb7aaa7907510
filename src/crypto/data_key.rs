//! The data key: one 256-bit AES-GCM key in the keys folder, shared by every node, that seals
//! secrets the database must hold for a while (queued email links now, authenticator secrets
//! later), so a copy of the database alone reveals none of them.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::KeyFolderError;

/// The file name inside the keys folder.
pub const DATA_KEY_FILE: &str = "data.key";

/// Sealed values start with this, so a future key or format can be told apart.
const PREFIX: &str = "v1.";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the sealed value is damaged or was sealed with another data key")]
    Damaged,
    #[error("the system random number generator failed")]
    Random,
}

/// The loaded key; cheap to clone.
#[derive(Clone)]
pub struct DataKey {
    key: Arc<LessSafeKey>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// Loads the key from `dir`, creating it on first start. Only one of several nodes
    /// starting together creates it; the others read what it wrote.
    pub fn open(dir: &Path) -> Result<Self, KeyFolderError> {
        let path = dir.join(DATA_KEY_FILE);
        if !path.exists() {
            create(&path)?;
        }
        let mode = std::fs::metadata(&path)
            .map_err(|e| io(&path, &e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyFolderError::Unsafe(format!(
                "{} can be read by other users (mode {:o}); run `chmod 600` on it",
                path.display(),
                mode & 0o777
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, &e))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                KeyFolderError::Io(format!("{} is not a 256-bit data key", path.display()))
            })?;
        Self::from_bytes(&bytes)
            .ok_or_else(|| KeyFolderError::Io(format!("{}: unusable data key", path.display())))
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(Self {
            key: Arc::new(LessSafeKey::new(key)),
        })
    }

    /// Encrypts `plain`, bound to `context` (a row id, say), so a sealed value copied to
    /// another row does not open.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut data = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Decrypts a value made by [`DataKey::seal`] with the same `context`.
    pub fn open_sealed(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SealError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SealError::Damaged)?;
        let mut data = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Damaged)?;
        if data.len() < NONCE_LEN {
            return Err(SealError::Damaged);
        }
        let mut in_out = data.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&data).map_err(|_| SealError::Damaged)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| SealError::Damaged)?;
        Ok(plain.to_vec())
    }
}

/// Writes a fresh key beside `path` and links it into place only if nobody else has.
fn create(path: &Path) -> Result<(), KeyFolderError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| KeyFolderError::Io("the random number generator failed".to_owned()))?;
    let tmp: PathBuf = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io(&tmp, &e))?;
    let written = file
        .write_all(URL_SAFE_NO_PAD.encode(bytes).as_bytes())
        .and_then(|()| file.sync_all());
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        // Another node created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(path, &e)),
    }
}

fn io(path: &Path, e: &std::io::Error) -> KeyFolderError {
    KeyFolderError::Io(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_context_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = DataKey::open(dir.path()).unwrap();
        let sealed = key.seal(b"https://example/reset/abc", "row-1").unwrap();
        assert!(!sealed.contains("abc"));
        assert_eq!(
            key.open_sealed(&sealed, "row-1").unwrap(),
            b"https://example/reset/abc"
        );
        assert!(key.open_sealed(&sealed, "row-2").is_err());
        let again = DataKey::open(dir.path()).unwrap();
        assert!(
            again.open_sealed(&sealed, "row-1").is_ok(),
            "reloads the same key"
        );
        let other = DataKey::open(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.open_sealed(&sealed, "row-1").is_err());
    }
}
