//! The highest IB order id a shard's venue has used, kept in the shard's journal
//! directory (`shard-<k>/ibkr-order-ids`) so that a restarted run starts above it:
//! after a Gateway restart IB's `nextValidId` can go back to an id we used today, and
//! IB answers a reused id with error 103 (issue #11: the id is the larger of
//! `nextValidId` and the journal's highest + 1).
//!
//! Why a file of its own and not a record in the shard's journal: the journal has one
//! writer, risk, on the shard's thread, and risk never sees IB's ids; the venue picks
//! them, on the venue's thread, just before `placeOrder`.
//!
//! Write-ahead, like the journal: the id is written before the order goes out, with one
//! `pwrite` of 12 bytes at offset 0 (the id in decimal, padded to 11 places, and a
//! newline), so the file always holds one whole id. The page cache holds it when the
//! call returns: it survives kill -9 but not a power loss (the journal's `process`
//! policy). IB takes at most 50 messages a second, so a syscall per order is nothing
//! beside IB's own milliseconds.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::events::IbOrderId;

/// The file's name in the shard's journal directory.
pub const FILE: &str = "ibkr-order-ids";

/// Bytes of one record: 11 digits (an `i32` is at most 10, with room for a sign) and a
/// newline.
const WIDTH: usize = 12;

/// The open log of one venue.
#[derive(Debug)]
pub struct IdLog {
    file: File,
    path: PathBuf,
}

impl IdLog {
    /// Opens the log in `shard_dir` (creating it on a first run); returns it and the
    /// highest id it holds, if any. A file that does not hold one whole id is an error
    /// naming it: starting from a guess could reuse an id.
    pub fn open(shard_dir: &Path) -> Result<(IdLog, Option<IbOrderId>), String> {
        let path = shard_dir.join(FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let highest = if text.is_empty() {
            None
        } else {
            let id = text
                .strip_suffix('\n')
                .filter(|_| text.len() == WIDTH)
                .and_then(|t| t.trim_start().parse::<IbOrderId>().ok())
                .ok_or_else(|| {
                    format!(
                        "{}: {text:?} is not an IB order id (one number, then a newline)",
                        path.display()
                    )
                })?;
            Some(id)
        };
        Ok((IdLog { file, path }, highest))
    }

    /// Records `id` as the highest used, before the order carrying it is sent.
    pub fn record(&mut self, id: IbOrderId) -> Result<(), String> {
        // Digits written right to left into the buffer: no allocation per order.
        let mut line = [b' '; WIDTH];
        line[WIDTH - 1] = b'\n';
        let mut rest = i64::from(id).unsigned_abs();
        let mut at = WIDTH - 1;
        loop {
            at -= 1;
            line[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if id < 0 {
            line[at - 1] = b'-';
        }
        self.file.write_all_at(&line, 0).map_err(|e| {
            format!(
                "{}: cannot record IB order id {id}: {e}",
                self.path.display()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tickpipe-id-log-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_highest_id_recorded_is_read_back_by_the_next_run() {
        let dir = dir("roundtrip");
        let (mut log, highest) = IdLog::open(&dir).unwrap();
        assert_eq!(highest, None);
        for id in [9, 10, 123_456] {
            log.record(id).unwrap();
        }
        drop(log);
        let text = std::fs::read_to_string(dir.join(FILE)).unwrap();
        assert_eq!(text, "     123456\n");
        assert_eq!(IdLog::open(&dir).unwrap().1, Some(123_456));
        let (mut log, _) = IdLog::open(&dir).unwrap();
        log.record(IbOrderId::MAX).unwrap();
        assert_eq!(IdLog::open(&dir).unwrap().1, Some(IbOrderId::MAX));
        let (mut log, _) = IdLog::open(&dir).unwrap();
        log.record(IbOrderId::MIN).unwrap();
        assert_eq!(IdLog::open(&dir).unwrap().1, Some(IbOrderId::MIN));
    }

    #[test]
    fn a_file_without_one_whole_id_is_an_error_naming_it() {
        let dir = dir("torn");
        std::fs::write(dir.join(FILE), "12").unwrap();
        let err = IdLog::open(&dir).unwrap_err();
        assert!(err.contains(FILE) && err.contains("\"12\""), "{err}");
        let missing = dir.join("no-such-shard");
        let err = IdLog::open(&missing).unwrap_err();
        assert!(err.contains("cannot open"), "{err}");
    }
}
