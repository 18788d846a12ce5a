//! Live input capture: what the live source applied, in sequence order after gap
//! recovery, kept as an ITCH file in NASDAQ's binary format (each message behind a
//! 2-byte big-endian length) so the session replays exactly with `run --input`.
//!
//! Each message is stored before it is routed to a shard, through a shared file mapping:
//! a store there is in the kernel's page cache once it retires, so the capture survives
//! kill -9 with no syscall per message, and no decision can ever rest on input the
//! capture lacks. The file's blocks are reserved ahead of the writes
//! ([`MappedFile`]): a full disk fails the growth with an error, never a store with
//! SIGBUS. The reservation grows in [`GROWTH`] steps; a clean finish cuts the file to
//! the bytes written, and a file left by a crash ends in zeros, which
//! [`Capture::captured_len`] finds the end of.
//!
//! Where messages were given up, the capture holds the source's stale notice
//! (`codec::notice`, a tickpipe-private type byte any other ITCH reader skips), in order
//! with the data, so a replay marks every symbol stale at the same point the live
//! session did.

use std::io;
use std::path::{Path, PathBuf};

use crate::codec::itch::PREFIX_LEN;
use crate::sys::mapped::MappedFile;

/// The capture's name in a journal directory (`run --live FILE --journal DIR`).
pub const CAPTURE_FILE: &str = "input.itch";

/// Bytes reserved at a time: 64 MiB, one growth (an unmap, a `posix_fallocate` and a new
/// mapping) per ~2.3 M messages of about 27 bytes, the sample session's mean.
pub const GROWTH: usize = 64 << 20;

/// The capture file being written.
#[derive(Debug)]
pub struct Capture {
    path: PathBuf,
    map: Option<MappedFile>,
    /// Bytes of whole messages written; the next message goes here.
    written: usize,
    growth: usize,
    messages: u64,
}

impl Capture {
    /// Creates the capture at `path`, which must not exist: a capture is one session's.
    pub fn create(path: &Path) -> io::Result<Capture> {
        Capture::with_growth(path, GROWTH)
    }

    fn with_growth(path: &Path, growth: usize) -> io::Result<Capture> {
        let map = MappedFile::create(path, growth)?;
        Ok(Capture {
            path: path.to_path_buf(),
            map: Some(map),
            written: 0,
            growth,
            messages: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Messages written so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Bytes written so far: the capture file's length once finished.
    pub fn bytes(&self) -> u64 {
        self.written as u64
    }

    /// Appends one message (at most `u16::MAX` bytes, as every ITCH message is). An
    /// error leaves the capture unusable: the caller stops the session.
    #[inline]
    pub fn append(&mut self, msg: &[u8]) -> io::Result<()> {
        let len = u16::try_from(msg.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "message longer than 65535 bytes",
            )
        })?;
        let need = PREFIX_LEN + msg.len();
        let at = self.written;
        let map = self.mapping_for(need)?;
        map.write(at, &len.to_be_bytes());
        map.write(at + PREFIX_LEN, msg);
        self.written += need;
        self.messages += 1;
        Ok(())
    }

    /// The mapping, grown first if `need` more bytes do not fit.
    #[inline]
    fn mapping_for(&mut self, need: usize) -> io::Result<&mut MappedFile> {
        let fits = self
            .map
            .as_ref()
            .is_some_and(|m| m.len() - self.written >= need);
        if !fits {
            self.grow(need)?;
        }
        self.map
            .as_mut()
            .ok_or_else(|| io::Error::other("the capture failed earlier"))
    }

    #[cold]
    fn grow(&mut self, need: usize) -> io::Result<()> {
        let old = self
            .map
            .take()
            .ok_or_else(|| io::Error::other("the capture failed earlier"))?;
        let len = old.len() + self.growth.max(need);
        // Unmapped before the file grows: one mapping of the file at a time.
        drop(old);
        self.map = Some(MappedFile::open(&self.path, len)?);
        Ok(())
    }

    /// Cuts the file to the bytes written and puts it on stable storage; returns its
    /// length.
    pub fn finish(mut self) -> io::Result<u64> {
        if let Some(map) = self.map.take() {
            map.sync(0, self.written)?;
        }
        let file = std::fs::OpenOptions::new().write(true).open(&self.path)?;
        file.set_len(self.written as u64)?;
        file.sync_all()?;
        Ok(self.written as u64)
    }

    /// The length of the whole messages at the start of `bytes`: a capture left by a
    /// crash is followed by reserved zeros (no ITCH message has length 0) or, if the
    /// process died mid-store, by a partial message.
    pub fn captured_len(bytes: &[u8]) -> usize {
        let mut at = 0;
        while let Some(prefix) = bytes.get(at..at + PREFIX_LEN) {
            let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
            if len == 0 || bytes.len() - at - PREFIX_LEN < len {
                break;
            }
            at += PREFIX_LEN + len;
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tickpipe-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn writes_nasdaq_framing_across_growths_and_finishes_at_the_written_length() {
        let path = temp("grow.itch");
        let mut c = Capture::with_growth(&path, 4096).unwrap();
        let mut expected = Vec::new();
        for i in 0..1000u32 {
            let msg = vec![b'A'; 20 + (i % 17) as usize];
            c.append(&msg).unwrap();
            expected.extend_from_slice(&(msg.len() as u16).to_be_bytes());
            expected.extend_from_slice(&msg);
        }
        assert_eq!(c.messages(), 1000);
        assert_eq!(c.finish().unwrap(), expected.len() as u64);
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }

    #[test]
    fn a_capture_left_by_a_crash_ends_at_its_last_whole_message() {
        let path = temp("crash.itch");
        let mut c = Capture::with_growth(&path, 4096).unwrap();
        c.append(b"S12345678901").unwrap();
        c.append(b"ABCDEFGH").unwrap();
        let written = c.bytes() as usize;
        // Dropped without finish, as kill -9 would leave it: the reservation's zeros follow.
        drop(c);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 4096);
        assert_eq!(Capture::captured_len(&bytes), written);
        // A store cut short: a length prefix whose message is not all there.
        let mut torn = bytes[..written].to_vec();
        torn.extend_from_slice(&[0, 30, b'A', b'B']);
        assert_eq!(Capture::captured_len(&torn), written);
    }

    #[test]
    fn refuses_an_existing_file() {
        let path = temp("exists.itch");
        std::fs::write(&path, b"x").unwrap();
        assert_eq!(
            Capture::create(&path).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
    }
}
