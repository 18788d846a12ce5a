//! Where a shard's segments live and what they are called:
//! `shard-<k>/<first-seq, 20 digits>.seg`, so names sort in sequence order.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::JournalError;

pub fn shard_dir(dir: &Path, shard: usize) -> PathBuf {
    dir.join(format!("shard-{shard}"))
}

pub fn segment_path(shard_dir: &Path, first_seq: u64) -> PathBuf {
    shard_dir.join(format!("{first_seq:020}.seg"))
}

/// The shard's segments, `(first sequence number, path)`, in sequence order; none if the
/// shard's directory does not exist. Files not ending in `.seg` are not the journal's and
/// are left alone; a `.seg` whose name is not a sequence number is an error.
pub fn list(dir: &Path, shard: usize) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let sd = shard_dir(dir, shard);
    let entries = match fs::read_dir(&sd) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(JournalError::io("listing", sd, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| JournalError::io("listing", &sd, e))?
            .path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".seg"))
        else {
            continue;
        };
        let first = stem
            .parse::<u64>()
            .ok()
            .filter(|&s| s >= 1 && stem.len() == 20)
            .ok_or_else(|| JournalError::Corrupt {
                shard,
                segment: path.clone(),
                offset: 0,
                why: "segment name is not a 20-digit sequence number".into(),
            })?;
        out.push((first, path));
    }
    out.sort();
    Ok(out)
}
