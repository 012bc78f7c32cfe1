//! Password hashing with Argon2id (PHC strings in the database). Hashing is deliberately slow, so it runs on the
//! blocking thread pool and never stalls the async workers.

use anyhow::Context as _;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::config::Secret;

/// Hashes `password` with a fresh random salt.
pub async fn hash(password: Secret) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("hashing password: {err}"))
    })
    .await
    .context("password hashing task")?
}

/// True when `password` matches the stored PHC string. A malformed stored hash is an error, not a mismatch.
pub async fn verify(password: Secret, stored: String) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(|err| anyhow::anyhow!("stored password hash: {err}"))?;
        Ok(Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok())
    })
    .await
    .context("password verification task")?
}

/// A hash of a random password, verified against when the e-mail is unknown so that a login for an unknown
/// account takes as long as one for a known account (no account enumeration by timing).
pub async fn dummy_hash() -> &'static str {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            let mut random = [0u8; 24];
            getrandom::fill(&mut random).expect("operating system random source");
            hash(Secret::new(crate::token::encode(&random))).await.expect("hashing a random password cannot fail")
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let stored = hash(Secret::new("correct horse battery")).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify(Secret::new("correct horse battery"), stored.clone()).await.unwrap());
        assert!(!verify(Secret::new("wrong horse battery"), stored).await.unwrap());
    }

    #[tokio::test]
    async fn malformed_stored_hash_is_an_error() {
        assert!(verify(Secret::new("x"), "not-a-phc-string".into()).await.is_err());
    }
}
