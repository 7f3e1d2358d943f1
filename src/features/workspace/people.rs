//! Find a person by name, pseudonym or email, and see everything the product holds about them,
//! area by area: what staff need to answer "who is this?" or a subject access request. Every
//! look is written to the audit log.
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use serde::Deserialize;

use crate::{
    core::{
        audit::{self, Action},
        context::Ctx,
        error::{AppError, AppResult},
        layout::{render, Page},
        state::AppState,
        workspace::Holding,
    },
    features::{
        self,
        members::{
            directory::{self, DirectoryQuery, DirectoryRow},
            domain::EmailAddress,
            store,
        },
    },
};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Search {
    q: String,
}

#[derive(Template)]
#[template(path = "workspace/people.html")]
struct SearchPage {
    page: Page,
    q: String,
    members: Vec<DirectoryRow>,
    more: bool,
    /// The address searched for, when it is one and is held somewhere outside a member's record.
    address: Option<String>,
}

pub async fn search(State(state): State<AppState>, ctx: Ctx, Query(s): Query<Search>) -> AppResult<Response> {
    let q: String = s.q.trim().chars().take(200).collect();
    let (mut members, mut more, mut address) = (Vec::new(), false, None);
    if !q.is_empty() {
        let query = DirectoryQuery { q: q.clone(), ..Default::default() };
        let found = directory::search(&state.db, &state.word_frequencies, &query).await?;
        (members, more) = (found.rows, found.has_next);
        if let Ok(email) = EmailAddress::parse(&q) {
            let held = features::holdings(&state, None, email.as_str()).await?;
            address = held.iter().any(|(_, h)| !h.is_empty()).then(|| email.as_str().to_string());
        }
        audit::record(&state.db.pool, ctx.user()?.id, Action::View, None, "searched for a person").await?;
    }
    Ok(render(&SearchPage { page: Page::new(&ctx, "Find a person"), q, members, more, address }))
}

#[derive(Template)]
#[template(path = "workspace/person.html")]
struct PersonPage {
    page: Page,
    heading: String,
    held: Vec<(&'static str, Vec<Holding>)>,
    export: Option<String>,
}

/// Everything held about one member, area by area.
pub async fn person(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let member = store::get(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let held = features::holdings(&state, Some(id), &member.email).await?;
    audit::record(&state.db.pool, ctx.user()?.id, Action::View, Some(id), "viewed everything held about the member")
        .await?;
    Ok(render(&PersonPage {
        page: Page::new(&ctx, format!("Everything we hold about {}", member.display_name)),
        heading: format!("Everything we hold about {}", member.display_name),
        held,
        export: Some(format!("/staff/members/{id}/export")),
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Address {
    email: String,
}

/// Everything held under an address that is not a member's (a signer, a donor, a subscriber).
pub async fn address(State(state): State<AppState>, ctx: Ctx, Query(a): Query<Address>) -> AppResult<Response> {
    let email = EmailAddress::parse(&a.email).map_err(|e| AppError::BadRequest(e.into()))?;
    let held = features::holdings(&state, None, email.as_str()).await?;
    audit::record(&state.db.pool, ctx.user()?.id, Action::View, None, "viewed everything held under an address")
        .await?;
    Ok(render(&PersonPage {
        page: Page::new(&ctx, "Everything we hold under an address"),
        heading: format!("Everything we hold under {}", email.as_str()),
        held,
        export: None,
    }))
}
