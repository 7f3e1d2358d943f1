//! The staff workspace: the start page of everything waiting for staff, the person search that
//! answers "who is this?" and a subject access request, and emails that could not be sent.
mod mail;
mod people;

use askama::Template;
use axum::{extract::State, response::Response};

use crate::{
    core::{
        access::{Access, Routes},
        context::Ctx,
        error::AppResult,
        layout::{render, Page},
        state::AppState,
        workspace::Queue,
    },
    features,
};

pub fn routes() -> Routes {
    Routes::default()
        .get("/staff", Access::Staff, home)
        .get("/staff/people", Access::Staff, people::search)
        .get("/staff/people/address", Access::Staff, people::address)
        .get("/staff/people/{id}", Access::Staff, people::person)
        .get("/staff/mail", Access::Staff, mail::failed)
        .post("/staff/mail/{id}/retry", Access::Staff, mail::retry)
}

#[derive(Template)]
#[template(path = "workspace/home.html")]
struct HomePage {
    page: Page,
    waiting: Vec<Queue>,
    clear: Vec<Queue>,
}

/// Every queue of every area with its count and the age of its oldest item: what needs doing
/// first, not a list of links.
async fn home(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let mut queues = features::queues(&state).await?;
    queues.push(mail::queue(&state).await?);
    let (mut waiting, clear): (Vec<Queue>, Vec<Queue>) = queues.into_iter().partition(|q| q.count > 0);
    waiting.sort_by_key(|q| q.oldest.unwrap_or(i64::MAX));
    Ok(render(&HomePage { page: Page::new(&ctx, "Waiting for you"), waiting, clear }))
}
