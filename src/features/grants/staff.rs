//! Staff running grants: funds and their income, rounds and their forms and panels,
//! applications taken on someone's behalf, and opening and publishing rounds.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

use super::{
    apply::{form_for, save_from_form},
    domain::{
        parse_pounds, validate_fund, validate_question, validate_round, ApplicantType, Question, QuestionKind,
        REGRANT_TYPES,
    },
    store::{self, Application, Fund, FundConflict, Income, NewIncome, Round, Totals},
};
use crate::{
    core::{
        confirm::{self, Confirm},
        context::Ctx,
        error::{AppError, AppResult},
        forms::{FormData, FormErrors},
        layout::{redirect_with_notice, render, Page},
        state::AppState,
        time::parse_date,
    },
    features::members::{domain::EmailAddress, store as members},
};

/// A page's form state: what was typed and what is wrong with it.
#[derive(Default)]
pub struct Typed {
    pub values: FormData,
    pub errors: FormErrors,
}

impl Typed {
    pub fn get(&self, field: &str) -> String {
        self.values.get(field)
    }
}

fn unprocessable_if(mut response: Response, invalid: bool) -> Response {
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

#[derive(Template)]
#[template(path = "grants/staff_funds.html")]
struct FundsPage {
    page: Page,
    funds: Vec<(Fund, Totals)>,
    typed: Typed,
    applicant_types: [(&'static str, &'static str); 3],
    regrant_types: [(&'static str, &'static str); 3],
    yes_no: [(&'static str, &'static str); 2],
}

async fn funds_page(state: &AppState, ctx: &Ctx, typed: Typed) -> AppResult<Response> {
    let mut funds = Vec::new();
    for f in store::funds(&state.db).await? {
        let t = store::totals(&state.db, f.id).await?;
        funds.push((f, t));
    }
    let invalid = !typed.errors.is_empty();
    let page = render(&FundsPage {
        page: Page::new(ctx, format!("{}Run grants", typed.errors.title_prefix())),
        funds,
        typed,
        applicant_types: ApplicantType::OPTIONS,
        regrant_types: REGRANT_TYPES,
        yes_no: RESTRICTED,
    });
    Ok(unprocessable_if(page, invalid))
}

pub async fn funds(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let values = FormData(vec![("applicant_type".into(), "both".into()), ("restricted".into(), "no".into())]);
    funds_page(&state, &ctx, Typed { values, ..Default::default() }).await
}

pub async fn create_fund(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let fund = match validate_fund(&form) {
        Ok(f) => f,
        Err(errors) => return funds_page(&state, &ctx, Typed { values: form, errors }).await,
    };
    let mut tx = state.db.begin().await?;
    let id = store::insert_fund(&mut tx, &fund).await?;
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/staff/grants/funds/{id}"), "fund-created"))
}

const RESTRICTED: [(&str, &str); 2] = [("no", "Unrestricted"), ("yes", "Restricted to its purpose")];

const TIMINGS: [(&str, &str); 2] =
    [("dates", "Opens and closes on set dates"), ("rolling", "Rolling: always open, decided in batches")];

#[derive(Template)]
#[template(path = "grants/staff_fund.html")]
struct FundPage {
    page: Page,
    fund: Fund,
    totals: Totals,
    criteria: Vec<store::Criterion>,
    income: Vec<Income>,
    rounds: Vec<Round>,
    typed: Typed,
    timings: [(&'static str, &'static str); 2],
}

async fn fund_page_with(state: &AppState, ctx: &Ctx, id: i64, typed: Typed) -> AppResult<Response> {
    let fund = store::fund(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let invalid = !typed.errors.is_empty();
    let page = render(&FundPage {
        page: Page::new(ctx, format!("{}{}", typed.errors.title_prefix(), fund.name)),
        totals: store::totals(&state.db, id).await?,
        criteria: store::criteria(&state.db, id).await?,
        income: store::income_of(&state.db, id).await?,
        rounds: store::rounds_where(&state.db, "r.fund_id = $1", id).await?,
        fund,
        typed,
        timings: TIMINGS,
    });
    Ok(unprocessable_if(page, invalid))
}

pub async fn fund_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let values = FormData(vec![("timing".into(), "dates".into())]);
    fund_page_with(&state, &ctx, id, Typed { values, ..Default::default() }).await
}

#[derive(Template)]
#[template(path = "grants/staff_fund_edit.html")]
struct FundEditPage {
    page: Page,
    fund: Fund,
    scored: bool,
    typed: Typed,
    applicant_types: [(&'static str, &'static str); 3],
    regrant_types: [(&'static str, &'static str); 3],
    yes_no: [(&'static str, &'static str); 2],
}

fn fund_edit_page(ctx: &Ctx, fund: Fund, scored: bool, typed: Typed) -> Response {
    let invalid = !typed.errors.is_empty();
    let page = render(&FundEditPage {
        page: Page::new(ctx, format!("{}Change the fund: {}", typed.errors.title_prefix(), fund.name)),
        fund,
        scored,
        typed,
        applicant_types: ApplicantType::OPTIONS,
        regrant_types: REGRANT_TYPES,
        yes_no: RESTRICTED,
    });
    unprocessable_if(page, invalid)
}

fn criteria_text(criteria: &[store::Criterion]) -> String {
    criteria.iter().map(|c| format!("{}: {}", c.title, c.description)).collect::<Vec<_>>().join("\n")
}

pub async fn edit_fund_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let fund = store::fund(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let criteria = store::criteria(&state.db, id).await?;
    let values = FormData(vec![
        ("name".into(), fund.name.clone()),
        ("purpose".into(), fund.purpose.clone()),
        ("budget".into(), fund.budget()),
        ("restricted".into(), if fund.restricted { "yes" } else { "no" }.into()),
        ("applicant_type".into(), fund.applicant_type.clone()),
        ("cap".into(), fund.cap().unwrap_or_default()),
        ("criteria".into(), criteria_text(&criteria)),
        ("regrant_type".into(), fund.regrant_type.clone().unwrap_or_default()),
    ]);
    let scored = store::criteria_scored(&state.db.pool, id).await?;
    Ok(fund_edit_page(&ctx, fund, scored, Typed { values, ..Default::default() }))
}

/// Change a fund's name, wording, budget, cap or who may apply. Its criteria change only until
/// a panel has scored against them (scores belong to a criterion), and the budget cannot fall
/// below what is already awarded beyond the income. Whether it is the donations pot stays.
pub async fn update_fund(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    mut form: FormData,
) -> AppResult<Response> {
    let fund = store::fund(&state.db, id).await?.ok_or(AppError::NotFound)?;
    form.0.retain(|(k, _)| k != "donations_only");
    if fund.donations_only {
        form.0.push(("donations_only".into(), "yes".into()));
    }
    let refused = |form: FormData, errors: FormErrors| async {
        let scored = store::criteria_scored(&state.db.pool, id).await?;
        Ok(fund_edit_page(&ctx, fund, scored, Typed { values: form, errors }))
    };
    let valid = match validate_fund(&form) {
        Ok(f) => f,
        Err(errors) => return refused(form, errors).await,
    };
    let mut tx = state.db.begin().await?;
    let conflicts = store::update_fund(&mut tx, id, &valid).await?;
    if !conflicts.is_empty() {
        drop(tx);
        let mut errors = FormErrors::default();
        for conflict in conflicts {
            match conflict {
                FundConflict::CriteriaScored => {
                    errors.add("criteria", "A panel has already scored against these criteria, so they cannot change")
                }
                FundConflict::BudgetBelowAwards(needed) => errors.add(
                    "budget",
                    format!(
                        "The budget cannot be less than {}: that much is already awarded beyond the income",
                        super::domain::pounds(needed)
                    ),
                ),
            }
        }
        return refused(form, errors).await;
    }
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/staff/grants/funds/{id}"), "fund-saved"))
}

/// Income from a funder (donations are recorded on the donations page, with their donor).
pub async fn record_income(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let fund = store::fund(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FormErrors::default();
    if fund.donations_only {
        errors.add("income_amount", "This fund is fed only by donations: record them on the donations page");
    }
    let amount = match parse_pounds(&form.get("income_amount")) {
        Ok(0) => {
            errors.add("income_amount", "Income must be more than £0");
            0
        }
        Ok(a) => a,
        Err(e) => {
            errors.add("income_amount", e);
            0
        }
    };
    let received_on = parse_date(&form.get("income_received_on")).map(|d| d.to_string());
    if received_on.is_none() {
        errors.add("income_received_on", "Enter the date it was received as a real date, like 27 3 2026");
    }
    let source = form.get("income_source");
    if source.is_empty() || source.chars().count() > 200 {
        errors.add("income_source", "Enter who the grant is from");
    }
    let Some(received_on) = received_on.filter(|_| errors.is_empty()) else {
        return fund_page_with(&state, &ctx, id, Typed { values: form, errors }).await;
    };
    let mut conn = state.db.pool.acquire().await?;
    store::record_income(
        &mut conn,
        &NewIncome {
            fund_id: id,
            kind: "funder_grant",
            amount_pence: amount,
            received_on: &received_on,
            source: Some(&source),
            donor_id: None,
            declaration_id: None,
            recorded_by: ctx.user()?.id,
        },
    )
    .await?;
    Ok(redirect_with_notice(&state, &format!("/staff/grants/funds/{id}"), "income-recorded"))
}

pub async fn create_round(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    store::fund(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let round = match validate_round(&form) {
        Ok(r) => r,
        Err(errors) => return fund_page_with(&state, &ctx, id, Typed { values: form, errors }).await,
    };
    let mut tx = state.db.begin().await?;
    let round_id = store::insert_round(&mut tx, id, &round).await?;
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/staff/grants/rounds/{round_id}"), "round-created"))
}

#[derive(Template)]
#[template(path = "grants/staff_round.html")]
struct RoundPage {
    page: Page,
    round: Round,
    questions: Vec<Question>,
    panel: Vec<(i64, String, Option<String>, bool)>,
    apps: Vec<Application>,
    typed: Typed,
    kinds: [(&'static str, &'static str); 5],
}

async fn round_page_with(state: &AppState, ctx: &Ctx, id: i64, typed: Typed) -> AppResult<Response> {
    let round = store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let panel: Vec<(i64, Option<String>, Option<String>, i64)> = sqlx::query_as(
        "SELECT p.member_id, m.display_name, p.shown_as, p.paid FROM grant_panel_members p JOIN members m ON m.id = p.member_id \
         WHERE p.round_id = $1 ORDER BY p.added_at, p.member_id",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    let invalid = !typed.errors.is_empty();
    let page = render(&RoundPage {
        page: Page::new(ctx, format!("{}Round: {}", typed.errors.title_prefix(), round.title)),
        questions: store::questions(&state.db, id).await?,
        panel: panel
            .into_iter()
            .map(|(id, name, shown, paid)| (id, name.unwrap_or_default(), shown, paid != 0))
            .collect(),
        apps: store::applications_where(&state.db, "a.round_id = $1 AND a.status <> 'draft'", id).await?,
        round,
        typed,
        kinds: QuestionKind::OPTIONS,
    });
    Ok(unprocessable_if(page, invalid))
}

pub async fn round_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    round_page_with(&state, &ctx, id, Typed::default()).await
}

pub async fn add_question(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let q = match validate_question(&form) {
        Ok(q) => q,
        Err(errors) => return round_page_with(&state, &ctx, id, Typed { values: form, errors }).await,
    };
    let mut conn = state.db.pool.acquire().await?;
    store::add_question(&mut conn, id, &q).await?;
    Ok(redirect_with_notice(&state, &format!("/staff/grants/rounds/{id}"), "question-added"))
}

/// Remove a question (its answers in drafts go with it).
pub async fn remove_question(
    State(state): State<AppState>,
    Path((id, question)): Path<(i64, i64)>,
) -> AppResult<Response> {
    sqlx::query("DELETE FROM grant_questions WHERE id = $1 AND round_id = $2")
        .bind(question)
        .bind(id)
        .execute(&state.db.pool)
        .await?;
    Ok(redirect_with_notice(&state, &format!("/staff/grants/rounds/{id}"), "question-removed"))
}

/// Add a panel member by email: staff, or a member (paid for their time).
pub async fn add_panel_member(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let mut errors = FormErrors::default();
    let member = match EmailAddress::parse(&form.get("panel_email")) {
        Ok(email) => members::find_by_email(&state.db, email.as_str()).await?.filter(|m| m.status == "active"),
        Err(_) => None,
    };
    if member.is_none() {
        errors.add("panel_email", "Enter the email address of an active member or staff member");
    }
    let shown_as = form.get("shown_as");
    if shown_as.chars().count() > 120 {
        errors.add("shown_as", "Keep this to 120 characters or fewer");
    }
    let Some(member) = member.filter(|_| errors.is_empty()) else {
        return round_page_with(&state, &ctx, id, Typed { values: form, errors }).await;
    };
    sqlx::query(
        "INSERT INTO grant_panel_members (round_id, member_id, shown_as, paid, added_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (round_id, member_id) DO UPDATE SET shown_as = excluded.shown_as, paid = excluded.paid",
    )
    .bind(id)
    .bind(member.id)
    .bind((!shown_as.is_empty()).then_some(shown_as))
    .bind((member.role == "member") as i64)
    .bind(crate::core::time::now())
    .execute(&state.db.pool)
    .await?;
    Ok(redirect_with_notice(&state, &format!("/staff/grants/rounds/{id}"), "panel-added"))
}

#[derive(Template)]
#[template(path = "grants/staff_round_edit.html")]
struct RoundEditPage {
    page: Page,
    round: Round,
    typed: Typed,
    timings: [(&'static str, &'static str); 2],
}

/// A round whose details may still change: its decisions are not yet published.
async fn undecided_round(state: &AppState, id: i64) -> AppResult<Round> {
    let round = store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
    if round.decided_at.is_some() {
        return Err(AppError::BadRequest(
            "This round's decisions are published, so its details stay as they were when it was decided.".into(),
        ));
    }
    Ok(round)
}

fn round_edit_page(ctx: &Ctx, round: Round, typed: Typed) -> Response {
    let invalid = !typed.errors.is_empty();
    let page = render(&RoundEditPage {
        page: Page::new(ctx, format!("{}Change the round: {}", typed.errors.title_prefix(), round.title)),
        round,
        typed,
        timings: TIMINGS,
    });
    unprocessable_if(page, invalid)
}

pub async fn edit_round_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let round = undecided_round(&state, id).await?;
    let values = FormData(vec![
        ("title".into(), round.title.clone()),
        ("timing".into(), if round.rolling { "rolling" } else { "dates" }.into()),
        ("opens_on".into(), round.opens_on.clone().unwrap_or_default()),
        ("closes_on".into(), round.closes_on.clone().unwrap_or_default()),
        ("budget".into(), round.budget()),
        ("who_decides".into(), round.who_decides.clone()),
        ("help".into(), round.help.clone()),
    ]);
    Ok(round_edit_page(&ctx, round, Typed { values, ..Default::default() }))
}

/// Change a round's title, dates, budget or wording (to extend a deadline, say) until its
/// decisions are published.
pub async fn update_round(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let round = undecided_round(&state, id).await?;
    let valid = match validate_round(&form) {
        Ok(r) => r,
        Err(errors) => return Ok(round_edit_page(&ctx, round, Typed { values: form, errors })),
    };
    let mut conn = state.db.pool.acquire().await?;
    if !store::update_round(&mut conn, id, &valid).await? {
        return Err(AppError::BadRequest("This round's decisions were published while you were editing it.".into()));
    }
    Ok(redirect_with_notice(&state, &format!("/staff/grants/rounds/{id}"), "round-saved"))
}

/// Open the round to applications (it shows on the public grants page).
pub async fn publish(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Response> {
    let done =
        sqlx::query("UPDATE grant_rounds SET published = 1 WHERE id = $1").bind(id).execute(&state.db.pool).await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(redirect_with_notice(&state, &format!("/staff/grants/rounds/{id}"), "round-published"))
}

/// Publish the round's decisions: it closes, and its transparency page and open data appear.
pub async fn publish_decisions(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    if !confirm::confirmed(&form) {
        let round = store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
        return Ok(confirm::ask(
            &ctx,
            Confirm {
                title: format!("Close {} and publish its decisions?", round.title),
                consequences: vec![
                    "The round stops taking applications, and no more decisions can be made in it.".into(),
                    "Its decisions are published: the page of what was decided, the open data, and its figures of who it reached. This cannot be undone.".into(),
                ],
                button: "Close the round and publish".into(),
                action: format!("/staff/grants/rounds/{id}/decisions"),
                form: &form,
                back: format!("/staff/grants/rounds/{id}"),
            },
        ));
    }
    let done =
        sqlx::query("UPDATE grant_rounds SET decided_at = $1, published = 1 WHERE id = $2 AND decided_at IS NULL")
            .bind(crate::core::time::now())
            .bind(id)
            .execute(&state.db.pool)
            .await?;
    let round = store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
    if done.rows_affected() == 1 {
        // The round is closed: its figures are counted now and kept as published.
        super::fairness::published_round(&state.db, &round).await?;
    }
    Ok(redirect_with_notice(&state, &format!("/staff/grants/rounds/{id}"), "decisions-published"))
}

/// Start an application for a member who applied by phone or in conversation.
pub async fn on_behalf(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let user = ctx.user()?;
    let member = match EmailAddress::parse(&form.get("applicant_email")) {
        Ok(email) => members::find_by_email(&state.db, email.as_str()).await?,
        Err(_) => None,
    };
    let Some(member) = member else {
        let mut errors = FormErrors::default();
        errors.add("applicant_email", "Enter the email address of the member you are applying for");
        return round_page_with(&state, &ctx, id, Typed { values: form, errors }).await;
    };
    let mut conn = state.db.pool.acquire().await?;
    let app = store::create_application(&mut conn, id, member.id, None, Some((user.id, &user.name))).await?;
    Ok(redirect_with_notice(&state, &format!("/staff/grants/applications/{app}/edit"), "application-started"))
}

#[derive(Template)]
#[template(path = "grants/staff_edit.html")]
struct EditPage {
    page: Page,
    errors: FormErrors,
    app: Application,
    form: String,
}

/// A draft entered on someone's behalf, open to the staff member filling it in.
async fn behalf_draft(state: &AppState, id: i64) -> AppResult<Application> {
    store::application(&state.db, id)
        .await?
        .filter(|a| a.entered_by_name.is_some() && a.editable())
        .ok_or(AppError::NotFound)
}

async fn edit_page_with(
    state: &AppState,
    ctx: &Ctx,
    app: Application,
    typed: Option<&FormData>,
    errors: FormErrors,
) -> AppResult<Response> {
    let form = form_for(state, ctx, &app, format!("/staff/grants/applications/{}/edit", app.id), typed, errors.clone())
        .await?
        .render()
        .map_err(AppError::internal)?;
    let invalid = !errors.is_empty();
    let page = render(&EditPage {
        page: Page::new(ctx, format!("{}Application for {}", errors.title_prefix(), app.from_name())),
        errors,
        app,
        form,
    });
    Ok(unprocessable_if(page, invalid))
}

pub async fn edit_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let app = behalf_draft(&state, id).await?;
    edit_page_with(&state, &ctx, app, None, FormErrors::default()).await
}

pub async fn edit(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormData) -> AppResult<Response> {
    let app = behalf_draft(&state, id).await?;
    let (submitted, errors) = save_from_form(&state, &app, &form).await?;
    if !errors.is_empty() {
        return edit_page_with(&state, &ctx, app, Some(&form), errors).await;
    }
    let (to, notice) = if submitted {
        (format!("/staff/grants/applications/{id}"), "application-sent")
    } else {
        (format!("/staff/grants/applications/{id}/edit"), "application-saved")
    };
    Ok(redirect_with_notice(&state, &to, notice))
}
