//! Staff deciding an application (award, a different amount, or decline with a kind reason and
//! a pointer to other help), then its payments: schedule, mark paid, bank details, bank export.
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};

use super::{
    apply::Field,
    domain::{parse_pounds, pounds, validate_decision, Outcome},
    follow_up::{self, FollowUp},
    money::{self, Award, BankDetails, DecideError, Payment, ScheduleError, PAYMENT_METHODS},
    staff::Typed,
    store::{self, Application},
};
use crate::core::{
    audit::{self, Action},
    confirm::{self, Confirm},
    context::Ctx,
    error::{AppError, AppResult},
    forms::{FormData, FormErrors},
    layout::{redirect_with_notice, render, Page},
    mail::Email,
    state::AppState,
    time::{local_date, now, parse_date},
};

/// A decision as the record shows it: (outcome, amount, reason, other help, conflicts, date).
pub struct DecisionRecord {
    pub outcome: String,
    pub amount: Option<String>,
    pub reason: String,
    pub other_help: String,
    pub conflicts: i64,
    pub date: String,
}

#[derive(Template)]
#[template(path = "grants/staff_application.html")]
struct ApplicationPage {
    page: Page,
    app: Application,
    answers: Vec<Field>,
    decisions: Vec<DecisionRecord>,
    conflicts: i64,
    award: Option<Award>,
    payments: Vec<Payment>,
    follow_up: Option<FollowUp>,
    typed: Typed,
    outcomes: [(&'static str, &'static str); 3],
    methods: Vec<(String, String)>,
    bank_details_on: bool,
}

async fn page_with(state: &AppState, ctx: &Ctx, id: i64, typed: Typed) -> AppResult<Response> {
    let app = store::application(&state.db, id)
        .await?
        .filter(|a| a.status != "draft" || a.entered_by_name.is_some())
        .ok_or(AppError::NotFound)?;
    let rows: Vec<(String, Option<i64>, String, String, i64, i64)> = sqlx::query_as(
        "SELECT outcome, amount_pence, reason, other_help, conflicts, decided_at FROM grant_decisions WHERE application_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    let decisions = rows
        .into_iter()
        .map(|(outcome, amount, reason, other_help, conflicts, at)| DecisionRecord {
            outcome: Outcome::OPTIONS
                .iter()
                .find(|(v, _)| *v == outcome)
                .map_or(outcome.clone(), |(_, l)| l.to_string()),
            amount: amount.map(pounds),
            reason,
            other_help,
            conflicts,
            date: crate::core::time::human_date(at),
        })
        .collect();
    let conflicts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grant_conflicts WHERE application_id = $1")
        .bind(id)
        .fetch_one(&state.db.pool)
        .await?;
    let award = money::award_of(&state.db, id).await?;
    let (payments, follow_up) = match &award {
        Some(a) => (money::payments(&state.db, a.id).await?, follow_up::reply(&state.db, a.id).await?),
        None => (Vec::new(), None),
    };
    let answers = store::answered(&state.db, &app).await?.into_iter().map(|(q, value)| Field { q, value }).collect();
    let invalid = !typed.errors.is_empty();
    let mut response = render(&ApplicationPage {
        page: Page::new(ctx, format!("{}Application from {}", typed.errors.title_prefix(), app.from_name())),
        app,
        answers,
        decisions,
        conflicts,
        award,
        payments,
        follow_up,
        typed,
        outcomes: Outcome::OPTIONS,
        methods: PAYMENT_METHODS.iter().map(|m| (m.to_string(), m.to_string())).collect(),
        bank_details_on: state.config.store_bank_details,
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn application_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    page_with(&state, &ctx, id, Typed::default()).await
}

fn one_error(form: FormData, field: &str, message: String) -> Typed {
    let mut errors = FormErrors::default();
    errors.add(field, message);
    Typed { values: form, errors }
}

/// The email telling the applicant, with the same words as the message on their page.
fn decision_email(state: &AppState, app: &Application, text: &str) -> Option<Email> {
    let to = app.applicant_email.as_deref()?;
    let name = app.applicant_name.as_deref().unwrap_or("there");
    let link = format!("{}/grants/applications/{}", state.config.base_url, app.id);
    Some(Email::text(
        to,
        format!("A decision on your application to {}", app.round_title),
        format!("Hello {name},\n\n{text}\n\nYou can read this, and everything about your application, here:\n{link}\n"),
    ))
}

pub async fn decide(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let app = store::application(&state.db, id).await?.ok_or(AppError::NotFound)?;
    if app.status != "submitted" {
        return page_with(
            &state,
            &ctx,
            id,
            one_error(form, "outcome", "This application is not waiting for a decision".into()),
        )
        .await;
    }
    let decision = match validate_decision(&form, app.amount_pence) {
        Ok(d) => d,
        Err(errors) => return page_with(&state, &ctx, id, Typed { values: form, errors }).await,
    };
    let cap = store::fund(&state.db, app.fund_id).await?.and_then(|f| f.cap_pence);
    if let (Some(cap), Some(amount)) = (cap, decision.amount_pence) {
        if amount > cap {
            let message = format!("This fund gives up to {} for each award", pounds(cap));
            return page_with(&state, &ctx, id, one_error(form, "amount", message)).await;
        }
    }
    if !confirm::confirmed(&form) {
        let who = app.group_name.clone().or(app.applicant_name.clone()).unwrap_or_else(|| "the applicant".into());
        let fund = store::fund(&state.db, app.fund_id).await?.map(|f| f.name).unwrap_or_default();
        let what = match decision.amount_pence {
            Some(amount) => format!("This awards {} from {fund} to {who}.", pounds(amount)),
            None => format!("This declines the application from {who}."),
        };
        return Ok(confirm::ask(
            &ctx,
            Confirm {
                title: format!("Record this decision for {who}?"),
                consequences: vec![
                    what,
                    "They are emailed the decision and your reasons at once. A decision cannot be changed once it is recorded.".into(),
                ],
                button: "Record the decision and email them".into(),
                action: format!("/staff/grants/applications/{id}/decide"),
                form: &form,
                back: format!("/staff/grants/applications/{id}"),
            },
        ));
    }
    let email = decision_email(&state, &app, &money::applicant_message(&decision));
    match money::decide(&state.db, &app, &decision, ctx.user()?.id, email.as_ref()).await {
        Ok(()) => {
            state.jobs_waiting.notify_one();
            Ok(redirect_with_notice(&state, &format!("/staff/grants/applications/{id}"), "grant-decided"))
        }
        Err(DecideError::Overspend { available }) => {
            let message = format!("This would take the fund over its budget: {} is left to award", pounds(available));
            page_with(&state, &ctx, id, one_error(form, "outcome", message)).await
        }
        Err(DecideError::AlreadyDecided) => {
            page_with(
                &state,
                &ctx,
                id,
                one_error(form, "outcome", "Someone else has just decided this application".into()),
            )
            .await
        }
        Err(DecideError::Db(e)) => Err(e.into()),
    }
}

async fn award_or_404(state: &AppState, award_id: i64) -> AppResult<Award> {
    money::award(&state.db, award_id).await?.ok_or(AppError::NotFound)
}

pub async fn schedule_payment(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(award_id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let award = award_or_404(&state, award_id).await?;
    let id = award.application_id;
    let due_on = match parse_date(&form.get("due_on")) {
        Some(d) => d.to_string(),
        None => {
            return page_with(
                &state,
                &ctx,
                id,
                one_error(form, "due_on", "Enter the date it is due as a real date, like 27 3 2026".into()),
            )
            .await
        }
    };
    let amount = match parse_pounds(&form.get("payment_amount")) {
        Ok(a) if a > 0 => a,
        Ok(_) => {
            return page_with(
                &state,
                &ctx,
                id,
                one_error(form, "payment_amount", "A payment must be more than £0".into()),
            )
            .await
        }
        Err(e) => return page_with(&state, &ctx, id, one_error(form, "payment_amount", e.into())).await,
    };
    match money::schedule_payment(&state.db, award_id, &due_on, amount).await {
        Ok(()) => Ok(redirect_with_notice(&state, &format!("/staff/grants/applications/{id}"), "payment-scheduled")),
        Err(e @ ScheduleError::MoreThanAwarded { .. }) => {
            page_with(&state, &ctx, id, one_error(form, "payment_amount", format!("Cannot schedule this: {e}"))).await
        }
        Err(ScheduleError::Db(e)) => Err(e.into()),
    }
}

pub async fn mark_paid(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(payment_id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let award_id: i64 = sqlx::query_scalar("SELECT award_id FROM grant_payments WHERE id = $1")
        .bind(payment_id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(AppError::NotFound)?;
    let award = award_or_404(&state, award_id).await?;
    let method = form.get("method");
    let paid_on = parse_date(&form.get("paid_on")).map(|d| d.to_string());
    let (field, message) = match (&paid_on, PAYMENT_METHODS.contains(&method.as_str())) {
        (None, _) => ("paid_on", "Enter the date it was paid as a real date, like 27 3 2026"),
        (_, false) => ("method", "Choose how it was paid"),
        (Some(paid_on), true) => {
            sqlx::query("UPDATE grant_payments SET paid_on = $1, method = $2 WHERE id = $3 AND paid_on IS NULL")
                .bind(paid_on)
                .bind(&method)
                .bind(payment_id)
                .execute(&state.db.pool)
                .await?;
            return Ok(redirect_with_notice(
                &state,
                &format!("/staff/grants/applications/{}", award.application_id),
                "payment-paid",
            ));
        }
    };
    page_with(&state, &ctx, award.application_id, one_error(form, field, message.into())).await
}

/// Bank details for an award, only when the organisation has turned storing them on.
pub async fn bank_details(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(award_id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    if !state.config.store_bank_details {
        return Err(AppError::NotFound);
    }
    let award = award_or_404(&state, award_id).await?;
    match BankDetails::parse(&form.get("account_name"), &form.get("sort_code"), &form.get("account_number")) {
        Ok(details) => {
            money::set_bank_details(&state.db, &state.keys, award_id, &details).await?;
            Ok(redirect_with_notice(
                &state,
                &format!("/staff/grants/applications/{}", award.application_id),
                "bank-saved",
            ))
        }
        Err(problems) => {
            let mut errors = FormErrors::default();
            for (field, message) in problems {
                errors.add(field, message);
            }
            page_with(&state, &ctx, award.application_id, Typed { values: FormData::default(), errors }).await
        }
    }
}

#[derive(serde::Deserialize)]
pub struct DueBy {
    due_by: Option<String>,
}

/// Unpaid payments due by a date (today unless given), for the bank's bulk upload. It can hold
/// bank details, so each export is in the audit log.
pub async fn bank_export(State(state): State<AppState>, ctx: Ctx, Query(q): Query<DueBy>) -> AppResult<Response> {
    let due_by = q.due_by.as_deref().and_then(parse_date).map(|d| d.to_string()).unwrap_or_else(|| local_date(now()));
    let body = money::bank_export(&state.db, &state.keys, &due_by).await?;
    audit::record(
        &state.db.pool,
        ctx.user()?.id,
        Action::Export,
        None,
        &format!("exported grant payments due by {due_by} for the bank"),
    )
    .await?;
    Ok(body.download(&format!("grant-payments-{due_by}.csv")))
}
