//! Degradation levels: how much of its normal business a shard may do. The health task
//! raises the level one step per period in which a scheduled task missed its deadline
//! and lowers it one step per clean period, never below the operator's floor
//! (`ctl level`). What each level allows is configured ([`LevelRule`]).

use serde::Deserialize;

use crate::config::Problems;

/// A degradation level, mildest first: `Ord` follows severity.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Normal = 0,
    Reduced = 1,
    Limited = 2,
    Emergency = 3,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::Normal,
        Level::Reduced,
        Level::Limited,
        Level::Emergency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Normal => "normal",
            Level::Reduced => "reduced",
            Level::Limited => "limited",
            Level::Emergency => "emergency",
        }
    }

    /// The level a journal stores as `code`; `None` for one this build does not know.
    pub fn from_code(code: u8) -> Option<Level> {
        Level::ALL.get(usize::from(code)).copied()
    }

    /// The level named `name` (`ctl level NAME`).
    pub fn parse(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// One step more severe (emergency stays).
    pub fn raised(self) -> Level {
        Level::from_code(self as u8 + 1).unwrap_or(Level::Emergency)
    }

    /// One step milder (normal stays).
    pub fn lowered(self) -> Level {
        Level::from_code((self as u8).saturating_sub(1)).unwrap_or(Level::Normal)
    }
}

/// Levels as a set, for the levels a task may run at.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct LevelSet(u8);

impl LevelSet {
    pub fn of(levels: &[Level]) -> LevelSet {
        LevelSet(levels.iter().fold(0, |bits, &l| bits | 1 << l as u8))
    }

    pub fn contains(self, level: Level) -> bool {
        self.0 & 1 << level as u8 != 0
    }
}

/// What a shard may do at one level.
#[derive(Copy, Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelRule {
    /// Multiplies every target (after the regime's scale), 0 to 1.
    pub target_scale: f64,
    /// Only orders that reduce a position.
    pub reduce_only: bool,
    /// Scheduled orders (`[[schedule]]`) may send slices; a due slice waits otherwise.
    pub schedules: bool,
}

/// `[coordinator.levels]`: one rule per level, each required.
#[derive(Copy, Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelRules {
    pub normal: LevelRule,
    pub reduced: LevelRule,
    pub limited: LevelRule,
    pub emergency: LevelRule,
}

impl LevelRules {
    pub fn rule(&self, level: Level) -> &LevelRule {
        match level {
            Level::Normal => &self.normal,
            Level::Reduced => &self.reduced,
            Level::Limited => &self.limited,
            Level::Emergency => &self.emergency,
        }
    }

    pub fn validate(&self, p: &mut Problems<'_>) {
        for level in Level::ALL {
            let scale = self.rule(level).target_scale;
            p.check(
                (0.0..=1.0).contains(&scale),
                &format!("{}.target_scale", level.as_str()),
                format!("{scale} is not between 0 and 1"),
            );
        }
    }
}

/// Why the level changed (journaled with it).
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LevelCause {
    /// The health task, from missed deadlines: re-derived on a restart.
    Health = 0,
    /// An operator (`ctl level`): not derivable from the input, so a restart applies the
    /// journaled one at its position.
    Operator = 1,
}

impl LevelCause {
    pub fn from_code(code: u8) -> Option<LevelCause> {
        match code {
            0 => Some(LevelCause::Health),
            1 => Some(LevelCause::Operator),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_step_and_stay_in_range() {
        assert_eq!(Level::Normal.raised(), Level::Reduced);
        assert_eq!(Level::Emergency.raised(), Level::Emergency);
        assert_eq!(Level::Normal.lowered(), Level::Normal);
        assert_eq!(Level::Limited.lowered(), Level::Reduced);
        for l in Level::ALL {
            assert_eq!(Level::from_code(l as u8), Some(l));
            assert_eq!(Level::parse(l.as_str()), Some(l));
        }
        assert_eq!(Level::from_code(4), None);
        let set = LevelSet::of(&[Level::Normal, Level::Limited]);
        assert!(set.contains(Level::Normal) && set.contains(Level::Limited));
        assert!(!set.contains(Level::Reduced) && !set.contains(Level::Emergency));
    }
}
