//! What a shard's stages report when the pipeline stops: one statistics field per stage,
//! merged field by field across shards.

use super::list::stage_list;

/// Generates [`ShardReport`] from the stage list.
macro_rules! shard_report {
    ($( ($id:ident, $field:ident, stage: $stage:ty, stats: $stats:ty $(, ring: $edge:ident $ring:ident: $msg:ty)?) ),* $(,)?) => {
        /// Everything one shard's stages report when the pipeline stops. Each stage fills
        /// its own field ([`crate::stages::Stage::report`]); shards merge field by field.
        #[derive(Default)]
        pub struct ShardReport {
            $(pub $field: $stats,)*
        }

        impl $crate::merge::Merge for ShardReport {
            fn merge(&mut self, other: &ShardReport) {
                $($crate::merge::Merge::merge(&mut self.$field, &other.$field);)*
            }
        }
    };
}

stage_list!(shard_report);
