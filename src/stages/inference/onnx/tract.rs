//! The tract engine (feature `tract`): any graph tract-onnx runs, for graphs the native
//! engine does not cover. It allocates on every call (tract's tensors: 52 per
//! inference on the bench graph, counted by tests/onnx_alloc.rs), on the decision
//! thread. It stays there rather than on a thread of its own: a hand-off would add a
//! hop per scored view and a second queue to back up, for a model that is slow either
//! way. The run states the cost instead (`model.cost`, measured at load, and a warning
//! log), and the per-event cost shows in the report's `latency_ns.risk` (time to reach
//! the stage after inference).

use tract_onnx::prelude::*;

/// A graph optimised by tract for a batch of one row.
pub struct TractEngine {
    /// Boxed: unboxed, the tract variant of `BuiltIn` was 376 bytes against the native
    /// one's 136, and every `BuiltIn` (the linear model's too) would be that large.
    plan: Box<TypedSimplePlan<TypedModel>>,
    n_in: usize,
    /// Which of the plan's outputs `run` copies into `out`.
    output: usize,
    out: Box<[f32]>,
}

impl Clone for TractEngine {
    fn clone(&self) -> TractEngine {
        TractEngine {
            plan: self.plan.clone(),
            n_in: self.n_in,
            output: self.output,
            out: self.out.clone(),
        }
    }
}

/// tract's error, as text: its type is tract's own.
pub type TractError = String;

impl TractEngine {
    /// `outputs`: the graph outputs to keep (the rest is pruned); `decide`: the one
    /// `run` returns, `width` elements.
    pub fn new(
        bytes: &[u8],
        n_in: usize,
        outputs: &[&str],
        decide: usize,
        width: usize,
    ) -> Result<TractEngine, TractError> {
        let build = || -> TractResult<TypedSimplePlan<TypedModel>> {
            let mut model = tract_onnx::onnx().model_for_read(&mut &*bytes)?;
            model.set_output_names(outputs)?;
            model
                .with_input_fact(0, f32::fact([1, n_in]).into())?
                .into_optimized()?
                .into_runnable()
        };
        let plan = Box::new(build().map_err(|e| format!("{e:#}"))?);
        Ok(TractEngine {
            plan,
            n_in,
            output: decide,
            out: vec![0.0; width].into(),
        })
    }

    /// Every kept output of one row, as f32 (int64 indices converted), in `outputs`'
    /// order.
    pub fn run_all(&self, row: &[f32]) -> Result<Vec<Vec<f32>>, TractError> {
        let input =
            Tensor::from_shape(&[1, self.n_in], &row[..self.n_in]).map_err(|e| format!("{e:#}"))?;
        let result = self
            .plan
            .run(tvec!(input.into()))
            .map_err(|e| format!("{e:#}"))?;
        result
            .iter()
            .map(|t| {
                let t = t.cast_to::<f32>().map_err(|e| format!("{e:#}"))?;
                Ok(t.as_slice::<f32>().map_err(|e| format!("{e:#}"))?.to_vec())
            })
            .collect()
    }

    /// The decision output of one row; `None` when tract fails or the output is not
    /// `width` elements.
    pub fn run(&mut self, row: &[f32]) -> Option<&[f32]> {
        let all = self.run_all(row).ok()?;
        let values = all.get(self.output)?;
        if values.len() != self.out.len() {
            return None;
        }
        self.out.copy_from_slice(values);
        Some(&self.out)
    }
}
