//! The subset of `onnx.proto` (IR version 3 and later) a model's graph needs: ModelProto →
//! GraphProto → NodeProto, AttributeProto, TensorProto initializers (`raw_data`,
//! `float_data`, `int64_data`) and ValueInfoProto shapes. Fields outside the subset are
//! skipped, as protobuf prescribes. Subgraphs (`If`, `Loop` bodies) are not descended
//! into, so the nesting is the schema's own, at most five messages deep; every count and
//! size has a bound ([`Limits`]).

use super::OnnxError;
use super::wire::{Fields, Value, packed_floats, packed_varints, push_bounded};

/// `TensorProto.DataType` values this reader keeps the data of.
pub const FLOAT: i32 = 1;
pub const INT64: i32 = 7;

/// Bounds on what a file may hold, so a hostile one cannot exhaust memory. The defaults
/// are far above a policy network's needs: a 2×64 MLP is 40 KB, 20 nodes and 14 tensors.
#[derive(Copy, Clone, Debug)]
pub struct Limits {
    /// The whole file.
    pub bytes: usize,
    /// Nodes, initializers, inputs, outputs, attributes: each list.
    pub list: usize,
    /// Elements of one tensor (or one attribute's list).
    pub elements: usize,
    /// Dimensions of one tensor or shape.
    pub rank: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        bytes: 256 << 20,
        list: 65_536,
        elements: 64 << 20,
        rank: 16,
    };
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelProto {
    pub ir_version: i64,
    /// `(domain, version)`; the default domain is `""`.
    pub opset_import: Vec<(String, i64)>,
    pub producer_name: String,
    pub graph: GraphProto,
}

impl ModelProto {
    /// The opset version of the default (`ai.onnx`) domain, if imported.
    pub fn opset(&self) -> Option<i64> {
        self.opset_import
            .iter()
            .find(|(d, _)| d.is_empty() || d == "ai.onnx")
            .map(|&(_, v)| v)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GraphProto {
    pub name: String,
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeProto {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attributes: Vec<Attribute>,
}

impl NodeProto {
    pub fn attribute(&self, name: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.value)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub value: AttributeValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    Float(f32),
    Int(i64),
    String(Vec<u8>),
    Tensor(TensorProto),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    /// A type this reader does not keep (graphs, strings lists, sparse tensors…): its
    /// `AttributeProto.AttributeType` number.
    Other(i32),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TensorProto {
    pub name: String,
    pub dims: Vec<i64>,
    pub data_type: i32,
    pub data: TensorData,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum TensorData {
    Float(Vec<f32>),
    Int64(Vec<i64>),
    /// Another data type, or data stored outside the file (`external_data`).
    #[default]
    Unsupported,
}

impl TensorProto {
    /// Elements the dimensions promise (1 for a scalar); `None` for a negative
    /// dimension or an overflowing product.
    pub fn element_count(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |n, &d| {
            usize::try_from(d).ok().and_then(|d| n.checked_mul(d))
        })
    }
}

/// A graph input or output: its name, element type and shape when declared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValueInfo {
    pub name: String,
    /// `TensorProto.DataType`; `None` when not a tensor type or undeclared.
    pub elem_type: Option<i32>,
    /// `None` when the shape is not declared (any rank).
    pub shape: Option<Vec<Dim>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    /// A symbolic dimension (`"batch"`).
    Param(String),
    Unknown,
}

/// Parses a whole `.onnx` file.
pub fn parse_model(bytes: &[u8], limits: &Limits) -> Result<ModelProto, OnnxError> {
    if bytes.len() > limits.bytes {
        return Err(OnnxError::TooLarge {
            offset: 0,
            what: "bytes in the file",
            limit: limits.bytes,
        });
    }
    let mut model = ModelProto::default();
    let mut graph = None;
    let mut f = Fields::new(bytes, 0);
    while let Some((n, v, at)) = f.next_field()? {
        match (n, v) {
            (1, Value::Varint(x)) => model.ir_version = x as i64,
            (2, Value::Bytes(b)) => model.producer_name = string(b, at)?,
            (7, Value::Bytes(b)) => graph = Some(parse_graph(b, at, limits)?),
            (8, Value::Bytes(b)) => {
                let opset = parse_opset(b, at)?;
                push_bounded(&mut model.opset_import, opset, limits.list, at)?;
            }
            (1 | 2 | 7 | 8, _) => return Err(wrong_type("ModelProto", at)),
            _ => {}
        }
    }
    model.graph = graph.ok_or(OnnxError::Missing("ModelProto.graph"))?;
    Ok(model)
}

fn parse_opset(bytes: &[u8], base: usize) -> Result<(String, i64), OnnxError> {
    let (mut domain, mut version) = (String::new(), 0);
    let mut f = Fields::new(bytes, base);
    while let Some((n, v, at)) = f.next_field()? {
        match (n, v) {
            (1, Value::Bytes(b)) => domain = string(b, at)?,
            (2, Value::Varint(x)) => version = x as i64,
            (1 | 2, _) => return Err(wrong_type("OperatorSetIdProto", at)),
            _ => {}
        }
    }
    Ok((domain, version))
}

fn parse_graph(bytes: &[u8], base: usize, limits: &Limits) -> Result<GraphProto, OnnxError> {
    let mut g = GraphProto::default();
    let mut f = Fields::new(bytes, base);
    while let Some((n, v, at)) = f.next_field()? {
        match (n, v) {
            (1, Value::Bytes(b)) => {
                let node = parse_node(b, at, limits)?;
                push_bounded(&mut g.nodes, node, limits.list, at)?;
            }
            (2, Value::Bytes(b)) => g.name = string(b, at)?,
            (5, Value::Bytes(b)) => {
                let t = parse_tensor(b, at, limits)?;
                push_bounded(&mut g.initializers, t, limits.list, at)?;
            }
            (11, Value::Bytes(b)) => {
                let i = parse_value_info(b, at, limits)?;
                push_bounded(&mut g.inputs, i, limits.list, at)?;
            }
            (12, Value::Bytes(b)) => {
                let o = parse_value_info(b, at, limits)?;
                push_bounded(&mut g.outputs, o, limits.list, at)?;
            }
            (1 | 2 | 5 | 11 | 12, _) => return Err(wrong_type("GraphProto", at)),
            _ => {}
        }
    }
    Ok(g)
}

fn parse_node(bytes: &[u8], base: usize, limits: &Limits) -> Result<NodeProto, OnnxError> {
    let mut node = NodeProto::default();
    let mut f = Fields::new(bytes, base);
    while let Some((n, v, at)) = f.next_field()? {
        match (n, v) {
            (1, Value::Bytes(b)) => {
                push_bounded(&mut node.inputs, string(b, at)?, limits.list, at)?
            }
            (2, Value::Bytes(b)) => {
                push_bounded(&mut node.outputs, string(b, at)?, limits.list, at)?
            }
            (3, Value::Bytes(b)) => node.name = string(b, at)?,
            (4, Value::Bytes(b)) => node.op_type = string(b, at)?,
            (5, Value::Bytes(b)) => {
                let a = parse_attribute(b, at, limits)?;
                push_bounded(&mut node.attributes, a, limits.list, at)?;
            }
            (7, Value::Bytes(b)) => node.domain = string(b, at)?,
            (1..=5 | 7, _) => return Err(wrong_type("NodeProto", at)),
            _ => {}
        }
    }
    Ok(node)
}

fn parse_attribute(bytes: &[u8], base: usize, limits: &Limits) -> Result<Attribute, OnnxError> {
    let mut name = String::new();
    let mut kind = 0;
    let (mut float, mut int, mut s, mut t) = (0.0, 0, Vec::new(), None);
    let (mut floats, mut ints) = (Vec::new(), Vec::new());
    let mut f = Fields::new(bytes, base);
    while let Some((n, v, at)) = f.next_field()? {
        match (n, v) {
            (1, Value::Bytes(b)) => name = string(b, at)?,
            (20, Value::Varint(x)) => kind = x as i32,
            (2, Value::Fixed32(x)) => float = f32::from_bits(x),
            (3, Value::Varint(x)) => int = x as i64,
            (4, Value::Bytes(b)) => s = bounded_bytes(b, at, limits)?,
            (5, Value::Bytes(b)) => t = Some(parse_tensor(b, at, limits)?),
            (7, Value::Bytes(b)) => packed_floats(b, at, &mut floats, limits.elements)?,
            (7, Value::Fixed32(x)) => {
                push_bounded(&mut floats, f32::from_bits(x), limits.elements, at)?
            }
            (8, Value::Bytes(b)) => packed_varints(b, at, &mut ints, limits.elements)?,
            (8, Value::Varint(x)) => push_bounded(&mut ints, x as i64, limits.elements, at)?,
            (1 | 2 | 3 | 4 | 5 | 20, _) => return Err(wrong_type("AttributeProto", at)),
            _ => {}
        }
    }
    let value = match kind {
        1 => AttributeValue::Float(float),
        2 => AttributeValue::Int(int),
        3 => AttributeValue::String(s),
        4 => AttributeValue::Tensor(t.ok_or(OnnxError::Missing("AttributeProto.t"))?),
        6 => AttributeValue::Floats(floats),
        7 => AttributeValue::Ints(ints),
        other => AttributeValue::Other(other),
    };
    Ok(Attribute { name, value })
}

fn parse_tensor(bytes: &[u8], base: usize, limits: &Limits) -> Result<TensorProto, OnnxError> {
    let mut t = TensorProto::default();
    let (mut raw, mut floats, mut ints) = (None, Vec::new(), Vec::new());
    let mut external = false;
    let mut f = Fields::new(bytes, base);
    while let Some((n, v, at)) = f.next_field()? {
        match (n, v) {
            (1, Value::Bytes(b)) => packed_varints(b, at, &mut t.dims, limits.rank)?,
            (1, Value::Varint(x)) => push_bounded(&mut t.dims, x as i64, limits.rank, at)?,
            (2, Value::Varint(x)) => t.data_type = x as i32,
            (4, Value::Bytes(b)) => packed_floats(b, at, &mut floats, limits.elements)?,
            (4, Value::Fixed32(x)) => {
                push_bounded(&mut floats, f32::from_bits(x), limits.elements, at)?
            }
            (7, Value::Bytes(b)) => packed_varints(b, at, &mut ints, limits.elements)?,
            (7, Value::Varint(x)) => push_bounded(&mut ints, x as i64, limits.elements, at)?,
            (8, Value::Bytes(b)) => t.name = string(b, at)?,
            (9, Value::Bytes(b)) => raw = Some((b, at)),
            // data_location = EXTERNAL (1): the data is in another file.
            (14, Value::Varint(1)) | (13, Value::Bytes(_)) => external = true,
            (1 | 2 | 4 | 7 | 8 | 9, _) => return Err(wrong_type("TensorProto", at)),
            _ => {}
        }
    }
    let count = t.element_count().ok_or(OnnxError::BadTensor {
        tensor: t.name.clone(),
        what: format!("dimensions {:?} are negative or overflow", t.dims),
    })?;
    if count > limits.elements {
        return Err(OnnxError::TooLarge {
            offset: base,
            what: "elements in one tensor",
            limit: limits.elements,
        });
    }
    t.data = match (t.data_type, raw, external) {
        (_, _, true) => TensorData::Unsupported,
        (FLOAT, Some((b, at)), _) => {
            let mut v = Vec::new();
            packed_floats(b, at, &mut v, limits.elements)?;
            TensorData::Float(v)
        }
        (FLOAT, None, _) => TensorData::Float(floats),
        (INT64, Some((b, at)), _) => {
            if b.len() % 8 != 0 {
                return Err(OnnxError::Malformed {
                    offset: at,
                    what: "int64 raw_data not a multiple of 8 bytes",
                });
            }
            let v = b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            TensorData::Int64(v)
        }
        (INT64, None, _) => TensorData::Int64(ints),
        _ => TensorData::Unsupported,
    };
    let held = match &t.data {
        TensorData::Float(v) => Some(v.len()),
        TensorData::Int64(v) => Some(v.len()),
        TensorData::Unsupported => None,
    };
    if let Some(held) = held.filter(|&h| h != count) {
        return Err(OnnxError::BadTensor {
            tensor: t.name.clone(),
            what: format!(
                "dimensions {:?} promise {count} elements, data holds {held}",
                t.dims
            ),
        });
    }
    Ok(t)
}

fn parse_value_info(bytes: &[u8], base: usize, limits: &Limits) -> Result<ValueInfo, OnnxError> {
    let mut info = ValueInfo::default();
    let mut f = Fields::new(bytes, base);
    while let Some((n, v, at)) = f.next_field()? {
        match (n, v) {
            (1, Value::Bytes(b)) => info.name = string(b, at)?,
            (2, Value::Bytes(b)) => parse_type(b, at, limits, &mut info)?,
            (1 | 2, _) => return Err(wrong_type("ValueInfoProto", at)),
            _ => {}
        }
    }
    Ok(info)
}

/// TypeProto: only `tensor_type` (1) is kept.
fn parse_type(
    bytes: &[u8],
    base: usize,
    limits: &Limits,
    info: &mut ValueInfo,
) -> Result<(), OnnxError> {
    let mut f = Fields::new(bytes, base);
    while let Some((n, v, at)) = f.next_field()? {
        match (n, v) {
            (1, Value::Bytes(b)) => {
                let mut tensor = Fields::new(b, at);
                while let Some((n, v, at)) = tensor.next_field()? {
                    match (n, v) {
                        (1, Value::Varint(x)) => info.elem_type = Some(x as i32),
                        (2, Value::Bytes(b)) => info.shape = Some(parse_shape(b, at, limits)?),
                        (1 | 2, _) => return Err(wrong_type("TypeProto.Tensor", at)),
                        _ => {}
                    }
                }
            }
            (1, _) => return Err(wrong_type("TypeProto", at)),
            _ => {}
        }
    }
    Ok(())
}

fn parse_shape(bytes: &[u8], base: usize, limits: &Limits) -> Result<Vec<Dim>, OnnxError> {
    let mut dims = Vec::new();
    let mut f = Fields::new(bytes, base);
    while let Some((n, v, at)) = f.next_field()? {
        match (n, v) {
            (1, Value::Bytes(b)) => {
                let mut dim = Dim::Unknown;
                let mut d = Fields::new(b, at);
                while let Some((n, v, at)) = d.next_field()? {
                    match (n, v) {
                        (1, Value::Varint(x)) => dim = Dim::Fixed(x as i64),
                        (2, Value::Bytes(b)) => dim = Dim::Param(string(b, at)?),
                        (1 | 2, _) => return Err(wrong_type("TensorShapeProto.Dimension", at)),
                        _ => {}
                    }
                }
                push_bounded(&mut dims, dim, limits.rank, at)?;
            }
            (1, _) => return Err(wrong_type("TensorShapeProto", at)),
            _ => {}
        }
    }
    Ok(dims)
}

fn string(bytes: &[u8], offset: usize) -> Result<String, OnnxError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| OnnxError::Malformed {
        offset,
        what: "a string that is not UTF-8",
    })
}

fn bounded_bytes(bytes: &[u8], offset: usize, limits: &Limits) -> Result<Vec<u8>, OnnxError> {
    if bytes.len() > limits.elements {
        return Err(OnnxError::TooLarge {
            offset,
            what: "bytes in one attribute",
            limit: limits.elements,
        });
    }
    Ok(bytes.to_vec())
}

fn wrong_type(message: &'static str, offset: usize) -> OnnxError {
    OnnxError::WrongWireType { message, offset }
}
