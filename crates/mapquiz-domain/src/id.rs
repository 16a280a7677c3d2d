//! Identifiers: opaque strings on the wire, new ones are UUIDv7 (time-ordered).

/// Longest identifier the server accepts from a client; anything longer cannot exist (protocol §0.3).
pub const MAX_ID_LEN: usize = 64;

/// A new lower-case, hyphenated UUIDv7 string.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_lowercase_hyphenated_v7_and_ordered() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert_eq!(a.len(), 36);
        assert_eq!(a, a.to_lowercase());
        assert_eq!(&a[14..15], "7", "version nibble");
        assert!(a < b, "v7 ids sort by creation time");
    }
}
