//! Accounts nobody has used for longer than the policy allows: found by the time of their
//! last use (last sign-in, else activation, else creation) on the `users_last_used` index,
//! and switched off only if that is still true when the change is made.

use super::{Store, StoreError, Tx, on_pool, on_tx};

/// An account found unused: enough to switch it off and tell its owner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnusedAccount {
    pub id: String,
    pub email: String,
    pub given_name: String,
}

/// Active or locked accounts last used before `cutoff`, at most `limit` of them.
const FIND: &str = "SELECT id, email, given_name FROM users WHERE status = $1 \
     AND COALESCE(last_sign_in_at, activated_at, created_at) < $2 LIMIT $3";

const COUNT: &str = "SELECT COUNT(*) FROM users WHERE status IN ('active', 'locked') \
     AND COALESCE(last_sign_in_at, activated_at, created_at) < $1";

const DEACTIVATE: &str = "UPDATE users SET status = 'deactivated', status_reason = $3, \
     updated_at = $4 WHERE id = $1 AND status IN ('active', 'locked') \
     AND COALESCE(last_sign_in_at, activated_at, created_at) < $2";

impl Store {
    /// Up to `limit` accounts in `status` (`active` or `locked`) last used before `cutoff`.
    pub async fn unused_accounts(
        &self,
        status: &str,
        cutoff: i64,
        limit: i64,
    ) -> Result<Vec<UnusedAccount>, StoreError> {
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, UnusedAccount>(FIND)
                .bind(status)
                .bind(cutoff)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// How many active or locked accounts were last used before `cutoff`.
    pub async fn count_unused_accounts(&self, cutoff: i64) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self, read, |pool| {
            sqlx::query_scalar(COUNT)
                .bind(cutoff)
                .fetch_one(pool)
                .await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Deactivates `id` with `reason` if it is still active or locked and still last used
    /// before `cutoff` (someone may have signed in since it was found); true if it was.
    pub async fn deactivate_if_unused(
        &self,
        tx: &mut Tx,
        id: &str,
        cutoff: i64,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(on_tx!(tx, |conn| {
            sqlx::query(DEACTIVATE)
                .bind(id)
                .bind(cutoff)
                .bind(reason)
                .bind(now)
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }
}
