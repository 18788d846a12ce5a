//! The native engine: an MLP [`Chain`] compiled at load time into a fixed-size kernel
//! that allocates nothing per call.
//!
//! Each layer's weights are stored input-major (`[n_in][stride]`, `stride` = `n_out`
//! rounded up to [`LANES`], the padding zero), so a layer is, for each input in order,
//! `acc[0..stride] += x[i] × w[i][0..stride]`: the inner loop runs over contiguous
//! outputs with no horizontal sum, which LLVM vectorises without reassociating anything,
//! and the accumulators of a tile of outputs stay in registers across the inputs.
//! Each output therefore accumulates its products in input order, in f32, the same way
//! on every run; plain `rustc` output is deterministic for a given build (no FMA unless
//! the target enables it, which would change the last bit but not the determinism).
//! Measured on the bench graph (32 → 64 → 64 → 3): BENCHMARKS.md, "Inference".

use super::graph::{Activation, Chain, Tail};

/// Floats per vector lane group: 8 × f32 is one AVX register; SSE takes two.
pub const LANES: usize = 8;

struct Layer {
    n_in: usize,
    n_out: usize,
    stride: usize,
    /// `[n_in][stride]`.
    weights: Box<[f32]>,
    /// `[stride]`.
    bias: Box<[f32]>,
    activation: Activation,
}

/// One compiled chain and its scratch rows.
pub struct NativeMlp {
    n_in: usize,
    layers: Box<[Layer]>,
    tail: Tail,
    /// Ping-pong rows, each as wide as the widest layer's stride.
    a: Box<[f32]>,
    b: Box<[f32]>,
    out: Box<[f32]>,
}

impl Clone for NativeMlp {
    fn clone(&self) -> NativeMlp {
        NativeMlp {
            n_in: self.n_in,
            layers: self
                .layers
                .iter()
                .map(|l| Layer {
                    n_in: l.n_in,
                    n_out: l.n_out,
                    stride: l.stride,
                    weights: l.weights.clone(),
                    bias: l.bias.clone(),
                    activation: l.activation,
                })
                .collect(),
            tail: self.tail,
            a: self.a.clone(),
            b: self.b.clone(),
            out: self.out.clone(),
        }
    }
}

impl NativeMlp {
    pub fn compile(chain: &Chain) -> NativeMlp {
        let layers: Box<[Layer]> = chain
            .layers
            .iter()
            .map(|d| {
                let stride = d.n_out.div_ceil(LANES) * LANES;
                let mut weights = vec![0.0; d.n_in * stride];
                for (i, row) in d.weights.chunks_exact(d.n_out).enumerate() {
                    weights[i * stride..i * stride + d.n_out].copy_from_slice(row);
                }
                let mut bias = vec![0.0; stride];
                bias[..d.n_out].copy_from_slice(&d.bias);
                Layer {
                    n_in: d.n_in,
                    n_out: d.n_out,
                    stride,
                    weights: weights.into(),
                    bias: bias.into(),
                    activation: d.activation,
                }
            })
            .collect();
        let widest = layers
            .iter()
            .map(|l| l.stride)
            .chain([chain.n_in])
            .max()
            .unwrap_or(0);
        NativeMlp {
            n_in: chain.n_in,
            layers,
            tail: chain.tail,
            a: vec![0.0; widest].into(),
            b: vec![0.0; widest].into(),
            out: vec![0.0; chain.n_out()].into(),
        }
    }

    pub fn n_in(&self) -> usize {
        self.n_in
    }

    /// Runs the chain on one row of `n_in` values (more are ignored, fewer panic) and
    /// returns the output: the last layer's values after the tail, or with an ArgMax
    /// tail the index as one f32 (exact below 2^24).
    #[inline]
    pub fn run(&mut self, x: &[f32]) -> &[f32] {
        let x = &x[..self.n_in];
        let mut width = self.n_in;
        self.a[..width].copy_from_slice(x);
        let (mut src, mut dst) = (&mut self.a, &mut self.b);
        for layer in self.layers.iter() {
            dense(layer, &src[..layer.n_in], &mut dst[..layer.stride]);
            activate(layer.activation, &mut dst[..layer.n_out]);
            width = layer.n_out;
            std::mem::swap(&mut src, &mut dst);
        }
        let values = &src[..width];
        match self.tail {
            Tail::None => self.out.copy_from_slice(values),
            Tail::ArgMax => self.out[0] = argmax(values) as f32,
            Tail::Softmax => softmax(values, &mut self.out, false),
            Tail::LogSoftmax => softmax(values, &mut self.out, true),
        }
        &self.out
    }
}

/// `out = bias + Σ_i x[i] · w[i]`, accumulated in input order, [`TILE`] outputs at a
/// time (then 8 at a time for the rest of the stride).
#[inline]
fn dense(layer: &Layer, x: &[f32], out: &mut [f32]) {
    let mut start = 0;
    while layer.stride - start >= TILE {
        tile::<TILE>(layer, x, start, out);
        start += TILE;
    }
    while start < layer.stride {
        tile::<LANES>(layer, x, start, out);
        start += LANES;
    }
}

/// Outputs per register tile: 32 f32 are 8 SSE registers of accumulators, held across
/// the whole input loop instead of loaded and stored once per input.
const TILE: usize = 32;

/// Outputs `start..start + N`.
#[inline(always)]
fn tile<const N: usize>(layer: &Layer, x: &[f32], start: usize, out: &mut [f32]) {
    let mut acc = [0.0f32; N];
    acc.copy_from_slice(&layer.bias[start..start + N]);
    for (&xi, row) in x.iter().zip(layer.weights.chunks_exact(layer.stride)) {
        let w: &[f32; N] = row[start..start + N].try_into().expect("N weights");
        for k in 0..N {
            acc[k] += xi * w[k];
        }
    }
    out[start..start + N].copy_from_slice(&acc);
}

#[inline]
fn activate(activation: Activation, v: &mut [f32]) {
    match activation {
        Activation::None => {}
        Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
        Activation::Tanh => v.iter_mut().for_each(|x| *x = tanh(*x)),
        Activation::Sigmoid => v.iter_mut().for_each(|x| *x = 1.0 / (1.0 + (-*x).exp())),
    }
}

/// tanh as a rational function of x² (the [13/6] minimax approximation Eigen and
/// onnxruntime's MLAS use), clamped where f32 tanh is ±1 to within an ulp. libm's
/// `tanhf` is a call per element; this is branch-free and vectorises: 128 of them per
/// inference on the bench graph. Within 5e-7 of tanh everywhere (measured 4.0e-7, unit test
/// below), far inside the 1e-5 the engines must agree to.
#[inline]
pub fn tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const A: [f32; 7] = [
        4.893_524_6e-3,
        6.372_619_3e-4,
        1.485_722_4e-5,
        5.122_297e-8,
        -8.604_672e-11,
        2.000_188e-13,
        -2.760_768_5e-16,
    ];
    const B: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347_1e-4, 1.198_258_4e-6];
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let mut p = A[6];
    for a in A[..6].iter().rev() {
        p = p * x2 + a;
    }
    let q = ((B[3] * x2 + B[2]) * x2 + B[1]) * x2 + B[0];
    x * p / q
}

/// The first index of the largest value; NaN is never largest.
#[inline]
fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate().skip(1) {
        if x > v[best] || v[best].is_nan() {
            best = i;
        }
    }
    best
}

fn softmax(v: &[f32], out: &mut [f32], log: bool) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = v.iter().map(|&x| (x - max).exp()).sum();
    for (o, &x) in out.iter_mut().zip(v) {
        *o = if log {
            x - max - sum.ln()
        } else {
            (x - max).exp() / sum
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::graph::Dense;
    use super::*;

    #[test]
    fn tanh_is_within_5e7_of_f64_tanh() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4;
            let err = (f64::from(tanh(x)) - f64::from(x).tanh()).abs();
            worst = worst.max(err);
        }
        assert!(worst < 5e-7, "max error {worst}");
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(1e6), tanh(20.0));
        assert!((tanh(-1e30) + 1.0).abs() < 1e-6);
    }

    /// A 2 → 3 → 2 chain worked by hand, with padding past the 3 outputs.
    #[test]
    fn runs_a_small_chain_exactly() {
        let chain = Chain {
            n_in: 2,
            layers: vec![
                Dense {
                    n_in: 2,
                    n_out: 3,
                    weights: vec![1.0, 0.0, -1.0, 0.0, 2.0, 1.0],
                    bias: vec![0.5, -10.0, 0.0],
                    activation: Activation::Relu,
                },
                Dense {
                    n_in: 3,
                    n_out: 2,
                    weights: vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0],
                    bias: vec![0.0, 0.25],
                    activation: Activation::None,
                },
            ],
            tail: Tail::None,
        };
        let mut mlp = NativeMlp::compile(&chain);
        // Hidden: relu([1+0.5, 2*3-10, -1+3]) = [1.5, 0, 2]; out: [1.5+0, 2+0.25].
        assert_eq!(mlp.run(&[1.0, 3.0]), [1.5, 2.25]);
        let mut argmax_chain = chain.clone();
        argmax_chain.tail = Tail::ArgMax;
        assert_eq!(NativeMlp::compile(&argmax_chain).run(&[1.0, 3.0]), [1.0]);
        let mut soft = chain;
        soft.tail = Tail::LogSoftmax;
        let out = NativeMlp::compile(&soft).run(&[1.0, 3.0]).to_vec();
        let expect = [
            1.5 - 2.25 - (1.0f32 + (-0.75f32).exp()).ln(),
            -(1.0f32 + (-0.75f32).exp()).ln(),
        ];
        assert!(
            (out[0] - expect[0]).abs() < 1e-6 && (out[1] - expect[1]).abs() < 1e-6,
            "{out:?}"
        );
    }

    #[test]
    fn argmax_takes_the_first_largest_and_skips_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.0, -1.0]), 1);
    }
}
