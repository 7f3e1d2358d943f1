//! Deciding together: panel members (staff and members) declare conflicts, read applications
//! and score them against the round's published criteria; staff see the scores as a table.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

use super::{
    apply::Field,
    domain::SCALE,
    store::{self, Application, Criterion, Round},
};
use sqlx::AnyConnection;

use crate::core::{
    context::Ctx,
    error::{AppError, AppResult},
    forms::{FormData, FormErrors},
    layout::{message, redirect_with_notice, render, Page},
    state::AppState,
    time::now,
};

/// Statuses a panel reads: sent in, whether or not decided yet.
const PANEL_STATUSES: &str = "('submitted', 'awarded', 'declined')";

pub async fn on_panel(state: &AppState, round_id: i64, member_id: i64) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grant_panel_members WHERE round_id = $1 AND member_id = $2")
        .bind(round_id)
        .bind(member_id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok(n > 0)
}

pub async fn conflicted(state: &AppState, application_id: i64, member_id: i64) -> AppResult<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM grant_conflicts WHERE application_id = $1 AND member_id = $2")
            .bind(application_id)
            .bind(member_id)
            .fetch_one(&state.db.pool)
            .await?;
    Ok(n > 0)
}

/// Recompute an application's score summary (how many scored it, the total, the spread between
/// panel members' totals, and conflicts declared) from the scores themselves. Called in the
/// transaction of every change to its scores or conflicts, so the summary cannot drift.
pub async fn refresh_summary(conn: &mut AnyConnection, application_id: i64) -> Result<(), sqlx::Error> {
    let totals: Vec<(i64,)> = sqlx::query_as(
        "SELECT CAST(SUM(score) AS BIGINT) FROM grant_scores WHERE application_id = $1 GROUP BY member_id",
    )
    .bind(application_id)
    .fetch_all(&mut *conn)
    .await?;
    let spread = match (totals.iter().map(|t| t.0).max(), totals.iter().map(|t| t.0).min()) {
        (Some(hi), Some(lo)) => hi - lo,
        _ => 0,
    };
    sqlx::query(
        "UPDATE grant_applications SET score_scorers = $1, score_total = $2, score_spread = $3, \
         conflicts = (SELECT COUNT(*) FROM grant_conflicts WHERE application_id = $4) WHERE id = $4",
    )
    .bind(totals.len() as i64)
    .bind(totals.iter().map(|t| t.0).sum::<i64>())
    .bind(spread)
    .bind(application_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A round this person sits on the panel of (NotFound otherwise: the page does not exist for them).
async fn panel_round(state: &AppState, ctx: &Ctx, round_id: i64) -> AppResult<Round> {
    let user = ctx.user()?;
    let round = store::round(&state.db, round_id).await?.ok_or(AppError::NotFound)?;
    if on_panel(state, round_id, user.id).await? {
        Ok(round)
    } else {
        Err(AppError::NotFound)
    }
}

#[derive(Template)]
#[template(path = "grants/panel_round.html")]
struct PanelRoundPage {
    page: Page,
    round: Round,
    /// (application, criteria this member has scored)
    apps: Vec<(Application, i64)>,
    conflicts: i64,
    criteria: usize,
}

/// The applications of a round, without those this member declared a conflict on.
pub async fn round_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let round = panel_round(&state, &ctx, id).await?;
    let user = ctx.user()?;
    let filter = format!(
        "a.round_id = $1 AND a.status IN {PANEL_STATUSES} AND a.id NOT IN (SELECT application_id FROM grant_conflicts WHERE member_id = {})",
        user.id
    );
    let apps = store::applications_where(&state.db, &filter, id).await?;
    let scored: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT s.application_id, COUNT(*) FROM grant_scores s JOIN grant_applications a ON a.id = s.application_id \
         WHERE a.round_id = $1 AND s.member_id = $2 GROUP BY s.application_id",
    )
    .bind(id)
    .bind(user.id)
    .fetch_all(&state.db.pool)
    .await?;
    let conflicts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM grant_conflicts c JOIN grant_applications a ON a.id = c.application_id WHERE a.round_id = $1 AND c.member_id = $2",
    )
    .bind(id)
    .bind(user.id)
    .fetch_one(&state.db.pool)
    .await?;
    let criteria = store::criteria(&state.db, round.fund_id).await?.len();
    let apps = apps
        .into_iter()
        .map(|a| {
            let n = scored.iter().find(|(id, _)| *id == a.id).map_or(0, |(_, n)| *n);
            (a, n)
        })
        .collect();
    Ok(render(&PanelRoundPage {
        page: Page::new(&ctx, format!("Panel: {}", round.title)),
        round,
        apps,
        conflicts,
        criteria,
    }))
}

/// One criterion's score as shown on the form: (criterion, chosen score or "", note).
pub struct ScoreField {
    pub criterion: Criterion,
    pub score: String,
    pub note: String,
}

impl ScoreField {
    pub fn score_id(&self) -> String {
        format!("score{}", self.criterion.id)
    }

    pub fn note_id(&self) -> String {
        format!("note{}", self.criterion.id)
    }
}

#[derive(Template)]
#[template(path = "grants/panel_application.html")]
struct PanelApplicationPage {
    page: Page,
    errors: FormErrors,
    app: Application,
    answers: Vec<Field>,
    fields: Vec<ScoreField>,
    scale: Vec<(String, String)>,
}

/// An application the member may read: on the round's panel and not conflicted.
async fn readable(state: &AppState, ctx: &Ctx, id: i64) -> AppResult<Result<Application, Response>> {
    let user = ctx.user()?;
    let app = store::application(&state.db, id).await?.ok_or(AppError::NotFound)?;
    if !["submitted", "awarded", "declined"].contains(&app.status.as_str()) {
        return Err(AppError::NotFound);
    }
    panel_round(state, ctx, app.round_id).await?;
    if conflicted(state, id, user.id).await? {
        return Ok(Err(message(
            ctx,
            "You declared a conflict of interest",
            &["You told us you have a conflict of interest with this application, so you cannot read or score it. Thank you for saying so."],
            Some((&format!("/panel/rounds/{}", app.round_id), "Back to the panel's applications")),
        )));
    }
    Ok(Ok(app))
}

async fn show(
    state: &AppState,
    ctx: &Ctx,
    app: Application,
    typed: Option<&FormData>,
    errors: FormErrors,
) -> AppResult<Response> {
    let user = ctx.user()?;
    let criteria = store::criteria(&state.db, app.fund_id).await?;
    let mine: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT criterion_id, score, note FROM grant_scores WHERE application_id = $1 AND member_id = $2",
    )
    .bind(app.id)
    .bind(user.id)
    .fetch_all(&state.db.pool)
    .await?;
    let fields = criteria
        .into_iter()
        .map(|c| {
            let (score, note) = match typed {
                Some(f) => (f.get(&format!("score{}", c.id)), f.get(&format!("note{}", c.id))),
                None => mine
                    .iter()
                    .find(|(id, _, _)| *id == c.id)
                    .map(|(_, s, n)| (s.to_string(), n.clone()))
                    .unwrap_or_default(),
            };
            ScoreField { criterion: c, score, note }
        })
        .collect();
    let answers = store::answered(&state.db, &app).await?.into_iter().map(|(q, value)| Field { q, value }).collect();
    let invalid = !errors.is_empty();
    let mut response = render(&PanelApplicationPage {
        page: Page::new(ctx, format!("{}Score the application from {}", errors.title_prefix(), app.from_name())),
        errors,
        app,
        answers,
        fields,
        scale: SCALE.iter().map(|(v, l)| (v.to_string(), l.to_string())).collect(),
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn application_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    match readable(&state, &ctx, id).await? {
        Ok(app) => show(&state, &ctx, app, None, FormErrors::default()).await,
        Err(page) => Ok(page),
    }
}

/// Save this member's scores: every criterion gets a score on the scale; notes are optional.
pub async fn score(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let app = match readable(&state, &ctx, id).await? {
        Ok(app) => app,
        Err(page) => return Ok(page),
    };
    let user = ctx.user()?;
    let criteria = store::criteria(&state.db, app.fund_id).await?;
    let mut errors = FormErrors::default();
    let mut scores = Vec::new();
    for c in &criteria {
        let field = format!("score{}", c.id);
        let note = form.get(&format!("note{}", c.id));
        match form.get(&field).parse::<i64>() {
            Ok(s) if SCALE.iter().any(|(v, _)| *v == s) => scores.push((c.id, s, note)),
            _ => errors.add(&field, format!("Choose a score for “{}”", c.title)),
        }
        if form.get(&format!("note{}", c.id)).chars().count() > 2000 {
            errors.add(&format!("note{}", c.id), "Keep the note to 2000 characters or fewer");
        }
    }
    if !errors.is_empty() {
        return show(&state, &ctx, app, Some(&form), errors).await;
    }
    let mut tx = state.db.begin().await?;
    for (criterion_id, score, note) in scores {
        sqlx::query(
            "INSERT INTO grant_scores (application_id, member_id, criterion_id, score, note, scored_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (application_id, member_id, criterion_id) DO UPDATE SET score = excluded.score, note = excluded.note, scored_at = excluded.scored_at",
        )
        .bind(id)
        .bind(user.id)
        .bind(criterion_id)
        .bind(score)
        .bind(note)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    }
    refresh_summary(&mut tx, id).await?;
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/panel/rounds/{}", app.round_id), "scores-saved"))
}

/// Declare a conflict of interest: the application disappears from this member's list, any
/// scores they gave it are removed, and the decision record counts it.
pub async fn declare_conflict(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let app = match readable(&state, &ctx, id).await? {
        Ok(app) => app,
        Err(page) => return Ok(page),
    };
    let user = ctx.user()?;
    let mut tx = state.db.begin().await?;
    sqlx::query("INSERT INTO grant_conflicts (application_id, member_id, declared_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(id)
        .bind(user.id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM grant_scores WHERE application_id = $1 AND member_id = $2")
        .bind(id)
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    refresh_summary(&mut tx, id).await?;
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/panel/rounds/{}", app.round_id), "conflict-declared"))
}

/// One row of the staff scoring table.
pub struct ScoreRow {
    pub id: i64,
    pub from: String,
    pub amount: String,
    pub status: String,
    pub scorers: i64,
    pub total: i64,
    pub mean: String,
    /// Highest panel member's total minus lowest: where the panel disagreed.
    pub spread: i64,
    pub conflicts: i64,
}

#[derive(Template)]
#[template(path = "grants/scores.html")]
struct ScoresPage {
    page: Page,
    round: Round,
    rows: Vec<ScoreRow>,
    panel_size: i64,
}

/// Every application of a round with its panel totals and spread: one indexed read of the
/// summaries kept beside each application (see [`refresh_summary`]).
pub async fn scoring_table(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let round = store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
    type Row = (i64, Option<String>, Option<String>, Option<i64>, String, i64, i64, i64, i64);
    // Thousands of rows: read as one JSON value (see `Db::rows_as_json`).
    let sql = state.db.rows_as_json(
        "id, group_name, member_name, amount_pence, status, score_scorers, score_total, score_spread, conflicts",
        &format!(
            "SELECT a.id, g.name AS group_name, m.display_name AS member_name, a.amount_pence, a.status, \
                    a.score_scorers, a.score_total, a.score_spread, a.conflicts \
             FROM grant_applications a LEFT JOIN groups g ON g.id = a.group_id LEFT JOIN members m ON m.id = a.member_id \
             WHERE a.round_id = $1 AND a.status IN {PANEL_STATUSES} ORDER BY a.score_total DESC, a.id"
        ),
    );
    let json: String = sqlx::query_scalar(&sql).bind(id).fetch_one(&state.db.pool).await?;
    let rows: Vec<Row> = crate::core::db::json_rows(&json)?;
    let panel_size: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grant_panel_members WHERE round_id = $1")
        .bind(id)
        .fetch_one(&state.db.pool)
        .await?;
    let rows = rows
        .into_iter()
        .map(|(id, group, member, amount, status, scorers, total, spread, conflicts)| ScoreRow {
            id,
            from: group.or(member).unwrap_or_else(|| "Former member".into()),
            amount: amount.map(super::domain::pounds).unwrap_or_default(),
            status,
            scorers,
            total,
            mean: if scorers > 0 { format!("{:.1}", total as f64 / scorers as f64) } else { "–".into() },
            spread,
            conflicts,
        })
        .collect();
    Ok(render(&ScoresPage { page: Page::new(&ctx, format!("Scores: {}", round.title)), round, rows, panel_size }))
}
