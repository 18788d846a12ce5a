//! The session header (`session.json`): which config and which input a journal belongs
//! to. Written once, atomically; compared field by field when a journal is reopened.

use std::fs::{self, File};
use std::hash::Hasher;
use std::io::Write;
use std::path::Path;

use fnv::FnvHasher;

use super::error::JournalError;

/// The on-disk format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

pub const HEADER_FILE: &str = "session.json";
/// The header before its rename: a crash while writing leaves only this.
pub const HEADER_TMP: &str = "session.json.tmp";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionHeader {
    pub format_version: u32,
    /// [`stable_hash`] of the effective configuration.
    pub config_hash: u64,
    pub input: InputIdentity,
    pub shards: u32,
    /// When the journal was created; not compared on reopening.
    pub created_unix_ns: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputIdentity {
    /// "replay" or "live".
    pub kind: String,
    /// The input's length in bytes (0 for a live feed).
    pub len: u64,
    /// [`stable_hash`] of the input's bytes (or of a live feed's identity).
    pub hash: u64,
}

/// FNV-1a 64 of `bytes`: stable across builds and releases, so a hash written into a
/// journal compares with one computed by a later binary.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h = FnvHasher::default();
    h.write(bytes);
    h.finish()
}

impl SessionHeader {
    /// The first field that differs from `requested` (other than the creation time).
    pub fn mismatch(&self, requested: &SessionHeader) -> Option<JournalError> {
        let fields: [(&'static str, String, String); 6] = [
            (
                "format_version",
                self.format_version.to_string(),
                requested.format_version.to_string(),
            ),
            (
                "config_hash",
                format!("{:016x}", self.config_hash),
                format!("{:016x}", requested.config_hash),
            ),
            (
                "input.kind",
                self.input.kind.clone(),
                requested.input.kind.clone(),
            ),
            (
                "input.len",
                self.input.len.to_string(),
                requested.input.len.to_string(),
            ),
            (
                "input.hash",
                format!("{:016x}", self.input.hash),
                format!("{:016x}", requested.input.hash),
            ),
            (
                "shards",
                self.shards.to_string(),
                requested.shards.to_string(),
            ),
        ];
        fields
            .into_iter()
            .find(|(_, a, b)| a != b)
            .map(|(field, journal, requested)| JournalError::HeaderMismatch {
                field,
                journal,
                requested,
            })
    }

    /// Reads `dir/session.json`.
    pub fn read(dir: &Path) -> Result<SessionHeader, JournalError> {
        let path = dir.join(HEADER_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(JournalError::MissingHeader {
                    dir: dir.to_path_buf(),
                });
            }
            Err(e) => return Err(JournalError::io("reading", path, e)),
        };
        let header: SessionHeader =
            serde_json::from_str(&text).map_err(|e| JournalError::BadHeader {
                path: path.clone(),
                why: e.to_string(),
            })?;
        if header.format_version != FORMAT_VERSION {
            return Err(JournalError::UnknownFormat {
                found: header.format_version,
                supported: FORMAT_VERSION,
            });
        }
        Ok(header)
    }

    /// Writes `dir/session.json` atomically: a temporary file, fsync, rename, fsync of the
    /// directory, so a crash leaves either no header or the whole one.
    pub fn write(&self, dir: &Path) -> Result<(), JournalError> {
        let tmp = dir.join(HEADER_TMP);
        let path = dir.join(HEADER_FILE);
        let mut text = serde_json::to_string_pretty(self).map_err(|e| JournalError::BadHeader {
            path: path.clone(),
            why: e.to_string(),
        })?;
        text.push('\n');
        let mut file = File::create(&tmp).map_err(|e| JournalError::io("creating", &tmp, e))?;
        file.write_all(text.as_bytes())
            .map_err(|e| JournalError::io("writing", &tmp, e))?;
        file.sync_all()
            .map_err(|e| JournalError::io("syncing", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| JournalError::io("renaming", &tmp, e))?;
        sync_dir(dir)
    }
}

/// fsync of a directory: makes a file created or renamed in it survive power loss.
pub fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io("syncing directory", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn header() -> SessionHeader {
        SessionHeader {
            format_version: FORMAT_VERSION,
            config_hash: stable_hash(b"config"),
            input: InputIdentity {
                kind: "replay".into(),
                len: 10,
                hash: stable_hash(b"input"),
            },
            shards: 2,
            created_unix_ns: 1,
        }
    }

    #[test]
    fn stable_hash_is_fnv1a_64() {
        // The FNV-1a 64 test vectors: the offset basis and "a".
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn mismatch_names_the_field_and_both_values() {
        let a = header();
        let mut b = a.clone();
        b.created_unix_ns = 99;
        assert!(a.mismatch(&b).is_none(), "creation time is not identity");
        b.input.len = 11;
        let err = a.mismatch(&b).unwrap().to_string();
        assert_eq!(
            err,
            "journal was written for input.len = 10, this run has 11"
        );
    }
}
