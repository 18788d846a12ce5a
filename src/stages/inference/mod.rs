//! Stage 3, inference: features → a score and a target position per symbol.
//!
//! The model is a type parameter ([`Model`]), not a trait object: the stage is
//! monomorphised over it, so scoring the linear model inlines to five multiply-adds with
//! no indirect call. [`LinearModel`] is the built-in one; a user's own type plugs in by
//! implementing [`Model`] and handing the engine a factory
//! (`runtime::builder::Engine::model`). The config's `[model] kind` names which one runs.
//! [`onnx`] runs a trained policy from an ONNX file (`kind = "onnx"`); the binary picks
//! between the linear and ONNX models at start-up through [`builtin::BuiltIn`].
//!
//! The target policy has hysteresis (enter above `enter_threshold`, leave only below
//! `exit_threshold`) so a score hovering at one threshold does not flip the target, and
//! with it an order, on every tick.

pub mod builtin;
pub mod onnx;

use serde::Deserialize;

use crate::config::Problems;
use crate::merge::Merge;
use crate::msg::{FeatureVector, Features, Signal, SymbolId};
use crate::stages::ShardReport;
use crate::stages::Stage;
use crate::stages::risk::config::MAX_ORDER_QTY;
use crate::sys::edge::Emit;
use onnx::OnnxConfig;

/// What turns a symbol's features into a score; the configured [`TargetPolicy`] turns
/// the score into a target position.
///
/// One instance per shard, on that shard's thread: `&mut self` lets a model keep its own
/// per-symbol state (indexed by `features.view.symbol`) without locks. It sees every
/// `Features` message of the symbols its shard owns, in event time, whether the book is
/// two-sided or not, so it can follow prints and one-sided books too.
pub trait Model: Send + 'static {
    /// The `[model] kind` that selects this model.
    const KIND: &'static str;

    /// Every `[model] kind` this model runs: a model that chooses among several at
    /// start-up ([`builtin::BuiltIn`]) lists each.
    const KINDS: &'static [&'static str] = &[Self::KIND];

    /// Positive: the model expects the price to rise. `None`: no opinion (the target
    /// stays where it was, and the features count as `unscored`).
    fn score(&mut self, features: &Features) -> Option<f32>;
}

/// What a model factory is given to build one shard's model.
#[derive(Clone, Copy, Debug)]
pub struct ModelSetup<'a> {
    /// Symbols are `SymbolId(0..universe_len)`.
    pub universe_len: usize,
    /// The symbols this shard owns: the only ones it will see.
    pub owned: &'a [SymbolId],
    pub config: &'a ModelConfig,
}

/// `bias + Σ weight × feature`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct LinearModel {
    pub bias: f32,
    /// One weight per feature, in [`FeatureVector`]'s field order.
    pub weights: FeatureVector,
}

impl LinearModel {
    /// The linear combination itself.
    #[inline]
    pub fn value(&self, x: &FeatureVector) -> f32 {
        let w = &self.weights;
        self.bias
            + w.microprice_bps * x.microprice_bps
            + w.spread_bps * x.spread_bps
            + w.imbalance * x.imbalance
            + w.volatility_bps * x.volatility_bps
            + w.trade_flow * x.trade_flow
    }
}

impl Model for LinearModel {
    const KIND: &'static str = "linear";

    /// Scores two-sided books only: a one-sided book's microprice and spread are not
    /// defined.
    #[inline]
    fn score(&mut self, features: &Features) -> Option<f32> {
        features
            .view
            .is_two_sided()
            .then(|| self.value(&features.values))
    }
}

/// `[model.weights]`: one weight per feature.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsConfig {
    pub microprice_bps: f32,
    pub spread_bps: f32,
    pub imbalance: f32,
    pub volatility_bps: f32,
    pub trade_flow: f32,
}

/// `[model]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Which model runs: the [`Model::KIND`] of the model plugged into the engine
    /// (`"linear"` for the built-in one).
    pub kind: String,
    /// The linear model's intercept; only for `kind = "linear"`, and required there.
    pub bias: Option<f32>,
    /// The linear model's weights; only for `kind = "linear"`, and required there.
    pub weights: Option<WeightsConfig>,
    /// `[model.onnx]`: only for `kind = "onnx"`, and required there.
    pub onnx: Option<OnnxConfig>,
    /// A score above this (below its negative) sets a long (short) target.
    pub enter_threshold: f32,
    /// A score whose magnitude is below this sets a flat target; `0 ≤ exit ≤ enter`.
    pub exit_threshold: f32,
    /// Shares in a long or short target; positive.
    pub target_qty: i32,
}

impl ModelConfig {
    /// Reports every invalid value with its key; `kind` must be one of `kinds`, those
    /// of the model that will run.
    pub fn validate(&self, kinds: &[&str], p: &mut Problems<'_>) {
        p.check(
            kinds.contains(&self.kind.as_str()),
            "kind",
            format!(
                "unknown model kind {:?}; the model plugged in runs {}",
                self.kind,
                kinds
                    .iter()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        );
        // The keys are checked for the kind named, or for the model's first kind when it
        // names none the model runs.
        let kind = match kinds.iter().find(|&&k| k == self.kind) {
            Some(k) => *k,
            None => kinds.first().copied().unwrap_or_default(),
        };
        let linear = kind == LinearModel::KIND;
        let onnx = kind == onnx::OnnxModel::<onnx::NativeMlp>::KIND;
        let mut floats = Vec::new();
        match (self.bias, linear) {
            (Some(bias), true) => floats.push(("bias", bias)),
            (None, true) => p.add("bias", "required for kind \"linear\""),
            (Some(_), false) => p.add("bias", "only kind \"linear\" has a bias"),
            (None, false) => {}
        }
        match (&self.weights, linear) {
            (Some(w), true) => floats.extend([
                ("weights.microprice_bps", w.microprice_bps),
                ("weights.spread_bps", w.spread_bps),
                ("weights.imbalance", w.imbalance),
                ("weights.volatility_bps", w.volatility_bps),
                ("weights.trade_flow", w.trade_flow),
            ]),
            (None, true) => p.add("weights", "required for kind \"linear\""),
            (Some(_), false) => p.add("weights", "only kind \"linear\" has weights"),
            (None, false) => {}
        }
        match (&self.onnx, onnx) {
            (Some(o), true) => o.validate(
                self.enter_threshold,
                self.exit_threshold,
                &mut p.nested("onnx"),
            ),
            (None, true) => p.add("onnx", "required for kind \"onnx\""),
            (Some(_), false) => p.add("onnx", "only kind \"onnx\" has [model.onnx]"),
            (None, false) => {}
        }
        floats.extend([
            ("enter_threshold", self.enter_threshold),
            ("exit_threshold", self.exit_threshold),
        ]);
        for (key, v) in floats {
            p.check(v.is_finite(), key, format!("{v} is not a finite f32"));
        }
        p.check(
            self.exit_threshold >= 0.0,
            "exit_threshold",
            format!("{} must be at least 0", self.exit_threshold),
        );
        p.check(
            self.exit_threshold <= self.enter_threshold,
            "exit_threshold",
            format!(
                "{} must not exceed enter_threshold ({})",
                self.exit_threshold, self.enter_threshold
            ),
        );
        p.check(
            (1..=MAX_ORDER_QTY as i32).contains(&self.target_qty),
            "target_qty",
            format!(
                "{}: use 1 to {MAX_ORDER_QTY} (an order to reach the target is at most \
                 max_order_qty, itself at most {MAX_ORDER_QTY})",
                self.target_qty
            ),
        );
    }

    /// The linear model the keys describe.
    ///
    /// # Panics
    /// If `bias` or `weights` is missing, which [`ModelConfig::validate`] rejects for
    /// kind `"linear"`.
    pub fn linear(&self) -> LinearModel {
        let (Some(bias), Some(w)) = (self.bias, &self.weights) else {
            panic!("model: kind \"linear\" needs bias and weights; validate the config first");
        };
        LinearModel {
            bias,
            weights: FeatureVector {
                microprice_bps: w.microprice_bps,
                spread_bps: w.spread_bps,
                imbalance: w.imbalance,
                volatility_bps: w.volatility_bps,
                trade_flow: w.trade_flow,
            },
        }
    }

    pub fn policy(&self) -> TargetPolicy {
        TargetPolicy {
            enter: self.enter_threshold,
            exit: self.exit_threshold,
            qty: self.target_qty,
        }
    }
}

/// Score → target, with hysteresis.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct TargetPolicy {
    pub enter: f32,
    /// `0 ≤ exit ≤ enter`.
    pub exit: f32,
    /// Positive.
    pub qty: i32,
}

impl TargetPolicy {
    /// The next target given the previous one. A NaN score fails every comparison and so
    /// keeps the previous target: no information, no change.
    #[inline]
    pub fn next(&self, score: f32, previous: i32) -> i32 {
        if score > self.enter {
            self.qty
        } else if score < -self.enter {
            -self.qty
        } else if score.abs() < self.exit {
            0
        } else {
            previous
        }
    }
}

crate::stats! {
    /// Counters, merged across shards.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct InferenceStats {
        /// Signals emitted (one per `Features`).
        pub signals: u64,
        /// Features the model did not score (the linear model: a book not two-sided).
        pub unscored: u64,
        /// Times a symbol's target changed to long, short or flat.
        pub long_targets: u64,
        pub short_targets: u64,
        pub flat_targets: u64,
    }
}

/// The inference stage: one model, one target per symbol.
pub struct Inference<M: Model = LinearModel> {
    model: M,
    policy: TargetPolicy,
    /// Indexed by `SymbolId`; every symbol starts flat.
    targets: Vec<i32>,
    stats: InferenceStats,
}

impl Inference<LinearModel> {
    /// The linear model `[model]` describes.
    ///
    /// # Panics
    /// If `[model]` describes another kind of model: validate the config first.
    pub fn new(config: &ModelConfig, universe_len: usize) -> Inference<LinearModel> {
        assert_eq!(
            config.kind,
            LinearModel::KIND,
            "inference: model.kind must be \"linear\"; validate the config first"
        );
        Inference::with_model(config.linear(), config.policy(), universe_len)
    }
}

impl<M: Model> Inference<M> {
    pub fn with_model(model: M, policy: TargetPolicy, universe_len: usize) -> Inference<M> {
        Inference {
            model,
            policy,
            targets: vec![0; universe_len],
            stats: InferenceStats::default(),
        }
    }
}

impl<M: Model> Stage for Inference<M> {
    type In = Features;
    type Out = Signal;
    const NAME: &'static str = "inference";

    #[inline]
    fn on_event<O: Emit<Signal>>(&mut self, event: Features, out: &mut O) {
        let slot = &mut self.targets[event.view.symbol.index()];
        let previous = *slot;
        let score = match self.model.score(&event) {
            Some(score) => {
                *slot = self.policy.next(score, previous);
                score
            }
            None => {
                self.stats.unscored += 1;
                0.0
            }
        };
        let target = *slot;
        if target != previous {
            match target.signum() {
                1 => self.stats.long_targets += 1,
                -1 => self.stats.short_targets += 1,
                _ => self.stats.flat_targets += 1,
            }
        }
        self.stats.signals += 1;
        out.emit(Signal {
            view: event.view,
            score,
            target,
        });
    }

    fn report(&self, report: &mut ShardReport) {
        report.inference.merge(&self.stats);
    }

    fn publish(&self, report: &mut ShardReport) {
        report.inference = self.stats.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Problem;
    use crate::msg::{MarketView, Price, Stamp, SymbolId, TradingStatus, ViewCause};

    const CONFIG: &str = r#"
        kind = "linear"
        bias = 0.0
        enter_threshold = 1.0
        exit_threshold = 0.25
        target_qty = 100
        [weights]
        microprice_bps = 1.0
        spread_bps = 0.0
        imbalance = 0.0
        volatility_bps = 0.0
        trade_flow = 0.0
    "#;

    fn config() -> ModelConfig {
        toml::from_str(CONFIG).unwrap()
    }

    fn problems(c: &ModelConfig) -> Vec<Problem> {
        let mut out = Vec::new();
        c.validate(&[LinearModel::KIND], &mut Problems::new("model", &mut out));
        out
    }

    fn features(symbol: u16, two_sided: bool, microprice_bps: f32) -> Features {
        Features {
            view: MarketView {
                stamp: Stamp::default(),
                bid_px: Price(1_000_000),
                ask_px: Price(1_000_100),
                print_px: Price::ZERO,
                bid_qty: 100,
                ask_qty: if two_sided { 100 } else { 0 },
                print_qty: 0,
                symbol: SymbolId(symbol),
                cause: ViewCause::Quote,
                status: TradingStatus::Trading,
                match_number: 0,
            },
            values: FeatureVector {
                microprice_bps,
                ..FeatureVector::default()
            },
        }
    }

    fn run<M: Model>(stage: &mut Inference<M>, events: &[Features]) -> Vec<Signal> {
        let mut out = Vec::new();
        for e in events {
            stage.on_event(*e, &mut out);
        }
        out
    }

    #[test]
    fn example_config_validates() {
        assert_eq!(problems(&config()), vec![]);
    }

    #[test]
    fn validate_names_every_bad_key() {
        let mut c = config();
        c.kind = "tree".into();
        c.bias = Some(f32::NAN);
        c.weights.as_mut().unwrap().trade_flow = f32::INFINITY;
        c.exit_threshold = 2.0;
        c.target_qty = 0;
        let keys: Vec<String> = problems(&c).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "model.kind",
                "model.bias",
                "model.weights.trade_flow",
                "model.exit_threshold",
                "model.target_qty"
            ]
        );
        let mut c = config();
        c.exit_threshold = -0.5;
        c.enter_threshold = -1.0;
        let keys: Vec<String> = problems(&c).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["model.exit_threshold", "model.exit_threshold"]);
    }

    #[test]
    fn the_linear_keys_belong_to_the_linear_model_alone() {
        let mut c = config();
        c.bias = None;
        c.weights = None;
        let keys: Vec<String> = problems(&c).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["model.bias", "model.weights"], "required for linear");

        let mut c = config();
        c.kind = "mean-reversion".into();
        let mut out = Vec::new();
        c.validate(&["mean-reversion"], &mut Problems::new("model", &mut out));
        let keys: Vec<String> = out.into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            ["model.bias", "model.weights"],
            "refused for another kind"
        );
        c.bias = None;
        c.weights = None;
        let mut out = Vec::new();
        c.validate(&["mean-reversion"], &mut Problems::new("model", &mut out));
        assert_eq!(out, vec![]);
    }

    #[test]
    fn the_onnx_table_belongs_to_kind_onnx() {
        let kinds = builtin::BuiltIn::KINDS;
        let keys = |c: &ModelConfig| {
            let mut out = Vec::new();
            c.validate(kinds, &mut Problems::new("model", &mut out));
            out.into_iter().map(|p| p.to_string()).collect::<Vec<_>>()
        };
        assert_eq!(
            keys(&config()),
            Vec::<String>::new(),
            "linear runs built in"
        );
        let mut c = config();
        c.kind = "onnx".into();
        assert_eq!(
            keys(&c),
            [
                "model.bias: only kind \"linear\" has a bias",
                "model.weights: only kind \"linear\" has weights",
                "model.onnx: required for kind \"onnx\"",
            ]
        );
        c.kind = "tree".into();
        assert_eq!(
            keys(&c)[0],
            "model.kind: unknown model kind \"tree\"; the model plugged in runs \"linear\" or \"onnx\""
        );
    }

    /// A model with its own per-symbol state sees every `Features` message, one-sided
    /// books included, and its `None` keeps the target.
    #[test]
    fn a_stateful_model_sees_every_message_and_none_keeps_the_target() {
        struct Counting(Vec<u32>);
        impl Model for Counting {
            const KIND: &'static str = "counting";
            fn score(&mut self, f: &Features) -> Option<f32> {
                let seen = &mut self.0[f.view.symbol.index()];
                *seen += 1;
                (*seen % 2 == 1).then_some(*seen as f32)
            }
        }
        let mut stage = Inference::with_model(Counting(vec![0; 2]), config().policy(), 2);
        let out = run(
            &mut stage,
            &[
                features(1, false, 0.0),
                features(1, true, 0.0),
                features(1, false, 0.0),
                features(0, true, 0.0),
            ],
        );
        let scored: Vec<(f32, i32)> = out.iter().map(|s| (s.score, s.target)).collect();
        assert_eq!(scored, [(1.0, 0), (0.0, 0), (3.0, 100), (1.0, 0)]);
        assert_eq!(stage.model.0, [1, 3]);
        assert_eq!(stage.stats.unscored, 1);
    }

    #[test]
    fn every_key_is_required_and_unknown_keys_are_errors() {
        let missing = CONFIG.replace("target_qty = 100", "");
        assert!(toml::from_str::<ModelConfig>(&missing).is_err());
        let extra = CONFIG.replace("bias = 0.0", "bias = 0.0\nfoo = 1");
        assert!(toml::from_str::<ModelConfig>(&extra).is_err());
        let extra_weight = CONFIG.replace("trade_flow = 0.0", "trade_flow = 0.0\nmomentum = 1.0");
        assert!(toml::from_str::<ModelConfig>(&extra_weight).is_err());
    }

    #[test]
    fn linear_model_is_bias_plus_weighted_sum() {
        let m = LinearModel {
            bias: 0.5,
            weights: FeatureVector {
                microprice_bps: 1.0,
                spread_bps: -2.0,
                imbalance: 3.0,
                volatility_bps: 0.25,
                trade_flow: 4.0,
            },
        };
        let x = FeatureVector {
            microprice_bps: 2.0,
            spread_bps: 1.0,
            imbalance: 0.5,
            volatility_bps: 4.0,
            trade_flow: -0.5,
        };
        assert_eq!(m.value(&x), 0.5 + 2.0 - 2.0 + 1.5 + 1.0 - 2.0);
    }

    #[test]
    fn policy_has_hysteresis() {
        let p = config().policy();
        assert_eq!(p.next(1.5, 0), 100);
        assert_eq!(p.next(0.5, 100), 100, "between exit and enter: keep");
        assert_eq!(p.next(-0.5, 100), 100);
        assert_eq!(p.next(0.1, 100), 0, "inside exit: flat");
        assert_eq!(p.next(-1.5, 100), -100, "straight through to short");
        assert_eq!(p.next(-0.5, -100), -100);
        assert_eq!(p.next(1.0, 0), 0, "at enter exactly: not above it");
        assert_eq!(p.next(f32::NAN, -100), -100);
    }

    #[test]
    fn emits_one_signal_per_features_and_counts_changes() {
        let mut stage = Inference::new(&config(), 2);
        let out = run(
            &mut stage,
            &[
                features(0, true, 2.0),
                features(1, true, -2.0),
                features(0, true, 0.5),
                features(0, true, 0.0),
                features(0, true, 0.0),
            ],
        );
        let targets: Vec<(u16, i32)> = out.iter().map(|s| (s.view.symbol.0, s.target)).collect();
        assert_eq!(targets, [(0, 100), (1, -100), (0, 100), (0, 0), (0, 0)]);
        assert_eq!(out[0].score, 2.0);
        let mut report = ShardReport::default();
        stage.report(&mut report);
        assert_eq!(
            report.inference,
            InferenceStats {
                signals: 5,
                unscored: 0,
                long_targets: 1,
                short_targets: 1,
                flat_targets: 1,
            }
        );
    }

    #[test]
    fn one_sided_books_keep_the_target_and_score_zero() {
        let mut stage = Inference::new(&config(), 1);
        let out = run(
            &mut stage,
            &[features(0, true, 5.0), features(0, false, -5.0)],
        );
        assert_eq!(out[1].target, 100);
        assert_eq!(out[1].score, 0.0);
        assert_eq!(stage.stats.unscored, 1);
    }

    #[test]
    fn status_changes_pass_through_as_signals() {
        let mut stage = Inference::new(&config(), 1);
        let mut halted = features(0, true, 5.0);
        halted.view.cause = ViewCause::Status;
        halted.view.status = TradingStatus::Halted;
        let out = run(&mut stage, &[halted]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].view, halted.view);
    }
}
