//! Users and the accounts they sign in with.

use crate::StoreError;
use async_trait::async_trait;
use mapquiz_domain::Timestamp;
use serde::{Deserialize, Serialize};

/// A player's account record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    /// Normalised (trimmed, lower-cased).
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    /// `None` only for users imported from before tags existed.
    pub tag: Option<String>,
    pub is_online: bool,
    pub last_seen: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The key users are ordered and searched by: the name, lower-cased. Computed in Rust on both backends so
/// that SQLite and PostgreSQL agree on every script.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// A LIKE pattern matching strings that start with `prefix` literally: `%`, `_` and `\` are escaped with
/// `\`, so the query must say `ESCAPE '\'`.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A user to create; `name_key` (the lower-cased name) is derived by the store.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub tag: String,
    pub created_at: Timestamp,
}

/// How a user signs in: `credential` (email and password) or an identity provider such as `google`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub user_id: String,
    pub provider_id: String,
    /// The provider's subject; the user id for `credential`.
    pub account_id: String,
    /// Argon2id PHC string, `credential` accounts only.
    pub password_hash: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A page request over users, in (lower-cased name, id) order.
#[derive(Clone, Debug)]
pub struct UserSearch {
    /// The caller, never listed.
    pub exclude_id: String,
    /// Lower-cased prefix of the name, or upper-cased prefix of the tag: either matches. `None`: everyone.
    pub prefix: Option<String>,
    /// Start strictly after this (name_key, id) position.
    pub after: Option<(String, String)>,
    /// Rows to return, at most.
    pub limit: u32,
}

/// Users and their accounts.
#[async_trait]
pub trait Users: Send + Sync {
    /// Creates a user and its first account in one transaction.
    ///
    /// `Conflict("users_email_key")` when the email is taken, `Conflict("users_tag_key")` when the tag is
    /// (draw another and retry), `Conflict("accounts_provider_account_key")` when the account exists.
    async fn create_user(&self, user: &NewUser, account: &Account) -> Result<User, StoreError>;

    /// The user with this id.
    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// The user with this normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// The user with this (upper-case) tag.
    async fn user_by_tag(&self, tag: &str) -> Result<Option<User>, StoreError>;

    /// Gives a tag to a user that has none; `Ok(false)` when the user already has one (or does not
    /// exist), `Conflict("users_tag_key")` when another user holds it.
    async fn assign_tag(&self, user_id: &str, tag: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Changes the name and/or the image (`Some(None)` clears it); `NotFound` for an unknown user.
    async fn update_profile(
        &self,
        user_id: &str,
        name: Option<&str>,
        image: Option<Option<&str>>,
        now: Timestamp,
    ) -> Result<User, StoreError>;

    /// A page of users in (lower-cased name, id) order, see [`UserSearch`].
    async fn search_users(&self, search: &UserSearch) -> Result<Vec<User>, StoreError>;

    /// The account `(provider_id, account_id)`.
    async fn account(&self, provider_id: &str, account_id: &str) -> Result<Option<Account>, StoreError>;

    /// The user's account with this provider (`credential` holds the password).
    async fn account_of_user(&self, user_id: &str, provider_id: &str) -> Result<Option<Account>, StoreError>;

    /// Adds an account to an existing user (Google linked by verified email).
    async fn link_account(&self, account: &Account) -> Result<(), StoreError>;

    /// Replaces the password hash of the user's `credential` account; `NotFound` when it has none.
    async fn set_password_hash(&self, user_id: &str, hash: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Before an identity provider that vouches for the email takes over an account whose email was never
    /// verified: in one transaction, removes its password, deletes its sessions (returning their token
    /// hashes) and marks the email verified. Whoever registered the address first keeps no way in.
    async fn verify_email_and_drop_credentials(&self, user_id: &str, now: Timestamp)
    -> Result<Vec<String>, StoreError>;

    /// Creates many users at once (demo data), without accounts; one transaction for the whole slice.
    async fn insert_users(&self, users: &[NewUser]) -> Result<(), StoreError>;
}
