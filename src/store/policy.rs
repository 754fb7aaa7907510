//! Policy settings as stored: one row per setting an administrator has changed.

use super::{Store, StoreError, Tx, on_pool, on_tx};

impl Store {
    /// Every stored setting, as (name, value).
    pub async fn policy_settings(&self) -> Result<Vec<(String, i64)>, StoreError> {
        const SQL: &str = "SELECT name, value FROM policy_settings ORDER BY name";
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, (String, i64)>(SQL)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Stores one setting's value inside `tx`.
    pub async fn set_policy_setting(
        &self,
        tx: &mut Tx,
        name: &str,
        value: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO policy_settings (name, value, updated_at) \
             VALUES ($1, $2, $3) ON CONFLICT (name) \
             DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
        on_tx!(tx, |conn| {
            sqlx::query(SQL)
                .bind(name)
                .bind(value)
                .bind(now)
                .execute(conn)
                .await?;
        });
        Ok(())
    }
}
