//! Kestra's EncryptionService: AES in GCM mode with a 128-bit tag, a random
//! 12-byte IV written before the ciphertext, the whole in base64; the key is
//! base64 too. `encrypt()` and `decrypt()` in expressions use it, so a value
//! encrypted by Kestra decrypts here and the other way round.
//!
//! ring does the AES: it is already compiled for TLS (see `http.rs`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

fn key(key: &str) -> Result<LessSafeKey, String> {
    let bytes = STANDARD.decode(key.trim()).map_err(|_| {
        "the key is not base64: give the base64 of 16 or 32 random bytes".to_owned()
    })?;
    let algorithm = match bytes.len() {
        16 => &AES_128_GCM,
        32 => &AES_256_GCM,
        24 => {
            return Err(
                "the key is 24 bytes (AES-192), which Mortar does not support: use a 32-byte key"
                    .into(),
            );
        }
        n => {
            return Err(format!(
                "the key is {n} bytes: AES needs 16 or 32 (the base64 of 32 random bytes is the usual key)"
            ));
        }
    };
    let unbound = UnboundKey::new(algorithm, &bytes)
        .map_err(|_| "the key is not usable for AES".to_owned())?;
    Ok(LessSafeKey::new(unbound))
}

/// Encrypts text; empty text stays empty, as in Kestra.
pub fn encrypt(key_b64: &str, plaintext: &str) -> Result<String, String> {
    if plaintext.is_empty() {
        return Ok(String::new());
    }
    let key = key(key_b64)?;
    let mut iv = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut iv)
        .map_err(|_| "the system gave no random bytes".to_owned())?;
    let mut sealed = plaintext.as_bytes().to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut sealed)
        .map_err(|_| "encryption failed".to_owned())?;
    let mut out = iv.to_vec();
    out.extend_from_slice(&sealed);
    Ok(STANDARD.encode(out))
}

/// Decrypts what [`encrypt`] (or Kestra's `encrypt()`) made.
pub fn decrypt(key_b64: &str, encrypted: &str) -> Result<String, String> {
    if encrypted.is_empty() {
        return Ok(String::new());
    }
    let key = key(key_b64)?;
    let data = STANDARD
        .decode(encrypted.trim())
        .map_err(|_| "the encrypted value is not base64".to_owned())?;
    if data.len() < NONCE_LEN + 16 {
        return Err("the encrypted value is too short to be AES-GCM output".into());
    }
    let (iv, rest) = data.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| "bad IV".to_owned())?;
    let mut buffer = rest.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::empty(), &mut buffer)
        .map_err(|_| {
            "the value does not decrypt with this key (wrong key, or the value was changed)"
                .to_owned()
        })?;
    String::from_utf8(plain.to_vec())
        .map_err(|_| "the decrypted bytes are not UTF-8 text".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "I6EGNzRESu3X3pKZidrqCGOHQFUFC0yK"; // 24 bytes once decoded

    #[test]
    fn round_trip_with_both_key_sizes() {
        for key in [STANDARD.encode([7u8; 32]), STANDARD.encode([9u8; 16])] {
            let sealed = encrypt(&key, "my secret").unwrap();
            assert_ne!(
                sealed,
                encrypt(&key, "my secret").unwrap(),
                "a fresh IV each time"
            );
            assert_eq!(decrypt(&key, &sealed).unwrap(), "my secret");
        }
        assert_eq!(encrypt(&STANDARD.encode([7u8; 32]), "").unwrap(), "");
    }

    #[test]
    fn bad_keys_and_values_say_what_is_wrong() {
        assert!(encrypt(KEY, "x").unwrap_err().contains("24 bytes"));
        assert!(
            encrypt("not base64!", "x")
                .unwrap_err()
                .contains("not base64")
        );
        let key = STANDARD.encode([7u8; 32]);
        let sealed = encrypt(&key, "x").unwrap();
        let other = STANDARD.encode([8u8; 32]);
        assert!(
            decrypt(&other, &sealed)
                .unwrap_err()
                .contains("does not decrypt")
        );
        assert!(decrypt(&key, "AAAA").unwrap_err().contains("too short"));
    }

    /// A value sealed by Java's Cipher("AES/GCM/NoPadding") as Kestra's
    /// EncryptionService does (IV then ciphertext and tag, base64), built
    /// here from the same parts: the layouts must agree byte for byte.
    #[test]
    fn layout_is_iv_then_ciphertext_then_tag() {
        let key_bytes = [1u8; 32];
        let sealed = STANDARD
            .decode(encrypt(&STANDARD.encode(key_bytes), "abc").unwrap())
            .unwrap();
        assert_eq!(sealed.len(), 12 + 3 + 16);
        let (iv, body) = sealed.split_at(12);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key_bytes).unwrap());
        let mut buffer = body.to_vec();
        let plain = key
            .open_in_place(
                Nonce::try_assume_unique_for_key(iv).unwrap(),
                Aad::empty(),
                &mut buffer,
            )
            .unwrap();
        assert_eq!(plain, b"abc");
    }
}
