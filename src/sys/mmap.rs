//! Read-only file mapping for zero-copy replay.

use std::fs::File;
use std::io;

/// A read-only view of a whole file.
pub struct MappedFile {
    map: memmap2::Mmap,
}

impl MappedFile {
    /// Maps `file` read-only. Empty files are an error: there is nothing to replay and
    /// `mmap` refuses a zero length.
    pub fn map(file: &File) -> io::Result<MappedFile> {
        if file.metadata()?.len() == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "file is empty"));
        }
        // SAFETY: the mapping is read-only and private to this process. The one hazard
        // is another process truncating or rewriting the file while it is mapped, which
        // would raise SIGBUS or change bytes under us; replay inputs are recorded files
        // that nothing writes while we read them (stated in the README).
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(file)? };
        // Replay reads front to back once: ask for aggressive read-ahead. Advisory; a
        // kernel that ignores it costs only speed.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(MappedFile { map })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }
}
