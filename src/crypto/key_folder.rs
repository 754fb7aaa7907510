//! The keys folder: one PKCS #8 PEM file and one small JSON record per key. Every node that
//! reads the same folder sees the same keys and, at the same time, picks the same one to
//! sign with. Files must be private to the server's user (mode 0600).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::signing_key::KeyError;
use super::{MAX_TOKEN_LIFETIME, SigningAlg, SigningKey};

const PEM_LABEL: &str = "PRIVATE KEY";

/// When a key is published, when it starts signing, and when it was retired.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyMeta {
    pub kid: String,
    pub alg: SigningAlg,
    pub created_at: DateTime<Utc>,
    /// Published from creation; signs from this time (rotation's pre-publication delay).
    pub active_from: DateTime<Utc>,
    /// No longer signs; stays in the JWKS until every token it signed has expired.
    pub retired_at: Option<DateTime<Utc>>,
}

/// Where a key is in its life, at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not yet signing.
    Pending,
    /// The newest active key of its algorithm: signs new tokens.
    Signing,
    /// A newer key signs now; this one stays published for the tokens it signed.
    Superseded,
    /// Retired but still published until its tokens expire.
    Retired,
    /// Retired long enough ago that no token it signed is still valid; not published.
    Expired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Signing => "signing",
            Self::Superseded => "superseded",
            Self::Retired => "retired",
            Self::Expired => "expired",
        }
    }

    pub fn is_published(self) -> bool {
        !matches!(self, Self::Expired)
    }
}

impl KeyMeta {
    pub fn is_usable_at(&self, now: DateTime<Utc>) -> bool {
        self.retired_at.is_none() && self.active_from <= now
    }

    pub fn is_published_at(&self, now: DateTime<Utc>) -> bool {
        self.retired_at
            .is_none_or(|at| now < at + Duration::from_std(MAX_TOKEN_LIFETIME).unwrap_or_default())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFolderError {
    #[error("{0}")]
    Unsafe(String),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The keys folder on disk.
#[derive(Debug, Clone)]
pub struct KeyFolder {
    dir: PathBuf,
}

impl KeyFolder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every key in the folder with its record, in name order. Refuses files that other
    /// users could read: a leaked signing key lets anyone mint tokens.
    pub fn load(&self) -> Result<Vec<(KeyMeta, SigningKey)>, KeyFolderError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| io(&self.dir, &e))?;
        let mut metas = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io(&self.dir, &e))?;
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "json") {
                metas.push(path);
            }
        }
        metas.sort();
        let mut keys = Vec::with_capacity(metas.len());
        for meta_path in metas {
            let pem_path = meta_path.with_extension("pem");
            check_private(&meta_path)?;
            check_private(&pem_path)?;
            let meta: KeyMeta =
                serde_json::from_slice(&std::fs::read(&meta_path).map_err(|e| io(&meta_path, &e))?)
                    .map_err(|e| {
                        KeyFolderError::Io(format!(
                            "{} is not a key record: {e}",
                            meta_path.display()
                        ))
                    })?;
            let pem = std::fs::read(&pem_path).map_err(|e| io(&pem_path, &e))?;
            let (label, der) = pem_rfc7468::decode_vec(&pem).map_err(|e| {
                KeyFolderError::Io(format!("{} is not a PEM file: {e}", pem_path.display()))
            })?;
            if label != PEM_LABEL {
                return Err(KeyFolderError::Io(format!(
                    "{} holds a {label}, expected a {PEM_LABEL}",
                    pem_path.display()
                )));
            }
            let key = SigningKey::from_pkcs8(meta.kid.clone(), meta.alg, &der)?;
            keys.push((meta, key));
        }
        Ok(keys)
    }

    /// Makes and saves a new key that starts signing at `active_from`.
    pub fn create(
        &self,
        alg: SigningAlg,
        now: DateTime<Utc>,
        active_from: DateTime<Utc>,
    ) -> Result<KeyMeta, KeyFolderError> {
        let kid = new_kid(alg, now)?;
        let (_, der) = SigningKey::generate(kid.clone(), alg)?;
        let pem = pem_rfc7468::encode_string(PEM_LABEL, pem_rfc7468::LineEnding::LF, &der)
            .map_err(|e| KeyFolderError::Io(format!("could not encode key: {e}")))?;
        let meta = KeyMeta {
            kid: kid.clone(),
            alg,
            created_at: now,
            active_from,
            retired_at: None,
        };
        // The PEM first: a record without its key would be unreadable.
        write_private(&self.dir.join(format!("{kid}.pem")), pem.as_bytes())?;
        self.save(&meta)?;
        Ok(meta)
    }

    /// Writes a key's record (atomically: a temporary file renamed into place).
    pub fn save(&self, meta: &KeyMeta) -> Result<(), KeyFolderError> {
        let json = serde_json::to_vec_pretty(meta)
            .map_err(|e| KeyFolderError::Io(format!("could not encode key record: {e}")))?;
        write_private(&self.dir.join(format!("{}.json", meta.kid)), &json)
    }
}

fn new_kid(alg: SigningAlg, now: DateTime<Utc>) -> Result<String, KeyFolderError> {
    let mut random = [0u8; 4];
    getrandom::fill(&mut random)
        .map_err(|e| KeyFolderError::Io(format!("no random source: {e}")))?;
    Ok(format!(
        "{}-{}-{}",
        alg.as_str().to_ascii_lowercase(),
        now.format("%Y%m%d"),
        hex::encode(random)
    ))
}

fn check_private(path: &Path) -> Result<(), KeyFolderError> {
    let mode = std::fs::metadata(path)
        .map_err(|e| io(path, &e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(KeyFolderError::Unsafe(format!(
            "{} can be read by other users (mode {:o}); run `chmod 600` on it",
            path.display(),
            mode & 0o777
        )));
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyFolderError> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io(&tmp, &e))?;
    file.write_all(bytes).map_err(|e| io(&tmp, &e))?;
    file.sync_all().map_err(|e| io(&tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, &e))
}

fn io(path: &Path, e: &std::io::Error) -> KeyFolderError {
    KeyFolderError::Io(format!("{}: {e}", path.display()))
}
