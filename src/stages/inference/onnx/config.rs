//! `[model.onnx]`: which file, which engine, and how features become the graph's input
//! and its output becomes a score.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::Problems;
use crate::msg::FeatureVector;

/// `[model.onnx]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OnnxConfig {
    /// The `.onnx` file, relative to the working directory.
    pub path: PathBuf,
    pub engine: EngineChoice,
    /// The graph input the features feed: its name.
    pub input: String,
    /// The graph input's columns, in order: one feature each, normalised.
    pub features: Vec<InputFeature>,
    pub output: OutputMapping,
}

/// `engine`: which engine runs the graph.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// Native when the graph qualifies (an MLP), else tract.
    Auto,
    Native,
    Tract,
}

/// One column of the graph input: `(feature − mean) / std`, the normalisation a
/// stable-baselines3 `VecNormalize` applies (its `obs_rms.mean` and `sqrt(var + eps)`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputFeature {
    pub feature: Feature,
    pub mean: f32,
    pub std: f32,
}

/// A field of [`FeatureVector`], by its name there.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    MicropriceBps,
    SpreadBps,
    Imbalance,
    VolatilityBps,
    TradeFlow,
}

impl Feature {
    pub const ALL: [Feature; 5] = [
        Feature::MicropriceBps,
        Feature::SpreadBps,
        Feature::Imbalance,
        Feature::VolatilityBps,
        Feature::TradeFlow,
    ];

    #[inline]
    pub fn read(self, v: &FeatureVector) -> f32 {
        match self {
            Feature::MicropriceBps => v.microprice_bps,
            Feature::SpreadBps => v.spread_bps,
            Feature::Imbalance => v.imbalance,
            Feature::VolatilityBps => v.volatility_bps,
            Feature::TradeFlow => v.trade_flow,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Feature::MicropriceBps => "microprice_bps",
            Feature::SpreadBps => "spread_bps",
            Feature::Imbalance => "imbalance",
            Feature::VolatilityBps => "volatility_bps",
            Feature::TradeFlow => "trade_flow",
        }
    }
}

/// `[model.onnx.output]`: which output tensor decides (`name`), and how it becomes a
/// score that `[model]`'s thresholds turn into a target (`kind`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OutputMapping {
    /// A discrete action: the output is the action's index (an `ArgMax`, one int64 or
    /// float element) or one value per action (logits or probabilities: their argmax).
    /// `actions[i]` is what index `i` means; it scores −1 (short), 0 (flat) or +1 (long).
    Discrete { name: String, actions: Vec<Action> },
    /// A continuous action (one element): score = clamp(value × scale, −clip, clip).
    Continuous { name: String, scale: f32, clip: f32 },
    /// A score (one element), compared with the thresholds as it is.
    Score { name: String },
}

impl OutputMapping {
    pub fn name(&self) -> &str {
        match self {
            OutputMapping::Discrete { name, .. }
            | OutputMapping::Continuous { name, .. }
            | OutputMapping::Score { name } => name,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Short,
    Flat,
    Long,
}

impl Action {
    pub fn score(self) -> f32 {
        match self {
            Action::Short => -1.0,
            Action::Flat => 0.0,
            Action::Long => 1.0,
        }
    }
}

/// Most actions a discrete output may map: the argmax scans them on every event.
pub const MAX_ACTIONS: usize = 64;
/// Most graph input columns: the features are five, each may appear more than once
/// (with another normalisation), and the input row lives on the stack of no one — it
/// is allocated once per model.
pub const MAX_INPUTS: usize = 256;

impl OnnxConfig {
    /// Checks what can be checked without the file; `enter` and `exit` are `[model]`'s
    /// thresholds, which a discrete action's score of ±1 and 0 must cross.
    pub fn validate(&self, enter: f32, exit: f32, p: &mut Problems<'_>) {
        p.check(!self.input.is_empty(), "input", "must name the graph input");
        p.check(
            (1..=MAX_INPUTS).contains(&self.features.len()),
            "features",
            format!(
                "{} features mapped; use 1 to {MAX_INPUTS}",
                self.features.len()
            ),
        );
        for (i, f) in self.features.iter().enumerate() {
            let mut p = p.nested(&format!("features[{i}]"));
            p.check(
                f.mean.is_finite(),
                "mean",
                format!("{} is not a finite f32", f.mean),
            );
            p.check(
                f.std.is_finite() && f.std > 0.0,
                "std",
                format!("{} must be a finite f32 above 0", f.std),
            );
        }
        let mut p = p.nested("output");
        p.check(
            !self.output.name().is_empty(),
            "name",
            "must name a graph output",
        );
        match &self.output {
            OutputMapping::Discrete { actions, .. } => {
                p.check(
                    (1..=MAX_ACTIONS).contains(&actions.len()),
                    "actions",
                    format!("{} actions; use 1 to {MAX_ACTIONS}", actions.len()),
                );
                // The thresholds must let a long (+1) enter and a flat (0) leave.
                p.check(
                    enter < 1.0 && exit > 0.0,
                    "actions",
                    format!(
                        "a discrete action scores -1, 0 or +1: model.enter_threshold ({enter}) \
                         must be below 1 and model.exit_threshold ({exit}) above 0"
                    ),
                );
            }
            OutputMapping::Continuous { scale, clip, .. } => {
                p.check(
                    scale.is_finite() && *scale != 0.0,
                    "scale",
                    format!("{scale} must be a finite, non-zero f32"),
                );
                p.check(
                    clip.is_finite() && *clip > 0.0,
                    "clip",
                    format!("{clip} must be a finite f32 above 0"),
                );
            }
            OutputMapping::Score { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Problem;

    const CONFIG: &str = r#"
        path = "tests/fixtures/onnx/ppo_discrete.onnx"
        engine = "auto"
        input = "input"
        features = [
            { feature = "microprice_bps", mean = 0.0, std = 1.0 },
            { feature = "imbalance", mean = 0.1, std = 0.5 },
        ]
        output = { name = "actions", kind = "discrete", actions = ["short", "flat", "long"] }
    "#;

    fn problems(c: &OnnxConfig) -> Vec<String> {
        let mut out: Vec<Problem> = Vec::new();
        c.validate(0.5, 0.25, &mut Problems::new("model.onnx", &mut out));
        out.into_iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn parses_and_validates() {
        let c: OnnxConfig = toml::from_str(CONFIG).unwrap();
        assert_eq!(c.engine, EngineChoice::Auto);
        assert_eq!(c.features[1].feature, Feature::Imbalance);
        assert_eq!(
            c.output,
            OutputMapping::Discrete {
                name: "actions".into(),
                actions: vec![Action::Short, Action::Flat, Action::Long]
            }
        );
        assert_eq!(problems(&c), Vec::<String>::new());
    }

    #[test]
    fn every_bad_value_is_named() {
        let mut c: OnnxConfig = toml::from_str(CONFIG).unwrap();
        c.features[1].std = 0.0;
        c.features[0].mean = f32::NAN;
        c.output = OutputMapping::Continuous {
            name: "actions".into(),
            scale: 0.0,
            clip: -1.0,
        };
        assert_eq!(
            problems(&c),
            [
                "model.onnx.features[0].mean: NaN is not a finite f32",
                "model.onnx.features[1].std: 0 must be a finite f32 above 0",
                "model.onnx.output.scale: 0 must be a finite, non-zero f32",
                "model.onnx.output.clip: -1 must be a finite f32 above 0",
            ]
        );
        let mut out = Vec::new();
        let c: OnnxConfig = toml::from_str(CONFIG).unwrap();
        c.validate(1.0, 0.0, &mut Problems::new("model.onnx", &mut out));
        assert_eq!(out.len(), 1, "thresholds a discrete action cannot cross");
        assert_eq!(out[0].key, "model.onnx.output.actions");
    }

    #[test]
    fn unknown_keys_features_and_kinds_are_errors() {
        for bad in [
            CONFIG.replace("engine = \"auto\"", "engine = \"gpu\""),
            CONFIG.replace("\"imbalance\"", "\"momentum\""),
            CONFIG.replace("kind = \"discrete\"", "kind = \"tree\""),
            CONFIG.replace("input = \"input\"", "input = \"input\"\nbatch = 1"),
            CONFIG.replace("std = 0.5", "std = 0.5, clip = 3"),
            CONFIG.replace("engine = \"auto\"", ""),
            CONFIG.replace("kind = \"discrete\"", "kind = \"discrete\", clip = 1.0"),
        ] {
            assert!(toml::from_str::<OnnxConfig>(&bad).is_err(), "{bad}");
        }
    }
}
