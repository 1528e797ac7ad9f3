//! Users, console sessions and API tokens: rows only.
//!
//! What a row means (which role may do what, how a password or token is hashed) is `auth`'s
//! business; this file stores and finds rows. Sessions and tokens are looked up by the hash
//! of the secret the client holds, never by the secret itself.

use serde::Serialize;
use sqlx::FromRow;

use super::{Result, Store};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// argon2id PHC string; never shown.
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct TokenRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub created_at: i64,
    /// The owner's name (joined in).
    pub username: String,
}

/// A live session's user and its CSRF token.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub user_id: String,
    pub username: String,
    pub role: String,
    pub csrf: String,
    pub expires_at: i64,
}

impl Store {
    /// Adds a user; false when the name is taken.
    pub async fn insert_user(&self, u: &UserRow) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO users (id, username, role, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING",
        )
        .bind(&u.id)
        .bind(&u.username)
        .bind(&u.role)
        .bind(&u.password_hash)
        .bind(u.created_at)
        .bind(u.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether any user exists (the console's first-run hint).
    pub async fn has_users(&self) -> Result<bool> {
        let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(any.is_some())
    }

    pub async fn users(&self) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Removes a user with their sessions and tokens; false when there was none.
    pub async fn delete_user(&self, username: &str) -> Result<bool> {
        let (_turn, mut tx) = self.write_tx().await?;
        let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(id) = id else {
            return Ok(false);
        };
        // Spelled out rather than left to ON DELETE CASCADE, which SQLite applies only when
        // the connection has foreign keys on.
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM api_tokens WHERE user_id = $1",
            "DELETE FROM users WHERE id = $1",
        ] {
            sqlx::query(sql).bind(&id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Sets a user's password hash and/or role; ends their sessions when the password
    /// changed. False when there is no such user.
    pub async fn update_user(
        &self,
        username: &str,
        password_hash: Option<&str>,
        role: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let (_turn, mut tx) = self.write_tx().await?;
        let id: Option<String> = sqlx::query_scalar(
            "UPDATE users SET password_hash = COALESCE($1, password_hash), \
                 role = COALESCE($2, role), updated_at = $3 WHERE username = $4 RETURNING id",
        )
        .bind(password_hash)
        .bind(role)
        .bind(now)
        .bind(username)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(false);
        };
        if password_hash.is_some() {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn insert_session(
        &self,
        token_hash: &str,
        user_id: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        // Expired sessions go when someone logs in: no timer needed, and the table stays
        // as small as the number of live sessions.
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The live session with this token hash.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<SessionRow>> {
        Ok(sqlx::query_as(
            "SELECT s.user_id, u.username, u.role, s.csrf, s.expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn insert_token(
        &self,
        id: &str,
        user_id: &str,
        name: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user a token hash belongs to: `(username, role)`.
    pub async fn token_user(&self, token_hash: &str) -> Result<Option<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT u.username, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn tokens(&self) -> Result<Vec<TokenRow>> {
        Ok(sqlx::query_as(
            "SELECT t.id, t.user_id, t.name, t.created_at, u.username \
             FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY u.username, t.created_at",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes a token; false when there was none.
    pub async fn delete_token(&self, id: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1)
    }
}
