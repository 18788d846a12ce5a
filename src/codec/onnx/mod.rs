//! ONNX model files: a reader for the part of `onnx.proto` an inference graph needs,
//! written against the protobuf wire format directly ([`wire`]), so loading a model for
//! the native engine needs no protobuf or ONNX runtime crate.
//!
//! [`parse_model`] is bounded ([`Limits`]: file size, list lengths, tensor sizes, rank)
//! and never panics on any input (`fuzz/fuzz_targets/onnx.rs`). It checks the wire format
//! and that each tensor's data matches its dimensions; what a graph means is for the
//! inference stage to judge.

mod proto;
pub mod wire;

pub use proto::{
    Attribute, AttributeValue, Dim, FLOAT, GraphProto, INT64, Limits, ModelProto, NodeProto,
    TensorData, TensorProto, ValueInfo, parse_model,
};

/// Why a file is not a readable ONNX model. Offsets are bytes from the file's start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnnxError {
    #[error("offset {offset}: malformed protobuf: {what}")]
    Malformed { offset: usize, what: &'static str },
    #[error("offset {offset}: a field of {message} has the wrong wire type")]
    WrongWireType {
        message: &'static str,
        offset: usize,
    },
    #[error("offset {offset}: more than {limit} {what}")]
    TooLarge {
        offset: usize,
        what: &'static str,
        limit: usize,
    },
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("tensor {tensor:?}: {what}")]
    BadTensor { tensor: String, what: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/onnx/{name}.onnx",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).unwrap()
    }

    #[test]
    fn reads_the_ppo_fixture() {
        let m = parse_model(&fixture("ppo_discrete"), &Limits::DEFAULT).unwrap();
        assert_eq!(m.ir_version, 8);
        assert_eq!(m.opset(), Some(17));
        let g = &m.graph;
        assert_eq!(g.inputs.len(), 1);
        assert_eq!(g.inputs[0].name, "input");
        assert_eq!(g.inputs[0].elem_type, Some(FLOAT));
        assert_eq!(g.inputs[0].shape, Some(vec![Dim::Fixed(1), Dim::Fixed(5)]));
        let outputs: Vec<&str> = g.outputs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(outputs, ["actions", "values", "log_prob"]);
        assert_eq!(g.outputs[0].elem_type, Some(INT64));
        let w = g
            .initializers
            .iter()
            .find(|t| t.name == "mlp_extractor.policy_net.0.weight")
            .unwrap();
        assert_eq!(w.dims, [64, 5]);
        assert!(matches!(&w.data, TensorData::Float(v) if v.len() == 320));
        let gemm = g.nodes.iter().find(|n| n.op_type == "Gemm").unwrap();
        assert_eq!(gemm.attribute("transB"), Some(&AttributeValue::Int(1)));
        assert_eq!(gemm.attribute("alpha"), Some(&AttributeValue::Float(1.0)));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = fixture("relu_mlp");
        for len in (0..bytes.len()).step_by(7) {
            // A prefix may happen to end on a field boundary; it must never panic.
            let _ = parse_model(&bytes[..len], &Limits::DEFAULT);
        }
        assert_eq!(
            parse_model(&[], &Limits::DEFAULT),
            Err(OnnxError::Missing("ModelProto.graph"))
        );
    }

    #[test]
    fn limits_bound_the_file_and_its_tensors() {
        let bytes = fixture("relu_mlp");
        let small = Limits {
            bytes: 100,
            ..Limits::DEFAULT
        };
        assert!(matches!(
            parse_model(&bytes, &small),
            Err(OnnxError::TooLarge { .. })
        ));
        let few = Limits {
            elements: 10,
            ..Limits::DEFAULT
        };
        assert!(matches!(
            parse_model(&bytes, &few),
            Err(OnnxError::TooLarge { .. })
        ));
    }

    #[test]
    fn data_that_does_not_fill_its_dimensions_is_refused() {
        // TensorProto { dims: [2], data_type: FLOAT, name: "t", float_data: [1.0] },
        // inside GraphProto.initializer, inside ModelProto.graph.
        let mut tensor = vec![0x08, 0x02, 0x10, 0x01, 0x42, 0x01, b't', 0x25];
        tensor.extend(1.0f32.to_le_bytes());
        let mut graph = vec![0x2a, tensor.len() as u8];
        graph.extend(&tensor);
        let mut model = vec![0x3a, graph.len() as u8];
        model.extend(&graph);
        let err = parse_model(&model, &Limits::DEFAULT).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tensor \"t\": dimensions [2] promise 2 elements, data holds 1"
        );
    }
}
