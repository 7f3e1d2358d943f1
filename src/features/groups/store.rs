//! Group queries.
use sqlx::AnyConnection;

use super::domain::ValidGroup;
use crate::features::members::store as members;

/// Register a group with its first contact; returns the group's id.
pub async fn insert(conn: &mut AnyConnection, group: &ValidGroup, contact: i64, at: i64) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO groups (name, description, region, lived_experience_led, visibility, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(&group.name)
    .bind(&group.description)
    .bind(&group.region)
    .bind(group.lived_experience_led as i64)
    .bind(group.visibility)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    add_contact(conn, id, contact, at).await?;
    Ok(id)
}

/// Make a member a contact for a group (again is harmless) and let the directory find them by it.
pub async fn add_contact(conn: &mut AnyConnection, group: i64, member: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO group_contacts (group_id, member_id, added_at) VALUES ($1, $2, $3) ON CONFLICT (group_id, member_id) DO NOTHING")
        .bind(group)
        .bind(member)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    members::reindex(conn, member).await
}
