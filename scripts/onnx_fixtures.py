#!/usr/bin/env python3
"""Builds the ONNX test models under tests/fixtures/onnx/ and records what onnxruntime
answers for each, so the Rust tests compare both engines with the reference runtime.

Needs `pip install onnx onnxruntime numpy`; neither the build, the tests nor CI run it:
its outputs are checked in. Deterministic: a fixed seed gives the same files.

The models mirror what stable-baselines3's `OnnxableSB3Policy` exports through
`torch.onnx.export` (opset 17, a fixed batch of 1):
- ppo_discrete: PPO MlpPolicy, Discrete(3) actions: separate policy and value networks
  of two 64-unit Tanh layers (Gemm, transB=1, as torch writes nn.Linear), ArgMax actions,
  the value head, and a log_prob output (LogSoftmax, GatherElements) no decision needs.
- ppo_continuous: the same with a Box action: the action mean through MatMul + Add (as
  torch writes a Linear layer without Gemm fusion), and a Gaussian log_prob subgraph.
- relu_mlp: a small Relu/Sigmoid MLP ending in Softmax and LogSoftmax, Gemm with
  transB=0 and alpha/beta other than 1.
- bench_mlp: the benchmark's graph, 32 inputs, 2x64 Tanh, 3 logits.

Usage: scripts/onnx_fixtures.py [OUT_DIR]   (default tests/fixtures/onnx)
"""

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
ROWS = 16
RNG = np.random.default_rng(20261204)


def weights(name, shape, scale=None):
    fan_in = shape[-1] if scale is None else None
    s = scale if scale is not None else 1.0 / np.sqrt(fan_in)
    return numpy_helper.from_array((RNG.standard_normal(shape) * s).astype(np.float32), name)


def linear_gemm(prefix, x, n_in, n_out, inits, nodes):
    """nn.Linear as torch exports it: Gemm(x, W[out, in], b, transB=1)."""
    inits += [weights(f"{prefix}.weight", [n_out, n_in]), weights(f"{prefix}.bias", [n_out], 0.1)]
    y = f"{prefix}.out"
    nodes.append(helper.make_node("Gemm", [x, f"{prefix}.weight", f"{prefix}.bias"], [y],
                                  name=f"/{prefix}/Gemm", alpha=1.0, beta=1.0, transB=1))
    return y


def linear_matmul(prefix, x, n_in, n_out, inits, nodes):
    """nn.Linear as MatMul(x, W[in, out]) + Add(b)."""
    inits += [weights(f"{prefix}.weight_t", [n_in, n_out], 1.0 / np.sqrt(n_in)),
              weights(f"{prefix}.bias", [n_out], 0.1)]
    m, y = f"{prefix}.mm", f"{prefix}.out"
    nodes.append(helper.make_node("MatMul", [x, f"{prefix}.weight_t"], [m], name=f"/{prefix}/MatMul"))
    nodes.append(helper.make_node("Add", [m, f"{prefix}.bias"], [y], name=f"/{prefix}/Add"))
    return y


def act(op, x, nodes, **attrs):
    y = f"{x}.{op.lower()}"
    nodes.append(helper.make_node(op, [x], [y], name=f"/{x}/{op}", **attrs))
    return y


def mlp(prefix, x, sizes, activation, inits, nodes, linear=linear_gemm):
    """Hidden layers of `sizes`, each followed by `activation`."""
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        x = act(activation, linear(f"{prefix}.{2 * i}", x, a, b, inits, nodes), nodes)
    return x


def ppo(n_obs, continuous):
    inits, nodes = [], []
    nodes.append(helper.make_node("Flatten", ["input"], ["obs"], name="/features_extractor/Flatten", axis=1))
    pi = mlp("mlp_extractor.policy_net", "obs", [n_obs, 64, 64], "Tanh", inits, nodes)
    vf = mlp("mlp_extractor.value_net", "obs", [n_obs, 64, 64], "Tanh", inits, nodes)
    value = linear_gemm("value_net", vf, 64, 1, inits, nodes)
    nodes.append(helper.make_node("Identity", [value], ["values"], name="/Identity"))
    if continuous:
        mean = linear_matmul("action_net", pi, 64, 1, inits, nodes)
        nodes.append(helper.make_node("Identity", [mean], ["actions"], name="/actions"))
        # Gaussian log-density of the mean itself: sum(-log_std - log(sqrt(2 pi))).
        inits += [numpy_helper.from_array(np.array([-0.5], np.float32), "log_std"),
                  numpy_helper.from_array(np.array(0.5 * np.log(2 * np.pi), np.float32), "log_sqrt_2pi"),
                  numpy_helper.from_array(np.array([1], np.int64), "sum_axes")]
        nodes += [
            helper.make_node("Sub", ["actions", mean], ["diff"]),
            helper.make_node("Mul", ["diff", "diff"], ["sq"]),
            helper.make_node("Exp", ["log_std"], ["std"]),
            helper.make_node("Mul", ["std", "std"], ["var"]),
            helper.make_node("Div", ["sq", "var"], ["z"]),
            helper.make_node("Neg", ["z"], ["negz"]),
            helper.make_node("Sub", ["negz", "log_std"], ["a"]),
            helper.make_node("Sub", ["a", "log_sqrt_2pi"], ["b"]),
            helper.make_node("ReduceSum", ["b", "sum_axes"], ["log_prob"], keepdims=0),
        ]
        outputs = [("actions", TensorProto.FLOAT, [1, 1])]
    else:
        logits = linear_gemm("action_net", pi, 64, 3, inits, nodes)
        inits.append(numpy_helper.from_array(np.array([1], np.int64), "unsqueeze_axes"))
        nodes += [
            helper.make_node("ArgMax", [logits], ["actions"], axis=1, keepdims=0),
            helper.make_node("LogSoftmax", [logits], ["log_probs_all"], axis=1),
            helper.make_node("Unsqueeze", ["actions", "unsqueeze_axes"], ["action_index"]),
            helper.make_node("GatherElements", ["log_probs_all", "action_index"], ["chosen"], axis=1),
            helper.make_node("Squeeze", ["chosen", "unsqueeze_axes"], ["log_prob"]),
        ]
        outputs = [("actions", TensorProto.INT64, [1])]
    outputs += [("values", TensorProto.FLOAT, [1, 1]), ("log_prob", TensorProto.FLOAT, [1])]
    return graph("ppo", n_obs, nodes, inits, outputs)


def relu_mlp(n_obs):
    inits, nodes = [], []
    inits += [weights("w0", [n_obs, 16]), weights("b0", [1, 16], 0.1)]
    nodes.append(helper.make_node("Gemm", ["input", "w0", "b0"], ["h0"], alpha=0.5, beta=2.0))
    h = act("Relu", "h0", nodes)
    h = act("Sigmoid", linear_gemm("l1", h, 16, 16, inits, nodes), nodes)
    h = act("Relu", linear_matmul("l2", h, 16, 8, inits, nodes), nodes)
    logits = linear_gemm("head", h, 8, 3, inits, nodes)
    nodes.append(helper.make_node("Softmax", [logits], ["probs"], axis=-1))
    nodes.append(helper.make_node("LogSoftmax", [logits], ["log_probs"], axis=1))
    outputs = [("probs", TensorProto.FLOAT, [1, 3]), ("log_probs", TensorProto.FLOAT, [1, 3])]
    return graph("relu_mlp", n_obs, nodes, inits, outputs)


def bench_mlp(n_obs):
    inits, nodes = [], []
    h = mlp("pi", "input", [n_obs, 64, 64], "Tanh", inits, nodes)
    logits = linear_gemm("action_net", h, 64, 3, inits, nodes)
    nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    return graph("bench_mlp", n_obs, nodes, inits, [("logits", TensorProto.FLOAT, [1, 3])])


def graph(name, n_obs, nodes, inits, outputs):
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, n_obs])],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tickpipe scripts/onnx_fixtures.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def inputs(n_obs):
    """Random rows, then rows that saturate Tanh and Sigmoid, and zeros."""
    rows = RNG.standard_normal((ROWS - 3, n_obs)).astype(np.float32)
    extreme = np.array([np.full(n_obs, 40.0), np.full(n_obs, -40.0), np.zeros(n_obs)], np.float32)
    return np.concatenate([rows, extreme])


def record(out_dir, name, model):
    path = os.path.join(out_dir, f"{name}.onnx")
    onnx.save(model, path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    n_obs = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    x = inputs(n_obs)
    x.astype("<f4").tofile(os.path.join(out_dir, f"{name}.inputs.f32"))
    names = [o.name for o in session.get_outputs()]
    per_output = {n: {"dtype": None, "shape": None, "rows": []} for n in names}
    for row in x:
        for n, value in zip(names, session.run(names, {"input": row[None, :]})):
            entry = per_output[n]
            entry["dtype"], entry["shape"] = str(value.dtype), list(value.shape)
            entry["rows"].append([v.item() for v in value.ravel()])
    fixture = {"onnxruntime": ort.__version__, "input": "input", "width": int(n_obs), "outputs": per_output}
    with open(os.path.join(out_dir, f"{name}.ort.json"), "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"{path}: {os.path.getsize(path)} bytes, {len(x)} rows, outputs {names}")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/onnx"
    os.makedirs(out_dir, exist_ok=True)
    record(out_dir, "ppo_discrete", ppo(5, continuous=False))
    record(out_dir, "ppo_continuous", ppo(5, continuous=True))
    record(out_dir, "relu_mlp", relu_mlp(5))
    record(out_dir, "bench_mlp", bench_mlp(32))


if __name__ == "__main__":
    main()
