#!/usr/bin/env python3
"""Trains a small policy on `tickpipe export-features` output and writes it as ONNX in the
shape `[model] kind = "onnx"` loads, with the [model.onnx] table to paste into a config.

Optional, not run by CI or the tests; needs `pip install numpy onnx`. No torch: a numpy
MLP (features -> 16 Tanh -> 3 logits, softmax cross-entropy, full-batch gradient descent)
exported with onnx's helper API as Gemm (transB=1, as torch writes nn.Linear), Tanh,
Gemm, ArgMax, the graph stable-baselines3 exports for a discrete PPO policy.

The label is the move of the mid over the export's horizon: long when it rose by more
than --dead-zone-bps, short when it fell by more, flat otherwise. Rows with no mid or no
label (a one-sided book, the session's last horizon) are dropped.

Usage:
  tickpipe export-features --out features.csv --horizon-ms 500
  scripts/train_policy.py features.csv --out policy.onnx
  tickpipe model eval policy.onnx --input policy.rows.f32   # written beside it
"""

import argparse
import csv

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FEATURES = ["microprice_bps", "spread_bps", "imbalance", "volatility_bps", "trade_flow"]
ACTIONS = ["short", "flat", "long"]


def load(path, dead_zone_bps):
    x, y = [], []
    with open(path) as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            if not row["mid"] or not row["mid_later"]:
                continue
            mid, later = float(row["mid"]), float(row["mid_later"])
            move_bps = (later - mid) / mid * 1e4
            x.append([float(row[k]) for k in FEATURES])
            y.append(2 if move_bps > dead_zone_bps else 0 if move_bps < -dead_zone_bps else 1)
    if not x:
        raise SystemExit(f"{path}: no labelled rows")
    return np.array(x, np.float32), np.array(y, np.int64)


def train(x, y, hidden, epochs, lr, seed):
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((hidden, x.shape[1])) / np.sqrt(x.shape[1])).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = (rng.standard_normal((3, hidden)) / np.sqrt(hidden)).astype(np.float32)
    b2 = np.zeros(3, np.float32)
    onehot = np.eye(3, dtype=np.float32)[y]
    # Class weights: a market is flat most of the time; unweighted, "flat" always wins.
    weight = (len(y) / (3 * np.maximum(np.bincount(y, minlength=3), 1))).astype(np.float32)[y]
    for epoch in range(epochs):
        h = np.tanh(x @ w1.T + b1)
        logits = h @ w2.T + b2
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * weight[:, None] / len(y)
        gw2, gb2 = g.T @ h, g.sum(axis=0)
        gh = (g @ w2) * (1 - h * h)
        gw1, gb1 = gh.T @ x, gh.sum(axis=0)
        for param, grad in ((w1, gw1), (b1, gb1), (w2, gw2), (b2, gb2)):
            param -= lr * grad
        if epoch % max(1, epochs // 5) == 0 or epoch == epochs - 1:
            loss = -(np.log(p[np.arange(len(y)), y] + 1e-9) * weight).mean()
            accuracy = (p.argmax(axis=1) == y).mean()
            print(f"epoch {epoch}: loss {loss:.4f}, accuracy {accuracy:.3f}")
    return w1, b1, w2, b2


def export(path, w1, b1, w2, b2):
    n_in = w1.shape[1]
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w1, "pi.0.weight"), (b1, "pi.0.bias"), (w2, "action_net.weight"), (b2, "action_net.bias"))]
    nodes = [
        helper.make_node("Gemm", ["input", "pi.0.weight", "pi.0.bias"], ["h0"], transB=1),
        helper.make_node("Tanh", ["h0"], ["h0.tanh"]),
        helper.make_node("Gemm", ["h0.tanh", "action_net.weight", "action_net.bias"], ["logits"], transB=1),
        helper.make_node("ArgMax", ["logits"], ["actions"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "policy",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info("actions", TensorProto.INT64, [1]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="tickpipe scripts/train_policy.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", help="tickpipe export-features output")
    ap.add_argument("--out", required=True, help="where to write the ONNX policy")
    ap.add_argument("--dead-zone-bps", type=float, default=0.5)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    x, y = load(args.csv, args.dead_zone_bps)  # float32, as the pipeline's features
    print(f"{len(y)} labelled rows; short/flat/long: {np.bincount(y, minlength=3).tolist()}")
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    params = train((x - mean) / std, y, args.hidden, args.epochs, args.lr, args.seed)
    export(args.out, *params)
    rows = args.out.rsplit(".", 1)[0] + ".rows.f32"
    ((x[:16] - mean) / std).astype("<f4").tofile(rows)
    print(f"wrote {args.out}, and {rows}: 16 rows normalised as the pipeline does, for model eval")
    print("\n# [model] for config/tickpipe.toml (a discrete action scores -1, 0 or +1):")
    print('[model]\nkind = "onnx"\nenter_threshold = 0.5\nexit_threshold = 0.5\ntarget_qty = 100\n')
    print(f'[model.onnx]\npath = "{args.out}"\nengine = "auto"\ninput = "input"\nfeatures = [')
    for name, m, s in zip(FEATURES, mean, std):
        print(f'    {{ feature = "{name}", mean = {m:.6g}, std = {s:.6g} }},')
    print(']\noutput = { name = "actions", kind = "discrete", actions = ["short", "flat", "long"] }')


if __name__ == "__main__":
    main()
