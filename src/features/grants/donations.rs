//! Donations to the small-costs pot, with optional Gift Aid declarations. A donor's data can
//! be downloaded and erased like a member's, except a Gift Aid declaration, which HMRC needs
//! kept until 6 years after the last gift it covers; housekeeping deletes it then.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{
    domain::{keep_until, pounds, validate_donation, GIFT_AID_COVERS, GIFT_AID_KEEP_YEARS, GIFT_AID_STATEMENT},
    store::{self, Fund, NewIncome},
};
use crate::core::{
    audit::{self, Action},
    confirm::{self, Confirm},
    context::Ctx,
    error::{AppError, AppResult},
    forms::{FormData, FormErrors},
    housekeeping::ChoreFuture,
    layout::{redirect_with_notice, render, Page},
    state::AppState,
    time::{local_date, now, parse_date},
};

/// A donation as the staff list shows it: (donor id, donor name, fund, amount, date, Gift Aid).
pub struct DonationLine {
    pub donor_id: Option<i64>,
    pub donor: String,
    pub fund: String,
    pub amount: String,
    pub received_on: String,
    pub gift_aid: bool,
}

#[derive(Template)]
#[template(path = "grants/donations.html")]
struct DonationsPage {
    page: Page,
    pots: Vec<(String, String)>,
    donations: Vec<DonationLine>,
    errors: FormErrors,
    values: FormData,
    covers: [(&'static str, &'static str); 2],
    statement: &'static str,
    keep_years: i16,
}

async fn page_with(state: &AppState, ctx: &Ctx, values: FormData, errors: FormErrors) -> AppResult<Response> {
    let pots: Vec<Fund> = store::funds(&state.db).await?.into_iter().filter(|f| f.donations_only).collect();
    let rows: Vec<(Option<i64>, Option<String>, String, i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT i.donor_id, d.name, f.name, i.amount_pence, i.received_on, i.declaration_id FROM grant_income i \
         JOIN grant_funds f ON f.id = i.fund_id LEFT JOIN grant_donors d ON d.id = i.donor_id \
         WHERE i.kind = 'donation' ORDER BY i.received_on DESC, i.id DESC LIMIT 200",
    )
    .fetch_all(&state.db.pool)
    .await?;
    let invalid = !errors.is_empty();
    let mut response = render(&DonationsPage {
        page: Page::new(ctx, format!("{}Donations", errors.title_prefix())),
        pots: pots.iter().map(|f| (f.id.to_string(), f.name.clone())).collect(),
        donations: rows
            .into_iter()
            .map(|(donor_id, donor, fund, amount, received_on, decl)| DonationLine {
                donor_id,
                donor: donor.unwrap_or_else(|| "Anonymous".into()),
                fund,
                amount: pounds(amount),
                received_on,
                gift_aid: decl.is_some(),
            })
            .collect(),
        errors,
        values,
        covers: GIFT_AID_COVERS,
        statement: GIFT_AID_STATEMENT,
        keep_years: GIFT_AID_KEEP_YEARS,
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn donations(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let values = FormData(vec![("received_on".into(), local_date(now()))]);
    page_with(&state, &ctx, values, FormErrors::default()).await
}

pub async fn record(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let fund = match form.get("fund_id").parse::<i64>() {
        Ok(id) => store::fund(&state.db, id).await?.filter(|f| f.donations_only),
        Err(_) => None,
    };
    let donation = validate_donation(&form);
    let (Some(fund), Ok(d)) = (&fund, &donation) else {
        let mut errors = donation.err().unwrap_or_default();
        if fund.is_none() {
            errors.add("fund_id", "Choose the pot the donation is for");
        }
        return page_with(&state, &ctx, form, errors).await;
    };
    let t = now();
    let mut tx = state.db.begin().await?;
    let donor_id: Option<i64> = match &d.donor_name {
        Some(name) => Some(
            sqlx::query_scalar("INSERT INTO grant_donors (name, created_at) VALUES ($1, $2) RETURNING id")
                .bind(name)
                .bind(t)
                .fetch_one(&mut *tx)
                .await?,
        ),
        None => None,
    };
    let declaration_id: Option<i64> = match &d.gift_aid {
        Some(ga) => Some(
            sqlx::query_scalar(
                "INSERT INTO gift_aid_declarations (donor_id, full_name, house, postcode, covers, declared_on, keep_until, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(donor_id)
            .bind(&ga.full_name)
            .bind(&ga.house)
            .bind(&ga.postcode)
            .bind(&ga.covers)
            .bind(&d.received_on)
            .bind(parse_date(&d.received_on).map(keep_until).unwrap_or_default())
            .bind(t)
            .fetch_one(&mut *tx)
            .await?,
        ),
        None => None,
    };
    store::record_income(
        &mut tx,
        &NewIncome {
            fund_id: fund.id,
            kind: "donation",
            amount_pence: d.amount_pence,
            received_on: &d.received_on,
            source: None,
            donor_id,
            declaration_id,
            recorded_by: ctx.user()?.id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(redirect_with_notice(&state, "/staff/grants/donations", "donation-recorded"))
}

/// Everything held about a donor, as JSON: their name, their gifts and any Gift Aid declaration.
pub async fn export(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let donor: (Option<String>, i64) =
        sqlx::query_as("SELECT name, created_at FROM grant_donors WHERE id = $1 AND erased_at IS NULL")
            .bind(id)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or(AppError::NotFound)?;
    let gifts: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT i.amount_pence, i.received_on, f.name FROM grant_income i JOIN grant_funds f ON f.id = i.fund_id WHERE i.donor_id = $1 ORDER BY i.id",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    let declarations: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT full_name, house, postcode, covers, declared_on, keep_until FROM gift_aid_declarations WHERE donor_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    audit::record(&state.db.pool, ctx.user()?.id, Action::Export, None, &format!("exported donor {id}")).await?;
    let body = json!({
        "format": "constellate-donor-export/1",
        "name": donor.0,
        "gifts": gifts.iter().map(|(a, on, fund)| json!({"amount_pence": a, "received_on": on, "fund": fund})).collect::<Vec<_>>(),
        "gift_aid_declarations": declarations.iter().map(|(n, h, p, c, d, k)| json!({
            "full_name": n, "house": h, "postcode": p, "covers": c, "declared_on": d, "statement": GIFT_AID_STATEMENT,
            "kept_until": k,
            "why_kept": "HMRC requires a Gift Aid declaration to be kept for 6 years after the last gift it covers; it is deleted then, even if you ask us to erase your other data.",
        })).collect::<Vec<_>>(),
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"donor-{id}.json\"")),
        ],
        body.to_string(),
    )
        .into_response())
}

/// Erase a donor: their name goes and their gifts become anonymous. A Gift Aid declaration is
/// kept, unlinked, until its legal period ends (its keep_until date moves to 6 years after the
/// last gift it covers).
pub async fn erase(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    if !confirm::confirmed(&form) {
        return Ok(confirm::ask(
            &ctx,
            Confirm {
                title: "Erase this donor's data?".into(),
                consequences: vec![
                    "Their name and address go, and their gifts stay as anonymous income. This cannot be undone."
                        .into(),
                    "A Gift Aid declaration is kept, unlinked, for the 6 years HMRC requires.".into(),
                ],
                button: "Erase the donor's data".into(),
                action: format!("/staff/grants/donors/{id}/erase"),
                form: &form,
                back: "/staff/grants/donations".into(),
            },
        ));
    }
    let mut tx = state.db.begin().await?;
    if !erase_donor(&mut tx, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut *tx,
        ctx.user()?.id,
        Action::Erase,
        None,
        &format!("erased donor {id}; Gift Aid declarations kept for their legal period"),
    )
    .await?;
    tx.commit().await?;
    state.db.scrub().await?;
    Ok(redirect_with_notice(&state, "/staff/grants/donations", "donor-erased"))
}

/// Erase one donor inside the caller's transaction (staff erasing a donor, or a member erasing
/// themselves, whose donor record shares their address); false when there was no such donor.
pub async fn erase_donor(tx: &mut sqlx::AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    let last_gifts: Vec<(i64, Option<String>)> = sqlx::query_as(
        "SELECT d.id, (SELECT MAX(received_on) FROM grant_income i WHERE i.declaration_id = d.id) FROM gift_aid_declarations d WHERE d.donor_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    for (declaration, last) in last_gifts {
        if let Some(until) = last.as_deref().and_then(parse_date).map(keep_until) {
            sqlx::query("UPDATE gift_aid_declarations SET keep_until = $1, donor_id = NULL WHERE id = $2")
                .bind(until)
                .bind(declaration)
                .execute(&mut *tx)
                .await?;
        }
    }
    sqlx::query("UPDATE grant_income SET donor_id = NULL WHERE donor_id = $1").bind(id).execute(&mut *tx).await?;
    let done = sqlx::query("DELETE FROM grant_donors WHERE id = $1").bind(id).execute(&mut *tx).await?;
    Ok(done.rows_affected() == 1)
}

/// Housekeeping: Gift Aid declarations past their legal keeping period.
pub fn forget_expired_declarations(state: &AppState, now: i64) -> ChoreFuture<'_> {
    Box::pin(async move {
        let today = local_date(now);
        sqlx::query("UPDATE grant_income SET declaration_id = NULL WHERE declaration_id IN (SELECT id FROM gift_aid_declarations WHERE keep_until < $1)")
            .bind(&today)
            .execute(&state.db.pool)
            .await?;
        let gone = sqlx::query("DELETE FROM gift_aid_declarations WHERE keep_until < $1")
            .bind(&today)
            .execute(&state.db.pool)
            .await?;
        Ok(gone.rows_affected())
    })
}
