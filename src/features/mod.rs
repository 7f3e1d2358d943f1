//! The product's areas, one module each: routes, domain rules, queries, templates.
pub mod accounts;
pub mod admin;
pub mod bulletin;
pub mod grants;
pub mod groups;
pub mod members;
pub mod site;
pub mod voice;
pub mod workspace;

use sqlx::AnyConnection;

use crate::core::{error::AppResult, state::AppState};

/// Every column whose values are sealed with the key ring, as (table, column): `keys rotate`
/// re-encrypts each, and a test checks that every `*_enc` column in the schema is listed.
pub const SEALED_COLUMNS: &[(&str, &str)] =
    &[("members", "access_needs_enc"), ("members", "staff_notes_enc"), ("grant_awards", "bank_details_enc")];

/// What each area holds about one member, as sections of their data download (people own
/// their data: every area that stores something about a person lists it here).
pub async fn member_data(state: &AppState, member_id: i64) -> AppResult<Vec<(&'static str, serde_json::Value)>> {
    Ok(vec![
        ("bulletin", bulletin::member_data(state, member_id).await?),
        ("grants", grants::member_data(state, member_id).await?),
        ("voice", voice::member_data(state, member_id).await?),
    ])
}

/// Every area's queues of work waiting for staff.
pub async fn queues(state: &AppState) -> AppResult<Vec<crate::core::workspace::Queue>> {
    let mut out = members::workspace::queues(state).await?;
    out.extend(bulletin::workspace::queues(state).await?);
    out.extend(grants::workspace::queues(state).await?);
    out.extend(voice::workspace::queues(state).await?);
    Ok(out)
}

/// What each area holds about a person (a member, or only an address), with where staff can
/// see it: for the staff person search.
pub async fn holdings(
    state: &AppState,
    member_id: Option<i64>,
    email: &str,
) -> AppResult<Vec<(&'static str, Vec<crate::core::workspace::Holding>)>> {
    let mut out = Vec::new();
    if let Some(id) = member_id {
        out.push(("Membership", members::workspace::holdings(state, id).await?));
    }
    out.push(("Bulletin", bulletin::workspace::holdings(state, member_id, email).await?));
    out.push(("Grants", grants::workspace::holdings(state, member_id, email).await?));
    out.push(("Voice", voice::workspace::holdings(state, member_id, email).await?));
    Ok(out)
}

/// Erase what each area holds about a member, inside the erasure's transaction. `email` is
/// the address being erased (for rows kept by address rather than by member).
pub async fn erase_member_data(
    conn: &mut AnyConnection,
    member_id: i64,
    email: Option<&str>,
) -> Result<(), sqlx::Error> {
    bulletin::erase_member_data(conn, member_id, email).await?;
    grants::erase_member_data(conn, member_id, email).await?;
    voice::erase_member_data(conn, member_id, email).await
}

/// Each area's in-memory state for this instance (see `AppState::area`).
pub fn area_state() -> axum::http::Extensions {
    let mut areas = axum::http::Extensions::new();
    bulletin::area_state(&mut areas);
    voice::area_state(&mut areas);
    areas
}
