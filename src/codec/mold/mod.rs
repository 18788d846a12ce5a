//! MoldUDP64 1.00: how NASDAQ carries TotalView-ITCH over UDP.
//!
//! A downstream packet is a 20-byte header — the 10-byte session, the big-endian `u64`
//! sequence number of its first message, a `u16` message count — then that many
//! message blocks, each a `u16` length and the message. A count of 0 is a heartbeat
//! and `0xFFFF` the end of the session; both carry no blocks, and their sequence
//! number is that of the next message to come. Sequence numbers start at 1 and count
//! messages, not packets, so a receiver knows exactly which messages it missed and
//! asks the re-request server for them with a 20-byte request packet (session,
//! first sequence number, count); the answer is ordinary downstream packets.
//!
//! [`Packet::parse`] checks everything the format lets it check — header length, that
//! every block's length lies inside the datagram, that the blocks end exactly where the
//! datagram does, that the sequence range fits a `u64` — before anything is read, so a
//! packet is either wholly usable or rejected with the kind of fault and its byte
//! offset; it never panics, whatever the bytes. A rejected packet is simply a lost
//! one: the gap it leaves is recovered like any other. What MoldUDP64 cannot protect is
//! a corrupted sequence number: the format has no checksum, and UDP's (verified by the
//! kernel) is the guard against bit flips.
//!
//! [`PacketBuilder`] writes packets for the feed server and tests.

mod build;
mod packet;

pub use build::{PacketBuilder, PushError};
pub use packet::{
    BLOCK_PREFIX_LEN, Blocks, END_OF_SESSION, HEADER_LEN, MAX_DATAGRAM, MAX_MESSAGES, MoldError,
    Packet, PacketKind, REQUEST_LEN, Request, RequestError, SESSION_LEN, Session, SessionError,
};
