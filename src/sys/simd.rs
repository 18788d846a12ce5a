//! The native inference kernel's arithmetic (a dense layer, tanh over a row), compiled
//! twice from one Rust source: for the build's baseline target (SSE2 on x86-64, 4
//! lanes) and, behind `#[target_feature(enable = "avx2")]`, for 8-lane AVX2. [`Kernel`]
//! chooses once, when a model loads (`is_x86_feature_detected!`); each call then
//! branches on that stored choice, the same way every time.
//!
//! The two are bit-identical, by construction: each output is `bias`, then `+= x[i] ·
//! w[i]` in input order, each product and each sum rounded to f32, and neither rustc nor
//! LLVM may reorder or fuse those (rustc emits no fast-math flags; it contracts `a · b +
//! c` into an FMA only for an explicit `mul_add`). Wider vectors only compute more
//! outputs at once. So a replay decides the same on a host without AVX2, and which
//! kernel ran is not part of a run's identity. FMA is deliberately not used: fusing
//! rounds once instead of twice, so its results would differ from the SSE2 path's in
//! the last bits, and on the bench graph's shapes it bought nothing (255 ns per
//! inference with `mul_add` against 244 ns without; SSE2 494 ns: BENCHMARKS.md,
//! "Inference"). `tests` below checks the identity on random layers.

/// The width a layer's rows are padded to: one AVX2 register of f32, two SSE ones.
pub const LANES: usize = 8;

/// Which instruction set a [`Kernel`] runs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Isa {
    /// The build's target features: SSE2 on a baseline x86-64 build.
    Baseline,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
        }
    }
}

/// The kernel chosen for this CPU. Only [`Kernel::detect`] makes an AVX2 one, so
/// holding one proves the CPU runs AVX2: that is what makes its calls sound.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Kernel {
    isa: Isa,
}

impl Kernel {
    /// The build's baseline, which every CPU the binary starts on runs.
    pub const BASELINE: Kernel = Kernel { isa: Isa::Baseline };

    /// The widest kernel this CPU runs.
    pub fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Kernel { isa: Isa::Avx2 };
        }
        Kernel::BASELINE
    }

    pub fn isa(self) -> Isa {
        self.isa
    }

    /// `out = bias + Σ_i x[i] · weights[i]`, each output accumulated in input order.
    /// `weights` is input-major, `[x.len()][out.len()]`; `out.len()` (the stride, which
    /// `bias` matches) is a multiple of [`LANES`].
    ///
    /// # Panics
    /// If the lengths do not fit together.
    #[inline]
    pub fn dense(self, weights: &[f32], bias: &[f32], x: &[f32], out: &mut [f32]) {
        assert!(
            out.len().is_multiple_of(LANES)
                && bias.len() == out.len()
                && weights.len() == x.len() * out.len(),
            "dense: {} weights, {} bias, {} in, {} out",
            weights.len(),
            bias.len(),
            x.len(),
            out.len()
        );
        match self.isa {
            // 32 outputs: 8 SSE registers of accumulators, 4 × 4 lanes of the 16.
            Isa::Baseline => dense::<32>(weights, bias, x, out),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an `Avx2` kernel is made only by `detect`, after
            // `is_x86_feature_detected!("avx2")` said this CPU runs AVX2.
            Isa::Avx2 => unsafe { dense_avx2(weights, bias, x, out) },
        }
    }

    /// [`tanh`] over every value of `v`.
    #[inline]
    pub fn tanh(self, v: &mut [f32]) {
        match self.isa {
            Isa::Baseline => tanh_all(v),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `dense`: only `detect` makes an `Avx2` kernel, on a CPU
            // that runs AVX2.
            Isa::Avx2 => unsafe { tanh_avx2(v) },
        }
    }
}

/// 64 outputs: 8 AVX2 registers of accumulators, half of the 16, the rest free for the
/// broadcast input and the weights (the bench graph's 64-unit layers are one tile).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dense_avx2(weights: &[f32], bias: &[f32], x: &[f32], out: &mut [f32]) {
    dense::<64>(weights, bias, x, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn tanh_avx2(v: &mut [f32]) {
    tanh_all(v)
}

/// Tiles of `TILE` outputs, then of [`LANES`] for the rest of the stride. The tile size
/// changes which outputs are computed together, never an output's own sum.
#[inline(always)]
fn dense<const TILE: usize>(weights: &[f32], bias: &[f32], x: &[f32], out: &mut [f32]) {
    let stride = out.len();
    let mut start = 0;
    while stride - start >= TILE {
        tile::<TILE>(weights, bias, x, start, out);
        start += TILE;
    }
    while start < stride {
        tile::<LANES>(weights, bias, x, start, out);
        start += LANES;
    }
}

/// Outputs `start..start + N`, their accumulators held in registers across the whole
/// input loop instead of loaded and stored once per input. The inner loop runs over
/// contiguous outputs with no horizontal sum, which LLVM vectorises without
/// reassociating anything.
#[inline(always)]
fn tile<const N: usize>(weights: &[f32], bias: &[f32], x: &[f32], start: usize, out: &mut [f32]) {
    let stride = out.len();
    let mut acc = [0.0f32; N];
    acc.copy_from_slice(&bias[start..start + N]);
    for (&xi, row) in x.iter().zip(weights.chunks_exact(stride)) {
        let w: &[f32; N] = row[start..start + N].try_into().expect("N weights");
        for k in 0..N {
            acc[k] += xi * w[k];
        }
    }
    out[start..start + N].copy_from_slice(&acc);
}

#[inline(always)]
fn tanh_all(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x = tanh(*x));
}

/// tanh as a rational function of x² (the [13/6] minimax approximation Eigen and
/// onnxruntime's MLAS use), clamped where f32 tanh is ±1 to within an ulp. libm's
/// `tanhf` is a call per element; this is branch-free and vectorises: 128 of them per
/// inference on the bench graph. Within 5e-7 of tanh everywhere (measured 4.0e-7, unit
/// test below), far inside the 1e-5 the engines must agree to.
#[inline(always)]
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

#[cfg(test)]
mod tests {
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

    /// A small deterministic generator: the values only need to vary, in sign and
    /// magnitude, including the extremes tanh clamps.
    fn values(seed: u32, n: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32 - 0.5) * 24.0
            })
            .collect()
    }

    /// The baseline kernel against a plain scalar loop in the same order: exact.
    #[test]
    fn dense_accumulates_each_output_in_input_order() {
        for (n_in, stride) in [(1, 8), (5, 8), (32, 64), (64, 72), (7, 104)] {
            let w = values(1, n_in * stride);
            let b = values(2, stride);
            let x = values(3, n_in);
            let mut want = b.clone();
            for (i, &xi) in x.iter().enumerate() {
                for (o, acc) in want.iter_mut().enumerate() {
                    *acc += xi * w[i * stride + o];
                }
            }
            let mut got = vec![0.0; stride];
            Kernel::BASELINE.dense(&w, &b, &x, &mut got);
            assert_eq!(got, want, "{n_in} → {stride}");
        }
    }

    /// The detected kernel (AVX2 on the hosts this runs on) gives the baseline's bits.
    /// On a CPU without AVX2 both are the baseline and the comparison is trivially
    /// equal, so the test also says which kernel it compared.
    #[test]
    fn the_detected_kernel_is_bit_identical_to_the_baseline() {
        let detected = Kernel::detect();
        eprintln!("comparing {} against baseline", detected.isa().name());
        for (n_in, stride) in [(32, 64), (64, 64), (64, 8), (3, 136), (128, 96)] {
            for seed in 0..20 {
                let w = values(seed * 3 + 1, n_in * stride);
                let b = values(seed * 3 + 2, stride);
                let x = values(seed * 3 + 3, n_in);
                let mut base = vec![0.0; stride];
                let mut wide = vec![0.0; stride];
                Kernel::BASELINE.dense(&w, &b, &x, &mut base);
                detected.dense(&w, &b, &x, &mut wide);
                assert_eq!(
                    base.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    wide.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "dense {n_in} → {stride}, seed {seed}"
                );
                Kernel::BASELINE.tanh(&mut base);
                detected.tanh(&mut wide);
                assert_eq!(
                    base.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    wide.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "tanh, seed {seed}"
                );
            }
        }
        let mut special = [f32::NAN, f32::INFINITY, -f32::INFINITY, -0.0, 0.0, 1e-40];
        let mut base = special;
        Kernel::BASELINE.tanh(&mut base);
        detected.tanh(&mut special);
        // NaN payloads may differ (Rust leaves them unspecified); no decision reads one.
        assert!(base[0].is_nan() && special[0].is_nan());
        assert_eq!(
            base[1..].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            special[1..].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "tanh of ±inf, ±0, a subnormal"
        );
    }

    #[test]
    #[should_panic(expected = "dense: 8 weights, 8 bias, 2 in, 8 out")]
    fn dense_refuses_lengths_that_do_not_fit() {
        Kernel::BASELINE.dense(&[0.0; 8], &[0.0; 8], &[0.0; 2], &mut [0.0; 8]);
    }
}
