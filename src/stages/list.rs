//! The stage list: the pipeline's stages, in order, declared once.
//!
//! Everything that has one entry per stage or per stage boundary is generated from
//! `stage_list!`: the shard report (here, in the stages layer, since it names only
//! stage types) and, in the runtime, `StageId`, the stage-boundary `EdgeKind`s and
//! `EdgeKind::after`, a shard's stage and ring slots with the ring-creation arms, and
//! the runner launch arms. The runtime sits above the stages, so it may use the list;
//! the list names only stage and message types, so it can live here.

/// Calls the macro `$then` with the stages in pipeline order, one row each:
///
/// ```text
/// (Id, field, stage: StageType, stats: StatsType, ring: EdgeKindVariant ring_field: Message)
/// ```
///
/// - `Id` becomes the `StageId` variant; `field` is the stage's name in topology files,
///   reports and histograms (it must equal the stage's `Stage::NAME`), and its field in
///   `ShardReport` and in a shard's stage slots.
/// - `stage` is the stage's type. `Risk` takes the shard's report source as `R` and
///   `Inference` the model as `M`; the runtime's stage slots are generic over both.
/// - `stats` is what the stage reports (`Stage::report` fills `ShardReport.field`); it
///   needs `Default` and [`Merge`](crate::merge::Merge) (declare it with `stats!`).
/// - `ring` is the ring after the stage, used when the next stage runs on another runner:
///   its `EdgeKind` variant, its name in topology files (the variant in kebab case), and
///   the message it carries (the stage's `Out`). The last stage has none: its output is
///   the venue ring.
///
/// Adding a stage is one row here plus the stage itself (its `Stage` impl and statistics
/// type). What the list cannot say, the compiler asks for: its constructor in
/// `ShardParts::stages` in `runtime::pipeline` (where a shard's stages are built, with
/// their config section), and that config section in `runtime::config::Config` if it
/// has one; the topology files place it like any other stage. Every generated launch arm is a concrete chain type
/// (nested `Link`s, monomorphised, no `dyn`).
macro_rules! stage_list {
    ($then:ident) => {
        $then! {
            (
                Decode, decode,
                stage: $crate::stages::decode::Decode,
                stats: $crate::stages::decode::DecodeStats,
                ring: Market market: $crate::msg::MarketEvent
            ),
            (
                Features, features,
                stage: $crate::stages::features::FeatureStage,
                stats: $crate::stages::features::FeatureStats,
                ring: Features features: $crate::msg::Features
            ),
            (
                Inference, inference,
                stage: $crate::stages::inference::Inference<M>,
                stats: $crate::stages::inference::InferenceStats,
                ring: Signals signals: $crate::msg::Signal
            ),
            (
                Risk, risk,
                stage: $crate::stages::risk::Risk<R>,
                stats: $crate::stages::risk::RiskStats,
                ring: Orders orders: $crate::msg::VenueCommand
            ),
            (
                Routing, routing,
                stage: $crate::stages::routing::Routing,
                stats: $crate::stages::routing::RoutingStats
            ),
        }
    };
}

pub(crate) use stage_list;
