//! Text encodings the provider crates share.

/// Percent-encodes one URL path segment: every byte but the unreserved characters of RFC 3986
/// (`A-Z a-z 0-9 - _ . ~`) becomes `%XX` (uppercase hex), so `/` and `?` in an id cannot change the
/// path. Ids are opaque: never trust them to be URL-safe.
pub fn percent_encode_path_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(char::from(byte));
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use crate::encoding::percent_encode_path_segment;

    #[test]
    fn unreserved_characters_are_kept_and_the_rest_is_encoded() {
        assert_eq!(percent_encode_path_segment("cust_0a9"), "cust_0a9");
        assert_eq!(percent_encode_path_segment("A-z.0~_"), "A-z.0~_");
        assert_eq!(percent_encode_path_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(percent_encode_path_segment("?#%"), "%3F%23%25");
        assert_eq!(percent_encode_path_segment("ç"), "%C3%A7");
        assert_eq!(percent_encode_path_segment(""), "");
    }
}
