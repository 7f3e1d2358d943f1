//! The audit log of staff actions on personal data. Admins read it; members get the entries
//! about themselves in their data download.
use sqlx::{Any, Executor};

use crate::core::time::now;

#[derive(Clone, Copy, Debug)]
pub enum Action {
    View,
    Change,
    Export,
    Erase,
    Approve,
    Import,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::Change => "change",
            Action::Export => "export",
            Action::Erase => "erase",
            Action::Approve => "approve",
            Action::Import => "import",
        }
    }
}

pub async fn record<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    actor_id: i64,
    action: Action,
    subject_member_id: Option<i64>,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (actor_id, action, subject_member_id, detail, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(actor_id)
        .bind(action.as_str())
        .bind(subject_member_id)
        .bind(detail)
        .bind(now())
        .execute(executor)
        .await?;
    Ok(())
}
