//! `tickpipe export-features`: one CSV row per feature view a replay produces, labelled
//! with the mid N ms later, for training a policy offline (`scripts/train_policy.py`).
//!
//! The views are those the configured model sees, in event time, recorded by a model
//! that wraps it ([`Recording`]), so the export comes from the same run (and digest) as
//! `tickpipe run` with that config. CSV rather than Parquet: the Parquet crates pull in
//! arrow and compression codecs (over a hundred crates) for a file numpy reads as text.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::mpsc::{Receiver, Sender};

use crate::msg::{Features, Price};
use crate::stages::inference::Model;
use crate::stages::inference::onnx::Feature;
use crate::universe::Universe;

/// One feature view, as exported.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Row {
    pub features: Features,
}

/// A model that sends every view it sees to the exporter, then scores as `M` does.
pub struct Recording<M> {
    pub inner: M,
    pub rows: Sender<Row>,
}

impl<M: Model> Model for Recording<M> {
    const KIND: &'static str = M::KIND;
    const KINDS: &'static [&'static str] = M::KINDS;

    fn score(&mut self, features: &Features) -> Option<f32> {
        // The receiver outlives the run; a send can fail only after the exporter gave up
        // on a write error, which it reports.
        let _ = self.rows.send(Row {
            features: *features,
        });
        self.inner.score(features)
    }
}

/// The CSV header: symbol, event time, every feature, the mid then and the mid the
/// horizon later. The run's digest is known only at its end, so it is the file's last
/// line, `# digest HEX` (a comment to numpy's and pandas' readers).
pub fn header() -> String {
    let mut h = String::from("symbol,ts_event_ns");
    for f in Feature::ALL {
        h.push(',');
        h.push_str(f.name());
    }
    h.push_str(",mid,mid_later\n");
    h
}

/// One symbol's rows waiting for their label, oldest first (each with its mid then),
/// and the mid in effect.
#[derive(Clone, Default)]
struct Pending {
    rows: VecDeque<(Row, Option<Price>)>,
    mid: Option<Price>,
}

/// Labels rows with the mid `horizon_ns` later and writes them as CSV.
pub struct Labeller<W: Write> {
    out: W,
    horizon_ns: u64,
    /// Per symbol.
    pending: Vec<Pending>,
    names: Vec<String>,
    pub rows: u64,
}

impl<W: Write> Labeller<W> {
    pub fn new(mut out: W, universe: &Universe, horizon_ns: u64) -> std::io::Result<Labeller<W>> {
        out.write_all(header().as_bytes())?;
        Ok(Labeller {
            out,
            horizon_ns,
            pending: vec![Pending::default(); universe.len()],
            names: universe
                .ids()
                .map(|id| universe.name(id).to_string())
                .collect(),
            rows: 0,
        })
    }

    /// Takes one row (rows of a symbol arrive in event time). The mid `horizon` after a
    /// row is that of the last view at or before then: a row is labelled once a later
    /// view passes its horizon.
    pub fn push(&mut self, row: Row) -> std::io::Result<()> {
        let view = row.features.view;
        let t = view.stamp.ts_event;
        let symbol = view.symbol.index();
        let horizon = self.horizon_ns;
        let Pending { rows: queue, mid } = &mut self.pending[symbol];
        let mut done = Vec::new();
        while let Some(&(r, then)) = queue.front() {
            if r.features.view.stamp.ts_event.saturating_add(horizon) >= t {
                break;
            }
            queue.pop_front();
            done.push((r, then, *mid));
        }
        *mid = view.mid();
        queue.push_back((row, *mid));
        while let Some(&(r, then)) = queue.front() {
            if r.features.view.stamp.ts_event.saturating_add(horizon) > t {
                break;
            }
            queue.pop_front();
            done.push((r, then, *mid));
        }
        for (r, then, later) in done {
            self.write(&r, then, later)?;
        }
        Ok(())
    }

    /// Writes the rows no view came after their horizon (`mid_later` empty), then the
    /// digest line.
    pub fn finish(mut self, digest: u64) -> std::io::Result<u64> {
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            for (r, then) in p.rows {
                self.write(&r, then, None)?;
            }
        }
        writeln!(self.out, "# digest {digest:016x}")?;
        self.out.flush()?;
        Ok(self.rows)
    }

    fn write(&mut self, r: &Row, then: Option<Price>, later: Option<Price>) -> std::io::Result<()> {
        let f = &r.features;
        write!(
            self.out,
            "{},{}",
            self.names[f.view.symbol.index()],
            f.view.stamp.ts_event
        )?;
        for feature in Feature::ALL {
            write!(self.out, ",{}", feature.read(&f.values))?;
        }
        let text = |p: Option<Price>| p.map(|p| p.to_string()).unwrap_or_default();
        writeln!(self.out, ",{},{}", text(then), text(later))?;
        self.rows += 1;
        Ok(())
    }
}

/// Drains what `rows` holds now into `labeller`.
pub fn drain<W: Write>(rows: &Receiver<Row>, labeller: &mut Labeller<W>) -> std::io::Result<()> {
    while let Ok(row) = rows.try_recv() {
        labeller.push(row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{FeatureVector, MarketView, Stamp, SymbolId, TradingStatus, ViewCause};

    fn row(symbol: u16, ts: u64, bid: i64) -> Row {
        Row {
            features: Features {
                view: MarketView {
                    stamp: Stamp {
                        ts_recv: 0,
                        ts_event: ts,
                    },
                    bid_px: Price(bid),
                    ask_px: Price(bid + 200),
                    print_px: Price::ZERO,
                    bid_qty: 1,
                    ask_qty: 1,
                    print_qty: 0,
                    symbol: SymbolId(symbol),
                    cause: ViewCause::Quote,
                    status: TradingStatus::Trading,
                    match_number: 0,
                },
                values: FeatureVector {
                    imbalance: 0.5,
                    ..FeatureVector::default()
                },
            },
        }
    }

    #[test]
    fn labels_each_row_with_the_mid_in_effect_a_horizon_later() {
        let universe = Universe::new(&["AAA", "BBB"]).unwrap();
        let mut out = Vec::new();
        let mut l = Labeller::new(&mut out, &universe, 10).unwrap();
        // AAA at 0 (mid 1.0100), 5 (mid 1.0200), 10 (mid 1.0300), 30 (mid 1.0400).
        for (ts, bid) in [(0, 10_000), (5, 10_100), (10, 10_200), (30, 10_300)] {
            l.push(row(0, ts, bid)).unwrap();
        }
        l.push(row(1, 3, 50_000)).unwrap();
        assert_eq!(l.finish(0xabc).unwrap(), 5);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "symbol,ts_event_ns,microprice_bps,spread_bps,imbalance,volatility_bps,trade_flow,mid,mid_later",
                // 0 + 10 = 10: the view at 10 is at or before the horizon.
                "AAA,0,0,0,0.5,0,0,1.0100,1.0300",
                // 5 + 10 = 15: the view at 10 is the last before it.
                "AAA,5,0,0,0.5,0,0,1.0200,1.0300",
                // 10 + 10 = 20: still the view at 10; labelled when 30 arrives.
                "AAA,10,0,0,0.5,0,0,1.0300,1.0300",
                "AAA,30,0,0,0.5,0,0,1.0400,",
                "BBB,3,0,0,0.5,0,0,5.0100,",
                "# digest 0000000000000abc",
            ]
        );
    }
}
