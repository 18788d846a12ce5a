//! The native engine: an MLP [`Chain`] compiled at load time into a fixed-size kernel
//! that allocates nothing per call.
//!
//! Each layer's weights are stored input-major (`[n_in][stride]`, `stride` = `n_out`
//! rounded up to [`LANES`], the padding zero), the layout `sys::simd`'s dense kernel
//! runs over: for each input in order, `acc[0..stride] += x[i] × w[i][0..stride]`, so
//! each output accumulates its products in input order, in f32, the same way on every
//! run and, SSE2 or AVX2, on every x86-64 host (`sys::simd` says why the two agree to
//! the bit). Measured on the bench graph (32 → 64 → 64 → 3): BENCHMARKS.md, "Inference".

use super::graph::{Activation, Chain, Tail};
use crate::sys::simd::{Kernel, LANES};

#[derive(Clone)]
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
#[derive(Clone)]
pub struct NativeMlp {
    kernel: Kernel,
    n_in: usize,
    layers: Box<[Layer]>,
    tail: Tail,
    /// Ping-pong rows, each as wide as the widest layer's stride.
    a: Box<[f32]>,
    b: Box<[f32]>,
    out: Box<[f32]>,
}

impl NativeMlp {
    /// Compiled for the widest kernel this CPU runs ([`Kernel::detect`]).
    pub fn compile(chain: &Chain) -> NativeMlp {
        NativeMlp::compile_for(chain, Kernel::detect())
    }

    pub fn compile_for(chain: &Chain, kernel: Kernel) -> NativeMlp {
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
            kernel,
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

    pub fn kernel(&self) -> Kernel {
        self.kernel
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
            self.kernel.dense(
                &layer.weights,
                &layer.bias,
                &src[..layer.n_in],
                &mut dst[..layer.stride],
            );
            activate(self.kernel, layer.activation, &mut dst[..layer.n_out]);
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

#[inline]
fn activate(kernel: Kernel, activation: Activation, v: &mut [f32]) {
    match activation {
        Activation::None => {}
        Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
        Activation::Tanh => kernel.tanh(v),
        Activation::Sigmoid => v.iter_mut().for_each(|x| *x = 1.0 / (1.0 + (-*x).exp())),
    }
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
        // Hidden: relu([1+0.5, 2*3-10, -1+3]) = [1.5, 0, 2]; out: [1.5+0, 2+0.25].
        for kernel in [Kernel::BASELINE, Kernel::detect()] {
            let mut mlp = NativeMlp::compile_for(&chain, kernel);
            assert_eq!(mlp.run(&[1.0, 3.0]), [1.5, 2.25], "{:?}", kernel.isa());
        }
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
