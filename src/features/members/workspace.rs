//! What the members area tells the staff workspace.
use crate::core::{
    error::AppResult,
    state::AppState,
    workspace::{Holding, Queue},
};

pub async fn queues(state: &AppState) -> AppResult<Vec<Queue>> {
    let pending: (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(updated_at) FROM members WHERE status = 'pending'")
            .fetch_one(&state.db.pool)
            .await?;
    Ok(vec![Queue::new("Members to review", pending, "/staff/members?status=pending")])
}

/// The member's own record and the groups they act for.
pub async fn holdings(state: &AppState, member_id: i64) -> AppResult<Vec<Holding>> {
    let Some(m) = super::store::get(&state.db, member_id).await? else { return Ok(Vec::new()) };
    let mut out = vec![Holding::new(
        format!(
            "Profile: {}, {}{}{}{}",
            m.display_name,
            m.email,
            m.region.as_deref().map(|r| format!(", {r}")).unwrap_or_default(),
            if m.access_needs_enc.is_some() { "; access needs recorded" } else { "" },
            if m.staff_notes_enc.is_some() { "; staff notes" } else { "" },
        ),
        format!("/staff/members/{member_id}"),
    )];
    let consents = super::store::current_consents(&state.db, member_id).await?;
    let said: Vec<String> =
        consents.iter().map(|(p, on)| format!("{} {}", p.key(), if *on { "yes" } else { "no" })).collect();
    out.push(Holding::unlinked(format!("Choices: {} (with their history)", said.join(", "))));
    for (id, name) in super::store::contact_groups(&state.db, member_id).await? {
        out.push(Holding::new(format!("Contact for the group {name}"), format!("/groups/{id}")));
    }
    Ok(out)
}
