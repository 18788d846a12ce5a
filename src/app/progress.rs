//! A progress bar on stderr for long replays and `generate`: messages, rate and (when
//! the total is known) ETA. Drawn only when stderr is a terminal and not `--quiet`, so
//! piped or logged stderr stays clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar, or nothing when it must not show.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar counting messages up to `total` (a spinner with the rate when unknown).
    pub fn messages(total: Option<u64>, quiet: bool) -> Progress {
        Progress::new(quiet, || {
            let (bar, template) = match total {
                Some(total) => (
                    ProgressBar::new(total),
                    "{bar:30} {human_pos}/{human_len} messages  {per_sec}  ETA {eta}",
                ),
                None => (
                    ProgressBar::no_length(),
                    "{spinner} {human_pos} messages  {per_sec}  {elapsed}",
                ),
            };
            bar.with_style(ProgressStyle::with_template(template).expect("a valid template"))
        })
    }

    /// A spinner saying what is under way, for work that reports no count.
    pub fn working(message: String, quiet: bool) -> Progress {
        Progress::new(quiet, || {
            let bar = ProgressBar::new_spinner().with_message(message);
            // The work runs on this thread: the spinner turns on indicatif's own.
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        })
    }

    fn new(quiet: bool, make: impl FnOnce() -> ProgressBar) -> Progress {
        let show = !quiet && std::io::stderr().is_terminal();
        Progress {
            bar: show.then(make),
        }
    }

    pub fn set(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// Removes the bar, leaving stderr as it was.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
