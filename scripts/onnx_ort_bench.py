#!/usr/bin/env python3
"""onnxruntime's single-row latency on an ONNX model, the outside reference for
BENCHMARKS.md's "Inference" table (bench/inference.rs measures tickpipe's engines).

Needs `pip install onnxruntime numpy`; not run by CI. One thread (intra- and inter-op),
as the decision thread has one core; the session.run call from Python, so the figure
includes the binding's overhead, which a C++ caller would not pay.

Usage: scripts/onnx_ort_bench.py [MODEL] [--seconds S]   (default tests/fixtures/onnx/bench_mlp.onnx)
"""

import argparse
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default="tests/fixtures/onnx/bench_mlp.onnx")
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    width = inp.shape[1]
    rows = [np.random.default_rng(i).standard_normal((1, width)).astype(np.float32) for i in range(64)]
    for r in rows:
        session.run(None, {inp.name: r})
    best = float("inf")
    # Five rounds; the fastest is the least disturbed by the shared host.
    for _ in range(5):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds / 5:
            session.run(None, {inp.name: rows[n % 64]})
            n += 1
        best = min(best, (time.perf_counter() - start) / n)
    print(f"onnxruntime {ort.__version__}, {args.model}: {best * 1e9:.0f} ns per single-row run (best of 5)")


if __name__ == "__main__":
    main()
