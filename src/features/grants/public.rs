//! What anyone can read: the rounds, each round's criteria, budget, timetable, who decides and
//! where to get help; and, once decided, what was decided.
use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};

use super::{
    apply::today,
    domain::pounds,
    store::{self, Criterion, Round},
};
use crate::core::{
    context::Ctx,
    error::{AppError, AppResult},
    layout::{render, Page},
    state::AppState,
};

#[derive(Template)]
#[template(path = "grants/index.html")]
struct IndexPage {
    page: Page,
    open: Vec<Round>,
    decided: Vec<Round>,
}

pub async fn index(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let rounds = store::rounds_where(&state.db, "r.published = $1", 1).await?;
    let day = today();
    let (decided, rest): (Vec<Round>, Vec<Round>) = rounds.into_iter().partition(|r| r.decided_at.is_some());
    let open = rest.into_iter().filter(|r| r.is_open(day)).collect();
    Ok(render(&IndexPage { page: Page::new(&ctx, "Grants"), open, decided }))
}

#[derive(Template)]
#[template(path = "grants/round.html")]
struct RoundPage {
    page: Page,
    round: Round,
    fund: store::Fund,
    criteria: Vec<Criterion>,
    panel: Vec<String>,
    open: bool,
    signed_in: bool,
}

async fn published_round(state: &AppState, id: i64) -> AppResult<Round> {
    store::round(&state.db, id).await?.filter(|r| r.published).ok_or(AppError::NotFound)
}

/// How the panel chose to be shown (those who chose not to be are counted, not named).
async fn panel_shown(state: &AppState, round_id: i64) -> AppResult<Vec<String>> {
    let rows: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT shown_as FROM grant_panel_members WHERE round_id = $1 ORDER BY added_at, member_id")
            .bind(round_id)
            .fetch_all(&state.db.pool)
            .await?;
    let hidden = rows.iter().filter(|(s,)| s.is_none()).count();
    let mut out: Vec<String> = rows.into_iter().filter_map(|(s,)| s).collect();
    if hidden > 0 {
        out.push(format!("{hidden} panel member{} who chose not to be named", if hidden == 1 { "" } else { "s" }));
    }
    Ok(out)
}

pub async fn round_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let round = published_round(&state, id).await?;
    let fund = store::fund(&state.db, round.fund_id).await?.ok_or(AppError::NotFound)?;
    Ok(render(&RoundPage {
        page: Page::new(&ctx, round.title.clone()),
        criteria: store::criteria(&state.db, fund.id).await?,
        panel: panel_shown(&state, id).await?,
        open: round.is_open(today()),
        signed_in: ctx.user.is_some(),
        round,
        fund,
    }))
}

#[derive(Template)]
#[template(path = "grants/transparency.html")]
struct TransparencyPage {
    page: Page,
    round: Round,
    figures: super::fairness::FairTable,
    criteria: Vec<Criterion>,
    panel: Vec<String>,
    listed: Vec<(String, String)>,
}

/// Once decided: how many applied, how many were funded, the total (as published, with the
/// same protection as the fairness view), the criteria, the panel (as each chose to be shown)
/// and the awards to groups that agreed to be listed.
pub async fn transparency(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let round = published_round(&state, id).await?;
    if round.decided_at.is_none() {
        return Err(AppError::NotFound);
    }
    let figures = super::fairness::published_round(&state.db, &round).await?;
    let listed: Vec<(String, i64)> = sqlx::query_as(
        "SELECT g.name, w.amount_pence FROM grant_awards w JOIN grant_applications a ON a.id = w.application_id \
         JOIN groups g ON g.id = a.group_id WHERE a.round_id = $1 AND a.listed = 1 ORDER BY g.name",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(render(&TransparencyPage {
        page: Page::new(&ctx, format!("What was decided: {}", round.title)),
        figures,
        criteria: store::criteria(&state.db, round.fund_id).await?,
        panel: panel_shown(&state, id).await?,
        listed: listed.into_iter().map(|(g, a)| (g, pounds(a))).collect(),
        round,
    }))
}
