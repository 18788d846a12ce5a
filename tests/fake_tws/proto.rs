//! Just enough of protobuf's wire format for the fake TWS: a field writer and a field
//! reader. `ibapi` 5.5 speaks protobuf from server version 201 and refuses servers below
//! 213, so there is no text protocol left to fake; its generated message types are
//! crate-private, so the field numbers used by the fake are written out where it builds
//! each message (they are TWS's `.proto` tags, as `ibapi` 5.5 carries them).

/// Builds one message, field by field.
#[derive(Default)]
pub struct Msg(Vec<u8>);

impl Msg {
    pub fn new() -> Msg {
        Msg::default()
    }

    fn key(&mut self, tag: u32, wire: u8) {
        varint(&mut self.0, u64::from(tag << 3 | u32::from(wire)));
    }

    /// An `int32`/`int64`/`bool` field (negative values sign-extended, as protobuf does).
    pub fn int(mut self, tag: u32, value: i64) -> Msg {
        self.key(tag, 0);
        varint(&mut self.0, value as u64);
        self
    }

    pub fn boolean(self, tag: u32, value: bool) -> Msg {
        self.int(tag, i64::from(value))
    }

    pub fn double(mut self, tag: u32, value: f64) -> Msg {
        self.key(tag, 1);
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn string(mut self, tag: u32, value: &str) -> Msg {
        self.bytes(tag, value.as_bytes());
        self
    }

    pub fn message(mut self, tag: u32, value: Msg) -> Msg {
        self.bytes(tag, &value.0);
        self
    }

    fn bytes(&mut self, tag: u32, value: &[u8]) {
        self.key(tag, 2);
        varint(&mut self.0, value.len() as u64);
        self.0.extend_from_slice(value);
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One field's value as the wire carries it.
#[derive(Clone, Debug)]
pub enum Value {
    Varint(u64),
    Fixed64(u64),
    Bytes(Vec<u8>),
    Fixed32(u32),
}

/// A decoded message: its fields in wire order (a repeated field appears once per value).
#[derive(Clone, Debug, Default)]
pub struct Fields(Vec<(u32, Value)>);

impl Fields {
    /// Parses `buf`; `None` if it is not a well-formed protobuf message.
    pub fn parse(buf: &[u8]) -> Option<Fields> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < buf.len() {
            let key = read_varint(buf, &mut i)?;
            let tag = u32::try_from(key >> 3).ok()?;
            let value = match key & 7 {
                0 => Value::Varint(read_varint(buf, &mut i)?),
                1 => {
                    let b = buf.get(i..i + 8)?;
                    i += 8;
                    Value::Fixed64(u64::from_le_bytes(b.try_into().ok()?))
                }
                2 => {
                    let len = usize::try_from(read_varint(buf, &mut i)?).ok()?;
                    let b = buf.get(i..i.checked_add(len)?)?;
                    i += len;
                    Value::Bytes(b.to_vec())
                }
                5 => {
                    let b = buf.get(i..i + 4)?;
                    i += 4;
                    Value::Fixed32(u32::from_le_bytes(b.try_into().ok()?))
                }
                _ => return None,
            };
            out.push((tag, value));
        }
        Some(Fields(out))
    }

    fn get(&self, tag: u32) -> Option<&Value> {
        self.0.iter().rev().find(|(t, _)| *t == tag).map(|(_, v)| v)
    }

    pub fn int(&self, tag: u32) -> Option<i64> {
        match self.get(tag)? {
            Value::Varint(v) => Some(*v as i64),
            _ => None,
        }
    }

    pub fn double(&self, tag: u32) -> Option<f64> {
        match self.get(tag)? {
            Value::Fixed64(v) => Some(f64::from_bits(*v)),
            _ => None,
        }
    }

    pub fn string(&self, tag: u32) -> Option<String> {
        match self.get(tag)? {
            Value::Bytes(b) => String::from_utf8(b.clone()).ok(),
            _ => None,
        }
    }

    pub fn message(&self, tag: u32) -> Option<Fields> {
        match self.get(tag)? {
            Value::Bytes(b) => Fields::parse(b),
            _ => None,
        }
    }
}

fn read_varint(buf: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*i)?;
        *i += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}
