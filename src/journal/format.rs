//! Record framing: the bytes of one record in a segment, and its CRC.
//!
//! ```text
//! offset  size  field
//!      0     4  length   u32 LE: the whole record's bytes, this field included (>= 17)
//!      4     4  crc      u32 LE: CRC32C (Castagnoli) over bytes 8..length
//!      8     8  seq      u64 LE: the shard's sequence number, from 1
//!     16     1  kind     u8: what the payload holds (entry.rs)
//!     17     …  payload  length - 17 bytes
//! ```
//! Records follow each other with no padding. A length of zero marks the end of the
//! written area (segments are zero-filled when created).

/// Bytes before the payload.
pub const HEADER: usize = 17;

/// The largest record this build writes; a length above it (or below [`HEADER`]) is
/// impossible. 4 KiB leaves room for the later record kinds (schedules, operator commands)
/// while a corrupted length still cannot send a reader 4 GiB ahead.
pub const MAX_RECORD: usize = 4096;

/// One framed record found at an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub seq: u64,
    pub kind: u8,
    pub payload: &'a [u8],
    /// The record's length in bytes, header included.
    pub len: usize,
}

/// What lies at an offset of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At<'a> {
    Record(Frame<'a>),
    /// The length field is zero or cut off: the end of the written area, or a torn write.
    Zero,
    /// Not a valid record: why.
    Bad(&'static str),
}

/// Frames `seq, kind, payload` into `out` (which must hold `HEADER + payload.len()`),
/// returning the record's length.
#[inline]
pub fn frame(out: &mut [u8], seq: u64, kind: u8, payload_len: usize) -> usize {
    let len = HEADER + payload_len;
    out[8..16].copy_from_slice(&seq.to_le_bytes());
    out[16] = kind;
    let crc = crc32c::crc32c(&out[8..len]);
    out[0..4].copy_from_slice(&(len as u32).to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    len
}

/// Reads the record starting at `bytes[0]`.
pub fn read(bytes: &[u8]) -> At<'_> {
    if bytes.len() < 4 {
        return At::Zero;
    }
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    if len == 0 {
        return At::Zero;
    }
    if !(HEADER..=MAX_RECORD).contains(&len) {
        return At::Bad("impossible record length");
    }
    if len > bytes.len() {
        return At::Bad("record length runs past the end of the segment");
    }
    let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if crc32c::crc32c(&bytes[8..len]) != crc {
        return At::Bad("CRC mismatch");
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[8..16]);
    At::Record(Frame {
        seq: u64::from_le_bytes(seq),
        kind: bytes[16],
        payload: &bytes[HEADER..len],
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_framed_record_reads_back() {
        let mut buf = [0u8; 64];
        buf[HEADER..HEADER + 3].copy_from_slice(b"abc");
        let len = frame(&mut buf, 42, 7, 3);
        assert_eq!(len, 20);
        assert_eq!(
            read(&buf),
            At::Record(Frame {
                seq: 42,
                kind: 7,
                payload: b"abc",
                len: 20
            })
        );
        assert_eq!(read(&buf[len..]), At::Zero);
        buf[18] ^= 1;
        assert_eq!(read(&buf), At::Bad("CRC mismatch"));
        assert_eq!(
            read(&buf[..10]),
            At::Bad("record length runs past the end of the segment")
        );
        buf[0] = 3;
        assert_eq!(read(&buf), At::Bad("impossible record length"));
    }
}
