//! Friend tags (protocol §4.1): drawn from a CSPRNG, unique by the store's constraint, retried on collision.

use crate::auth::crypto::random_bytes;
use mapquiz_domain::{Tag, Timestamp};
use mapquiz_store::{Account, DynStore, NewUser, StoreError, User};

/// Draws before giving up. With 32⁸ ≈ 10¹² tags, a collision is rare; ten in a row means a bug.
const TAG_ATTEMPTS: usize = 10;

/// A fresh random tag.
pub fn draw() -> Tag {
    Tag::from_random(random_bytes())
}

/// Creates the user and its first account with a new tag, drawing again whenever the tag is taken.
pub async fn create_user(store: &DynStore, mut user: NewUser, account: &Account) -> Result<User, StoreError> {
    for _ in 0..TAG_ATTEMPTS {
        match store.create_user(&user, account).await {
            Err(StoreError::Conflict("users_tag_key")) => user.tag = draw().as_str().to_owned(),
            other => return other,
        }
    }
    Err(StoreError::Conflict("users_tag_key"))
}

/// The user's tag, generated and stored first when the user has none (users from before tags existed).
pub async fn ensure(store: &DynStore, user: &User, now: Timestamp) -> Result<String, StoreError> {
    if let Some(tag) = &user.tag {
        return Ok(tag.clone());
    }
    for _ in 0..TAG_ATTEMPTS {
        let tag = draw();
        match store.assign_tag(&user.id, tag.as_str(), now).await {
            Ok(true) => return Ok(tag.as_str().to_owned()),
            // Another request gave it one first: that one stands.
            Ok(false) => {
                return store.user_by_id(&user.id).await?.and_then(|u| u.tag).ok_or(StoreError::NotFound);
            }
            Err(StoreError::Conflict("users_tag_key")) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict("users_tag_key"))
}
