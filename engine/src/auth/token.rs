//! Random secrets for sessions, API tokens, CSRF and setup links, and the
//! digests under which the store keeps them.

use base64::Engine as _;
use sha2::Digest as _;

/// 32 random bytes from the operating system, in URL-safe base64.
pub fn random() -> String {
    // rand's thread generator is a CSPRNG (ChaCha12) seeded and reseeded
    // from the operating system.
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 of `secret`, in hex: what the store keeps of a session or a
/// token. The secrets are random and long, so no salt or slow hash is needed.
pub fn digest(secret: &str) -> String {
    let digest = sha2::Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where an API token starts, so that it is recognised in a scan of leaked
/// text: `mtk_<id>_<secret>`.
pub const TOKEN_PREFIX: &str = "mtk_";

/// A new API token: its public id and the whole token to show once.
pub fn new_api_token() -> (String, String) {
    let id: String = random()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let token = format!("{TOKEN_PREFIX}{id}_{}", random());
    (id, token)
}

/// The id inside an API token, if it has the form of one.
pub fn api_token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && !secret.is_empty()).then_some(id)
}

/// Compares two strings in time that depends only on their lengths.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_carry_their_id_and_differ() {
        let (id, token) = super::new_api_token();
        assert_eq!(super::api_token_id(&token), Some(id.as_str()));
        assert_ne!(super::new_api_token().1, token);
        assert_eq!(super::api_token_id("mtk_abc"), None);
        assert_eq!(
            super::digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(
            super::same("abc", "abc") && !super::same("abc", "abd") && !super::same("abc", "ab")
        );
    }
}
