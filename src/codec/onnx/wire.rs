//! The protobuf wire format, as much as `onnx.proto` needs: varints, fixed 32- and 64-bit
//! values and length-delimited fields. Groups (wire types 3 and 4, deprecated in proto2
//! and unused by ONNX) are errors. Every read is bounds-checked: a truncated or hostile
//! buffer is an [`OnnxError`], never a panic.

use super::OnnxError;

/// One field's value, as the wire type carries it.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Reads the fields of one message, in order.
pub struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Where the message starts in the whole file: errors carry file offsets.
    base: usize,
}

impl<'a> Fields<'a> {
    pub fn new(bytes: &'a [u8], base: usize) -> Fields<'a> {
        Fields { bytes, at: 0, base }
    }

    /// The file offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.at
    }

    /// The next field's number and value, or `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, Value<'a>, usize)>, OnnxError> {
        if self.at == self.bytes.len() {
            return Ok(None);
        }
        let start = self.offset();
        let key = self.varint()?;
        let number =
            u32::try_from(key >> 3)
                .ok()
                .filter(|&n| n != 0)
                .ok_or(OnnxError::Malformed {
                    offset: start,
                    what: "field number 0 or beyond 2^29",
                })?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take_array()?)),
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&l| l <= self.bytes.len() - self.at)
                    .ok_or(OnnxError::Malformed {
                        offset: self.offset(),
                        what: "a length past the end of its message",
                    })?;
                let value_start = self.offset();
                let slice = &self.bytes[self.at..self.at + len];
                self.at += len;
                return Ok(Some((number, Value::Bytes(slice), value_start)));
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take_array()?)),
            _ => {
                return Err(OnnxError::Malformed {
                    offset: start,
                    what: "a wire type ONNX does not use (a group, or 6 or 7)",
                });
            }
        };
        Ok(Some((number, value, start)))
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], OnnxError> {
        let end = self.at.checked_add(N).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(OnnxError::Malformed {
                offset: self.offset(),
                what: "a fixed-width value cut short",
            });
        };
        let mut out = [0; N];
        out.copy_from_slice(&self.bytes[self.at..end]);
        self.at = end;
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, OnnxError> {
        let (value, len) = varint(&self.bytes[self.at..]).ok_or(OnnxError::Malformed {
            offset: self.offset(),
            what: "a varint cut short or over 10 bytes",
        })?;
        self.at += len;
        Ok(value)
    }
}

/// A base-128 varint at the start of `bytes`: its value and length. At most 10 bytes,
/// which hold 64 bits; bits past the 64th are dropped, as protobuf's own readers do.
pub fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The values of a packed repeated varint field (`repeated int64 dims`, `ints`).
pub fn packed_varints(
    bytes: &[u8],
    offset: usize,
    out: &mut Vec<i64>,
    limit: usize,
) -> Result<(), OnnxError> {
    let mut at = 0;
    while at < bytes.len() {
        let (v, len) = varint(&bytes[at..]).ok_or(OnnxError::Malformed {
            offset: offset + at,
            what: "a packed varint cut short",
        })?;
        push_bounded(out, v as i64, limit, offset + at)?;
        at += len;
    }
    Ok(())
}

/// The values of a packed repeated `float` field (little-endian, 4 bytes each).
pub fn packed_floats(
    bytes: &[u8],
    offset: usize,
    out: &mut Vec<f32>,
    limit: usize,
) -> Result<(), OnnxError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(OnnxError::Malformed {
            offset,
            what: "packed floats not a multiple of 4 bytes",
        });
    }
    if out.len() + bytes.len() / 4 > limit {
        return Err(OnnxError::TooLarge {
            offset,
            what: "elements in one tensor or list",
            limit,
        });
    }
    out.extend(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
    );
    Ok(())
}

/// Appends `v` unless `out` already holds `limit` values.
pub fn push_bounded<T>(
    out: &mut Vec<T>,
    v: T,
    limit: usize,
    offset: usize,
) -> Result<(), OnnxError> {
    if out.len() >= limit {
        return Err(OnnxError::TooLarge {
            offset,
            what: "elements in one repeated field",
            limit,
        });
    }
    out.push(v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_decode_and_refuse_overlong_or_short() {
        assert_eq!(varint(&[0x00]), Some((0, 1)));
        assert_eq!(varint(&[0xac, 0x02]), Some((300, 2)));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(varint(&max), Some((u64::MAX, 10)));
        assert_eq!(varint(&[0x80, 0x80]), None, "cut short");
        assert_eq!(varint(&[0x80; 11]), None, "over 10 bytes");
    }

    #[test]
    fn fields_read_each_wire_type_and_refuse_groups() {
        // 1: varint 150; 2: bytes "hi"; 3: fixed32; 4: fixed64.
        let bytes = [
            0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d, 1, 0, 0, 0, 0x21, 2, 0, 0, 0, 0, 0, 0,
            0,
        ];
        let mut f = Fields::new(&bytes, 100);
        let mut seen = Vec::new();
        while let Some((n, v, _)) = f.next_field().unwrap() {
            seen.push((n, v));
        }
        assert_eq!(
            seen,
            [
                (1, Value::Varint(150)),
                (2, Value::Bytes(b"hi")),
                (3, Value::Fixed32(1)),
                (4, Value::Fixed64(2))
            ]
        );
        let group = [0x0b];
        assert!(matches!(
            Fields::new(&group, 7).next_field(),
            Err(OnnxError::Malformed { offset: 7, .. })
        ));
        let past_end = [0x12, 0x05, b'a'];
        assert!(matches!(
            Fields::new(&past_end, 0).next_field(),
            Err(OnnxError::Malformed { offset: 2, .. })
        ));
        let field_zero = [0x00, 0x00];
        assert!(Fields::new(&field_zero, 0).next_field().is_err());
    }

    #[test]
    fn packed_values_are_bounded() {
        let mut out = Vec::new();
        packed_varints(&[1, 0xac, 0x02], 0, &mut out, 8).unwrap();
        assert_eq!(out, [1, 300]);
        assert!(packed_varints(&[1, 2, 3], 0, &mut Vec::new(), 2).is_err());
        let mut floats = Vec::new();
        packed_floats(&1.5f32.to_le_bytes(), 0, &mut floats, 1).unwrap();
        assert_eq!(floats, [1.5]);
        assert!(packed_floats(&[0; 8], 0, &mut floats, 2).is_err(), "limit");
        assert!(packed_floats(&[0; 3], 0, &mut Vec::new(), 2).is_err());
    }
}
