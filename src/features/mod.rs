//! The product's areas, one module each: routes, domain rules, queries, templates.
pub mod accounts;
pub mod admin;
pub mod groups;
pub mod members;
pub mod site;

use sqlx::AnyConnection;

use crate::core::{error::AppResult, state::AppState};

/// What each area holds about one member, as sections of their data download (people own
/// their data: every area that stores something about a person lists it here).
pub async fn member_data(state: &AppState, member_id: i64) -> AppResult<Vec<(&'static str, serde_json::Value)>> {
    let _ = (state, member_id);
    Ok(Vec::new())
}

/// Erase what each area holds about a member, inside the erasure's transaction. `email` is
/// the address being erased (for rows kept by address rather than by member).
pub async fn erase_member_data(
    conn: &mut AnyConnection,
    member_id: i64,
    email: Option<&str>,
) -> Result<(), sqlx::Error> {
    let _ = (conn, member_id, email);
    Ok(())
}
