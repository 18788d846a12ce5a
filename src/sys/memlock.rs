//! Locking the process's memory: every page mapped now and later is faulted in and kept
//! resident, so no page fault lands on the hot path (the latency issue's "pre-fault
//! and lock what the hot path uses").

/// `mlockall(MCL_CURRENT | MCL_FUTURE)`: pages mapped now are faulted in before it
/// returns, and every later mapping (a ring, a histogram, a book's growth) as it is
/// made. Fails without the privilege (`CAP_IPC_LOCK`) or beyond `RLIMIT_MEMLOCK`.
pub fn lock_all() -> std::io::Result<()> {
    // SAFETY: mlockall takes flags only and touches no memory of ours.
    let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
