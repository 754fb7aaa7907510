//! Staff roles as stored: which accounts are Gatehouse helpdesk, admin or auditor staff.

use super::{Store, StoreError, Tx, on_pool, on_tx};

/// One role held by one member of staff.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffRow {
    pub user_id: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub role: String,
    pub granted_at: i64,
}

impl Store {
    /// Grants a staff role; false if the account already had it.
    pub async fn grant_staff_role(
        &self,
        tx: &mut Tx,
        user_id: &str,
        role: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO staff_roles (user_id, role, granted_at) \
             VALUES ($1, $2, $3) ON CONFLICT (user_id, role) DO NOTHING";
        Ok(on_tx!(tx, |conn| {
            sqlx::query(SQL)
                .bind(user_id)
                .bind(role)
                .bind(now)
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// Takes a staff role away; false if the account did not have it.
    pub async fn revoke_staff_role(
        &self,
        tx: &mut Tx,
        user_id: &str,
        role: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "DELETE FROM staff_roles WHERE user_id = $1 AND role = $2";
        Ok(on_tx!(tx, |conn| {
            sqlx::query(SQL)
                .bind(user_id)
                .bind(role)
                .execute(conn)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// Every staff role held, by person then role.
    pub async fn all_staff(&self) -> Result<Vec<StaffRow>, StoreError> {
        const SQL: &str = "SELECT s.user_id, u.email, u.given_name, u.family_name, s.role, \
             s.granted_at FROM staff_roles s JOIN users u ON u.id = s.user_id \
             ORDER BY u.family_name, u.given_name, u.id, s.role";
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_as::<_, StaffRow>(SQL).fetch_all(pool).await?
        }))
    }

    /// The staff roles an account holds, by name.
    pub async fn staff_roles(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT role FROM staff_roles WHERE user_id = $1 ORDER BY role";
        Ok(on_pool!(self, read, |pool| {
            sqlx::query_scalar::<_, String>(SQL)
                .bind(user_id)
                .fetch_all(pool)
                .await?
        }))
    }
}
