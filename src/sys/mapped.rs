//! A file mapped shared and writable: the journal's segments (`crate::journal`).
//!
//! A store into a `MAP_SHARED` mapping is in the kernel's page cache once the store
//! retires, so it survives the process being killed (kill -9) without a syscall; `sync`
//! (msync `MS_SYNC`) puts a range on stable storage. The file's blocks are reserved with
//! `posix_fallocate` before it is mapped: a sparse file would take its blocks on the first
//! store into each page, and a full disk would then arrive as SIGBUS instead of an error.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// A whole file, mapped read-write and shared. Its length is fixed at creation.
#[derive(Debug)]
pub struct MappedFile {
    ptr: *mut u8,
    len: usize,
    // Kept open for `sync`'s fallback and so the mapping's file cannot be closed under it.
    _file: File,
}

// SAFETY: `MappedFile` owns its mapping exclusively (no other handle to `ptr` exists);
// moving it to another thread moves that ownership, as for a `Vec<u8>`.
unsafe impl Send for MappedFile {}

impl MappedFile {
    /// Creates `path` (which must not exist) with `len` bytes reserved on disk, zeroed, and
    /// maps it. A disk too full for `len` bytes fails here with `ENOSPC`.
    pub fn create(path: &Path, len: usize) -> io::Result<MappedFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        reserve(&file, len)?;
        MappedFile::map(file, len)
    }

    /// Maps an existing file, read-write, first growing it (reserved, zero-filled) to
    /// `min_len` bytes if it is shorter: a segment cut short by hand or by a filesystem
    /// repair is made whole again before the writer maps it.
    pub fn open(path: &Path, min_len: usize) -> io::Result<MappedFile> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let mut len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "segment too large"))?;
        if len < min_len {
            reserve(&file, min_len)?;
            len = min_len;
        }
        MappedFile::map(file, len)
    }

    fn map(file: File, len: usize) -> io::Result<MappedFile> {
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "an empty file cannot be mapped",
            ));
        }
        // SAFETY: a fresh mapping (address chosen by the kernel) of `len` bytes of an open
        // descriptor; nothing else refers to that address range yet. The file's length is
        // `len` (set by `posix_fallocate` or read from its metadata), so every mapped page
        // is backed. Another process truncating the file would make a later access fault:
        // a journal directory belongs to one engine at a time.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(MappedFile {
            ptr: ptr.cast(),
            len,
            _file: file,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole file's bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives, and the only
        // writes go through `&mut self`, so none happens while this borrow lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Copies `data` to `offset`. Panics if it would run past the end (a caller's bug:
    /// the journal checks the fit before every write).
    #[inline]
    pub fn write(&mut self, offset: usize, data: &[u8]) {
        assert!(
            offset <= self.len && data.len() <= self.len - offset,
            "write past the mapping"
        );
        // SAFETY: the range `offset..offset + data.len()` lies inside the mapping (checked
        // above), which is writable; `data` cannot overlap it, since `&mut self` is the only
        // way to reach the mapping.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(offset), data.len()) }
    }

    /// Zeroes `offset..` to the end of the file.
    pub fn zero_from(&mut self, offset: usize) {
        assert!(offset <= self.len, "zero past the mapping");
        // SAFETY: `offset..len` lies inside the writable mapping, reached only through
        // `&mut self`.
        unsafe { std::ptr::write_bytes(self.ptr.add(offset), 0, self.len - offset) }
    }

    /// Puts `offset..offset + len` on stable storage (msync `MS_SYNC` of the pages that
    /// hold it). A failure must not be retried: the kernel may have dropped the dirty
    /// pages it failed to write (the 2018 "fsyncgate" finding), so a retry can succeed
    /// while the data is gone.
    pub fn sync(&self, offset: usize, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "sync past the mapping"))?;
        let page = page_size();
        let start = offset - offset % page;
        // SAFETY: `start..end` lies inside our mapping and `start` is page-aligned, as
        // msync requires; msync reads no memory through the pointer.
        let rc = unsafe { libc::msync(self.ptr.add(start).cast(), end - start, libc::MS_SYNC) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Takes an exclusive advisory lock (`flock`) on `file`, without waiting: `Ok(false)`
/// when another open file description holds it. The kernel drops the lock when the
/// last descriptor closes, so a process killed with -9 never leaves it behind. The
/// journal locks its directory with it, so two engines never append to one journal.
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    // SAFETY: `file` is an open descriptor we own for the duration of the call; flock
    // touches no memory of ours.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.kind() == io::ErrorKind::WouldBlock {
        return Ok(false);
    }
    Err(err)
}

/// Reserves the file's first `len` bytes on disk (extending it, zero-filled, if shorter).
fn reserve(file: &File, len: usize) -> io::Result<()> {
    let off_len = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "segment too large"))?;
    // SAFETY: `file` is an open descriptor we own for the duration of the call.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, off_len) };
    if rc != 0 {
        // posix_fallocate returns the error number rather than setting errno.
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the system and touches no memory of ours.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are the mapping `map` made, unmapped once, here; no borrow of
        // it can outlive `self`. A failure (impossible for a valid mapping) is ignored:
        // drop cannot report it, and the stores already reached the page cache.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_reach_the_file() {
        let dir = std::env::temp_dir().join(format!("tickpipe-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.seg");
        let _ = std::fs::remove_file(&path);
        let mut m = MappedFile::create(&path, 8192).unwrap();
        assert_eq!(m.len(), 8192);
        assert!(m.bytes().iter().all(|&b| b == 0));
        m.write(4095, b"hello");
        m.sync(4095, 5).unwrap();
        drop(m);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 8192);
        assert_eq!(&bytes[4095..4100], b"hello");
        let mut m = MappedFile::open(&path, 0).unwrap();
        m.zero_from(4096);
        drop(m);
        assert_eq!(&std::fs::read(&path).unwrap()[4095..4097], b"h\0");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(10)
            .unwrap();
        let m = MappedFile::open(&path, 8192).unwrap();
        assert_eq!(m.len(), 8192, "a short file grows back to the minimum");
        assert_eq!(&m.bytes()[..6], b"\0\0\0\0\0\0");
        assert!(
            MappedFile::create(&path, 8192).is_err(),
            "create_new refuses an existing file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
