//! The one binary encoding used on disk and between members (bincode, size-limited so a
//! malformed length prefix cannot make a member allocate unboundedly).

use bincode::Options;
use serde::{de::DeserializeOwned, Serialize};

/// Larger than any legal message: a snapshot chunk, a batch of log entries of maximum values.
const MAX_MESSAGE_BYTES: u64 = 256 * 1024 * 1024;

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_MESSAGE_BYTES)
}

// The limit guards decoding only; the format is the same without it. Serializing our own
// types (no maps with non-string keys, no unsized sequences) into a Vec cannot fail, whatever
// their values: nothing a client or the disk sends can reach this `expect`.
#[allow(clippy::expect_used)]
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    bincode::DefaultOptions::new()
        .serialize(value)
        .expect("encoding an in-memory value")
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::Error> {
    options().deserialize(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let huge_len = [0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(decode::<Vec<u8>>(&huge_len).is_err());
        assert!(decode::<crate::types::TxnRequest>(b"\x01\x02garbage").is_err());
    }
}
