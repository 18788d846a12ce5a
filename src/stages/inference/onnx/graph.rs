//! What the native engine can run: from one graph output back to the graph input, a
//! chain of dense layers (Gemm, or MatMul then Add) each optionally followed by Relu,
//! Tanh or Sigmoid, optionally ending in ArgMax, Softmax or LogSoftmax, with Identity
//! and Flatten passed through. That is what `torch.onnx.export` writes for a
//! stable-baselines3 `MlpPolicy`. Only the chain behind the requested output is read,
//! so the rest of the graph (the value head, `log_prob`'s Gather and Exp nodes) is
//! pruned away whatever ops it uses.

use std::collections::HashMap;

use crate::codec::onnx::{
    AttributeValue, Dim, FLOAT, GraphProto, NodeProto, TensorData, TensorProto,
};

/// One dense layer, `y = act(x · W + b)`, weights already scaled by Gemm's `alpha` and
/// the bias by its `beta`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub n_in: usize,
    pub n_out: usize,
    /// Row-major `[n_in][n_out]`: input `i`'s weights to every output.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub activation: Activation,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Activation {
    None,
    Relu,
    Tanh,
    Sigmoid,
}

/// What the chain's last node does to the last layer's outputs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Tail {
    None,
    /// The index of the first largest value, as one element.
    ArgMax,
    Softmax,
    LogSoftmax,
}

/// The chain behind one output, input first.
#[derive(Clone, Debug, PartialEq)]
pub struct Chain {
    pub n_in: usize,
    pub layers: Vec<Dense>,
    pub tail: Tail,
}

impl Chain {
    /// Elements of the output.
    pub fn n_out(&self) -> usize {
        match self.tail {
            Tail::ArgMax => 1,
            _ => self.layers.last().map_or(self.n_in, |l| l.n_out),
        }
    }
}

/// Why the chain behind an output is not one the native engine runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("output {output:?}: {why}")]
pub struct NotMlp {
    pub output: String,
    pub why: String,
}

/// The chain from `input` to `output`, or why there is none.
pub fn chain(graph: &GraphProto, input: &str, n_in: usize, output: &str) -> Result<Chain, NotMlp> {
    let fail = |why: String| NotMlp {
        output: output.to_string(),
        why,
    };
    let producers: HashMap<&str, &NodeProto> = graph
        .nodes
        .iter()
        .flat_map(|n| n.outputs.iter().map(move |o| (o.as_str(), n)))
        .collect();
    let constants = constants(graph);
    // Walk from the output back to the input; each node has one non-constant input.
    let mut nodes = Vec::new();
    let mut at = output;
    while at != input {
        let node = producers.get(at).ok_or_else(|| {
            fail(format!(
                "{at:?} is neither produced by a node nor the input"
            ))
        })?;
        if nodes.len() >= graph.nodes.len() {
            return Err(fail("the graph has a cycle".into()));
        }
        nodes.push(*node);
        let dynamic: Vec<&str> = node
            .inputs
            .iter()
            .map(String::as_str)
            .filter(|i| !i.is_empty() && !constants.contains_key(i))
            .collect();
        match dynamic.as_slice() {
            [one] => at = one,
            _ => {
                return Err(fail(format!(
                    "node {:?} ({}) takes {} computed inputs; a layer takes one",
                    node.name,
                    node.op_type,
                    dynamic.len()
                )));
            }
        }
    }
    nodes.reverse();

    if n_in == 0 {
        return Err(fail("the input row is empty".into()));
    }
    let mut chain = Chain {
        n_in,
        layers: Vec::new(),
        tail: Tail::None,
    };
    let mut width = n_in;
    // Whether the last layer can still take a bias (a MatMul's Add).
    let mut open_matmul = false;
    for node in nodes {
        let why = |what: String| fail(format!("node {:?} ({}): {what}", node.name, node.op_type));
        if chain.tail != Tail::None {
            return Err(why(format!(
                "follows {:?}, which must end the chain",
                chain.tail
            )));
        }
        if !node.domain.is_empty() && node.domain != "ai.onnx" {
            return Err(why(format!("domain {:?} is not ONNX's", node.domain)));
        }
        let constant = |k: usize| {
            node.inputs
                .get(k)
                .and_then(|n| constants.get(n.as_str()).copied())
        };
        let after_matmul = std::mem::take(&mut open_matmul);
        match node.op_type.as_str() {
            "Identity" => {}
            "Flatten" => {
                let axis = int_attr(node, "axis", 1);
                if axis != 1 && axis != -1 {
                    return Err(why(format!(
                        "axis {axis}; a row of features flattens on axis 1"
                    )));
                }
            }
            "Gemm" => {
                let dense = gemm(node, width, constant(1), constant(2)).map_err(why)?;
                width = dense.n_out;
                chain.layers.push(dense);
            }
            "MatMul" => {
                let b = constant(1).ok_or_else(|| why("the weights are not a constant".into()))?;
                let (weights, n_out) = matrix(b, width, false).map_err(why)?;
                chain.layers.push(Dense {
                    n_in: width,
                    n_out,
                    weights,
                    bias: vec![0.0; n_out],
                    activation: Activation::None,
                });
                width = n_out;
                open_matmul = true;
            }
            "Add" if after_matmul => {
                let c = constant(0)
                    .or(constant(1))
                    .ok_or_else(|| why("the bias is not a constant".into()))?;
                let last = chain.layers.last_mut().expect("a MatMul came before");
                last.bias = bias(c, width, 1.0).map_err(why)?;
            }
            op @ ("Relu" | "Tanh" | "Sigmoid") => {
                let last = chain
                    .layers
                    .last_mut()
                    .filter(|l| l.activation == Activation::None)
                    .ok_or_else(|| why("an activation must follow a dense layer".into()))?;
                last.activation = match op {
                    "Relu" => Activation::Relu,
                    "Tanh" => Activation::Tanh,
                    _ => Activation::Sigmoid,
                };
            }
            op @ ("ArgMax" | "Softmax" | "LogSoftmax") => {
                let axis = int_attr(node, "axis", if op == "ArgMax" { 0 } else { -1 });
                if axis != 1 && axis != -1 {
                    return Err(why(format!(
                        "axis {axis}; the chain's rows reduce on axis 1"
                    )));
                }
                if op == "ArgMax" && int_attr(node, "select_last_index", 0) != 0 {
                    return Err(why("select_last_index must be 0".into()));
                }
                chain.tail = match op {
                    "ArgMax" => Tail::ArgMax,
                    "Softmax" => Tail::Softmax,
                    _ => Tail::LogSoftmax,
                };
            }
            _ => return Err(why("not an MLP operator".into())),
        }
    }
    Ok(chain)
}

/// Initializers and Constant nodes' values, by name.
fn constants(graph: &GraphProto) -> HashMap<&str, &TensorProto> {
    let mut out: HashMap<&str, &TensorProto> = graph
        .initializers
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    for node in graph.nodes.iter().filter(|n| n.op_type == "Constant") {
        if let (Some(AttributeValue::Tensor(t)), Some(name)) =
            (node.attribute("value"), node.outputs.first())
        {
            out.insert(name.as_str(), t);
        }
    }
    out
}

fn int_attr(node: &NodeProto, name: &str, default: i64) -> i64 {
    match node.attribute(name) {
        Some(AttributeValue::Int(v)) => *v,
        _ => default,
    }
}

fn float_attr(node: &NodeProto, name: &str, default: f32) -> f32 {
    match node.attribute(name) {
        Some(AttributeValue::Float(v)) => *v,
        _ => default,
    }
}

/// Gemm `alpha · A · B + beta · C` with A the row of width `width`.
fn gemm(
    node: &NodeProto,
    width: usize,
    b: Option<&TensorProto>,
    c: Option<&TensorProto>,
) -> Result<Dense, String> {
    if int_attr(node, "transA", 0) != 0 {
        return Err("transA must be 0: the input is a row".into());
    }
    let b = b.ok_or("the weights are not a constant")?;
    let (alpha, beta) = (
        float_attr(node, "alpha", 1.0),
        float_attr(node, "beta", 1.0),
    );
    let (mut weights, n_out) = matrix(b, width, int_attr(node, "transB", 0) != 0)?;
    weights.iter_mut().for_each(|w| *w *= alpha);
    let bias = match c {
        Some(c) => bias(c, n_out, beta)?,
        None => vec![0.0; n_out],
    };
    Ok(Dense {
        n_in: width,
        n_out,
        weights,
        bias,
        activation: Activation::None,
    })
}

/// A weight matrix as `[n_in][n_out]`, from `[n_in, n_out]` (or `[n_out, n_in]` when
/// `transposed`); its `n_in` must be `width`.
fn matrix(t: &TensorProto, width: usize, transposed: bool) -> Result<(Vec<f32>, usize), String> {
    let data = floats(t)?;
    let [rows, cols] = t.dims[..] else {
        return Err(format!(
            "weights {:?} have shape {:?}; expected rank 2",
            t.name, t.dims
        ));
    };
    let (n_in, n_out) = if transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    if n_in as usize != width {
        return Err(format!(
            "weights {:?} have shape {:?}: {n_in} inputs, expected {width}",
            t.name, t.dims
        ));
    }
    let n_out = n_out as usize;
    if n_out == 0 {
        return Err(format!(
            "weights {:?} have shape {:?}: no outputs",
            t.name, t.dims
        ));
    }
    let weights = if transposed {
        (0..width)
            .flat_map(|i| (0..n_out).map(move |o| data[o * width + i]))
            .collect()
    } else {
        data.to_vec()
    };
    Ok((weights, n_out))
}

/// A bias of `n_out` values (shape `[n_out]`, `[1, n_out]`, or one value broadcast),
/// times `scale`.
fn bias(t: &TensorProto, n_out: usize, scale: f32) -> Result<Vec<f32>, String> {
    let data = floats(t)?;
    let v: Vec<f32> = match data.len() {
        1 => vec![data[0]; n_out],
        n if n == n_out && t.dims.iter().rev().skip(1).all(|&d| d == 1) => data.to_vec(),
        _ => {
            return Err(format!(
                "bias {:?} has shape {:?}; expected [{n_out}] or [1, {n_out}]",
                t.name, t.dims
            ));
        }
    };
    Ok(v.into_iter().map(|b| b * scale).collect())
}

fn floats(t: &TensorProto) -> Result<&[f32], String> {
    match (&t.data, t.data_type) {
        (TensorData::Float(v), FLOAT) => Ok(v),
        _ => Err(format!(
            "constant {:?} is not float32 data in the file (data type {})",
            t.name, t.data_type
        )),
    }
}

/// The row width a graph input's declared shape gives: `[1, n]` or `[batch, n]` (a
/// symbolic batch), or `[n]`.
pub fn row_width(shape: &[Dim]) -> Option<usize> {
    match shape {
        [Dim::Fixed(n)] => usize::try_from(*n).ok(),
        [Dim::Fixed(1) | Dim::Param(_) | Dim::Unknown, Dim::Fixed(n)] => usize::try_from(*n).ok(),
        _ => None,
    }
}

/// Elements of a declared output shape, when every dimension is fixed or a batch of 1.
pub fn elements(shape: &[Dim]) -> Option<usize> {
    shape
        .iter()
        .enumerate()
        .try_fold(1usize, |n, (i, d)| match d {
            Dim::Fixed(d) => usize::try_from(*d).ok().and_then(|d| n.checked_mul(d)),
            Dim::Param(_) | Dim::Unknown if i == 0 && shape.len() > 1 => Some(n),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::onnx::{Limits, parse_model};

    fn graph(name: &str) -> GraphProto {
        let path = format!(
            "{}/tests/fixtures/onnx/{name}.onnx",
            env!("CARGO_MANIFEST_DIR")
        );
        parse_model(&std::fs::read(path).unwrap(), &Limits::DEFAULT)
            .unwrap()
            .graph
    }

    #[test]
    fn the_ppo_policy_prunes_to_three_layers_and_an_argmax() {
        let g = graph("ppo_discrete");
        let c = chain(&g, "input", 5, "actions").unwrap();
        let shapes: Vec<(usize, usize, Activation)> = c
            .layers
            .iter()
            .map(|l| (l.n_in, l.n_out, l.activation))
            .collect();
        assert_eq!(
            shapes,
            [
                (5, 64, Activation::Tanh),
                (64, 64, Activation::Tanh),
                (64, 3, Activation::None)
            ]
        );
        assert_eq!(c.tail, Tail::ArgMax);
        assert_eq!(c.n_out(), 1);
        let values = chain(&g, "input", 5, "values").unwrap();
        assert_eq!(values.n_out(), 1);
        assert_eq!(values.tail, Tail::None);
    }

    #[test]
    fn log_prob_is_not_an_mlp_and_says_why() {
        let g = graph("ppo_discrete");
        let err = chain(&g, "input", 5, "log_prob").unwrap_err();
        assert_eq!(err.output, "log_prob");
        assert!(err.why.contains("computed inputs"), "{}", err.why);
        let g = graph("ppo_continuous");
        assert!(chain(&g, "input", 5, "log_prob").is_err());
        let c = chain(&g, "input", 5, "actions").unwrap();
        assert_eq!(c.layers.len(), 3, "MatMul + Add is one layer");
        assert_eq!(c.layers[2].bias.len(), 1);
    }

    #[test]
    fn a_wrong_width_names_the_weights_and_both_shapes() {
        let g = graph("relu_mlp");
        let err = chain(&g, "input", 6, "probs").unwrap_err();
        assert_eq!(
            err.why,
            "node \"\" (Gemm): weights \"w0\" have shape [5, 16]: 5 inputs, expected 6"
        );
        let c = chain(&g, "input", 5, "probs").unwrap();
        assert_eq!(c.tail, Tail::Softmax);
        assert_eq!(c.layers[0].activation, Activation::Relu);
        assert_eq!(c.layers[1].activation, Activation::Sigmoid);
    }

    #[test]
    fn shapes_give_widths() {
        assert_eq!(row_width(&[Dim::Fixed(1), Dim::Fixed(5)]), Some(5));
        assert_eq!(
            row_width(&[Dim::Param("batch".into()), Dim::Fixed(5)]),
            Some(5)
        );
        assert_eq!(row_width(&[Dim::Fixed(2), Dim::Fixed(5)]), None);
        assert_eq!(elements(&[Dim::Fixed(1), Dim::Fixed(3)]), Some(3));
        assert_eq!(elements(&[Dim::Param("n".into()), Dim::Fixed(3)]), Some(3));
        assert_eq!(elements(&[Dim::Fixed(1)]), Some(1));
        assert_eq!(elements(&[]), Some(1));
    }
}
