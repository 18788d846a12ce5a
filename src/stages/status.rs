//! Where risk answers an operator's status request (`tickpipe ctl status`), off the hot
//! path.
//!
//! The request travels to each shard over its control ring ([`super::Control::Status`]),
//! so it is read between batches like a halt and never races the shard's own state:
//! risk copies its report into the shard's slot here, and the control server, on its own
//! thread, waits for every slot to carry the request's number. A shard that does not
//! answer in time is reported as not answering, which is its health.

use super::ShardReport;
use crate::sys::sync::Mutex;

/// One slot per shard, each holding the latest answer and the request it answers.
pub struct StatusBoard {
    slots: Vec<Mutex<Option<(u64, ShardReport)>>>,
}

impl StatusBoard {
    pub fn new(shards: usize) -> StatusBoard {
        StatusBoard {
            slots: (0..shards).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Risk's answer to request `request`. Allocates (the report's rows): only an
    /// operator's request reaches it.
    pub fn post(&self, shard: usize, request: u64, report: ShardReport) {
        self.slots[shard].with(|slot| *slot = Some((request, report)));
    }

    /// The shard's answer to `request`, if it has posted it.
    pub fn take(&self, shard: usize, request: u64) -> Option<ShardReport> {
        self.slots[shard].with(|slot| match slot.take() {
            Some((r, report)) if r == request => Some(report),
            other => {
                *slot = other;
                None
            }
        })
    }

    pub fn shards(&self) -> usize {
        self.slots.len()
    }
}
