//! Writing downstream packets: for the feed server, its re-request answers, and tests.

use super::packet::{
    BLOCK_PREFIX_LEN, END_OF_SESSION, HEADER_LEN, MAX_DATAGRAM, MAX_MESSAGES, SESSION_LEN, Session,
    header,
};

/// Why a message was not added to the packet being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The packet has no room for it (bytes or count); send it and start another.
    #[error("packet full")]
    Full,
    /// No packet of this builder's size could hold it.
    #[error("a {len}-byte message does not fit a {max_len}-byte packet")]
    TooLong { len: usize, max_len: usize },
}

/// Builds one downstream packet at a time in a buffer allocated once.
#[derive(Debug, Clone)]
pub struct PacketBuilder {
    session: Session,
    max_len: usize,
    buf: Vec<u8>,
    count: u16,
}

impl PacketBuilder {
    /// Packets of at most `max_len` bytes, header included; `max_len` is clamped to
    /// `HEADER_LEN + 2 ..= MAX_DATAGRAM`, so every packet has room for some message.
    pub fn new(session: Session, max_len: usize) -> PacketBuilder {
        let max_len = max_len.clamp(HEADER_LEN + BLOCK_PREFIX_LEN, MAX_DATAGRAM);
        let mut b = PacketBuilder {
            session,
            max_len,
            buf: Vec::with_capacity(max_len),
            count: 0,
        };
        b.start(1);
        b
    }

    /// The largest packet this builder writes.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Discards the packet being built and starts one whose first message is `sequence`.
    pub fn start(&mut self, sequence: u64) {
        self.buf.clear();
        self.buf
            .extend_from_slice(&header(&self.session, sequence, 0));
        self.count = 0;
    }

    /// Appends one message as a block.
    pub fn push(&mut self, msg: &[u8]) -> Result<(), PushError> {
        let need = BLOCK_PREFIX_LEN + msg.len();
        if HEADER_LEN + need > self.max_len {
            return Err(PushError::TooLong {
                len: msg.len(),
                max_len: self.max_len,
            });
        }
        if self.buf.len() + need > self.max_len || self.count == MAX_MESSAGES {
            return Err(PushError::Full);
        }
        // `need` fits `max_len`, itself at most MAX_DATAGRAM < 65 536.
        self.buf
            .extend_from_slice(&(msg.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(msg);
        self.count += 1;
        Ok(())
    }

    /// Messages in the packet so far.
    pub fn count(&self) -> u16 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The first message's sequence number.
    pub fn sequence(&self) -> u64 {
        u64::from_be_bytes(
            self.buf[SESSION_LEN..18]
                .try_into()
                .expect("header written"),
        )
    }

    /// The packet as it stands: its count written into the header. With no message
    /// pushed this is a heartbeat.
    pub fn bytes(&mut self) -> &[u8] {
        self.buf[18..HEADER_LEN].copy_from_slice(&self.count.to_be_bytes());
        &self.buf
    }
}

impl PacketBuilder {
    /// A heartbeat: no messages, the next one numbered `next_sequence`.
    pub fn heartbeat(&self, next_sequence: u64) -> [u8; HEADER_LEN] {
        header(&self.session, next_sequence, 0)
    }

    /// End of session: no more messages; the last one sent was `next_sequence - 1`.
    pub fn end_of_session(&self, next_sequence: u64) -> [u8; HEADER_LEN] {
        header(&self.session, next_sequence, END_OF_SESSION)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::packet::{Packet, PacketKind};
    use super::*;

    fn session() -> Session {
        Session::new("BUILD").unwrap()
    }

    #[test]
    fn fills_to_the_byte_limit_then_reports_full() {
        let mut b = PacketBuilder::new(session(), HEADER_LEN + 2 * (BLOCK_PREFIX_LEN + 3));
        b.start(10);
        assert_eq!(b.push(b"abc"), Ok(()));
        assert_eq!(b.push(b"def"), Ok(()));
        assert_eq!(b.push(b"g"), Err(PushError::Full));
        assert_eq!(
            b.push(&[0; 100]),
            Err(PushError::TooLong {
                len: 100,
                max_len: 30
            })
        );
        let bytes = b.bytes().to_vec();
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!((p.sequence, p.count(), b.sequence()), (10, 2, 10));
        b.start(12);
        assert!(b.is_empty());
        assert_eq!(
            Packet::parse(b.bytes()).unwrap().kind,
            PacketKind::Heartbeat
        );
    }

    #[test]
    fn heartbeats_and_end_of_session_parse_back() {
        let b = PacketBuilder::new(session(), 1400);
        let hb = b.heartbeat(5);
        let end = b.end_of_session(5);
        assert_eq!(Packet::parse(&hb).unwrap().kind, PacketKind::Heartbeat);
        let p = Packet::parse(&end).unwrap();
        assert_eq!((p.kind, p.sequence), (PacketKind::EndOfSession, 5));
    }

    proptest! {
        #[test]
        fn build_then_parse_round_trips(
            sequence in 1u64..u64::MAX / 2,
            max_len in 22usize..2000,
            msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..64),
        ) {
            let mut b = PacketBuilder::new(session(), max_len);
            let mut next = sequence;
            let mut packets = Vec::new();
            let mut sent = Vec::new();
            b.start(next);
            for m in &msgs {
                match b.push(m) {
                    Ok(()) => sent.push(m.clone()),
                    Err(PushError::Full) => {
                        packets.push(b.bytes().to_vec());
                        next += u64::from(b.count());
                        b.start(next);
                        b.push(m).unwrap();
                        sent.push(m.clone());
                    }
                    Err(PushError::TooLong { .. }) => {
                        prop_assert!(HEADER_LEN + 2 + m.len() > b.max_len());
                    }
                }
            }
            if !b.is_empty() {
                packets.push(b.bytes().to_vec());
            }
            let mut got = Vec::new();
            let mut expect_seq = sequence;
            for bytes in &packets {
                prop_assert!(bytes.len() <= b.max_len());
                let p = Packet::parse(bytes).unwrap();
                prop_assert_eq!(p.session, session());
                prop_assert_eq!(p.sequence, expect_seq);
                expect_seq = p.next_sequence();
                got.extend(p.messages().map(<[u8]>::to_vec));
            }
            prop_assert_eq!(got, sent);
        }
    }
}
