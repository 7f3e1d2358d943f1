//! Who the money reaches: applications, awards, amounts and success rates by region, first
//! time or returning, group size and self-described community, with every count under 5
//! suppressed in pages and exports alike; and the funder report for one fund.
use std::collections::BTreeMap;

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Response,
};

use super::{
    domain::{decimal, fair_row, pounds, Cell, FairRow, GROUP_SIZES},
    store::{self, Fund, Income, Totals},
};
use crate::{
    core::{
        context::Ctx,
        db::Db,
        error::{AppError, AppResult},
        layout::{render, Page},
        spreadsheet::Sheet,
        state::AppState,
    },
    features::members::domain::split_communities,
};

/// Which applications a view counts.
pub enum Scope {
    /// Every round whose decisions are published (the public view).
    Published,
    Round(i64),
    Fund(i64),
}

#[derive(Default)]
struct Tally {
    applications: i64,
    awards: i64,
    amount: i64,
}

/// The fairness rows for a scope, suppressed. Applications still in draft or withdrawn are not
/// counted. The database groups by all four facts at once, so a few hundred rows at most come
/// back however many applications there are; each group then counts in its row of every
/// dimension.
pub async fn rows(db: &Db, scope: &Scope) -> Result<Vec<FairRow>, sqlx::Error> {
    let (filter, bind) = match scope {
        Scope::Published => ("r.decided_at IS NOT NULL", None),
        Scope::Round(id) => ("a.round_id = $1", Some(*id)),
        Scope::Fund(id) => ("r.fund_id = $1", Some(*id)),
    };
    let sql = format!(
        "SELECT a.region, CAST(a.first_time AS TEXT), a.group_size, a.community, COUNT(*), COUNT(w.id), {} \
         FROM grant_applications a JOIN grant_rounds r ON r.id = a.round_id LEFT JOIN grant_awards w ON w.application_id = a.id \
         WHERE {filter} AND a.submitted_at IS NOT NULL AND a.status <> 'withdrawn' \
         GROUP BY a.region, a.first_time, a.group_size, a.community",
        store::sum("w.amount_pence")
    );
    type Row = (Option<String>, Option<String>, Option<String>, Option<String>, i64, i64, i64);
    let query = sqlx::query_as::<_, Row>(&sql);
    let groups = match bind {
        Some(id) => query.bind(id),
        None => query,
    }
    .fetch_all(&db.pool)
    .await?;
    let mut tallies: BTreeMap<(usize, String), Tally> = BTreeMap::new();
    for (region, first_time, group_size, community, applications, awards, amount) in groups {
        let facts = [region, first_time, group_size, community];
        for (dim, value) in facts.iter().enumerate() {
            for label in labels(dim, value.as_deref()) {
                let t = tallies.entry((dim, label)).or_default();
                t.applications += applications;
                t.awards += awards;
                t.amount += amount;
            }
        }
    }
    Ok(tallies
        .into_iter()
        .map(|((dim, value), t)| fair_row(DIMENSIONS[dim], value, t.applications, t.awards, t.amount))
        .collect())
}

/// The rows a stored value counts in: one, or one per community named.
fn labels(dimension: usize, value: Option<&str>) -> Vec<String> {
    let not_given = || vec!["Not given".to_string()];
    match (dimension, value) {
        (_, None | Some("")) => not_given(),
        (1, Some("0")) => vec!["Applied before".into()],
        (1, Some(_)) => vec!["First time".into()],
        (2, Some(v)) => {
            GROUP_SIZES.iter().find(|(code, _)| *code == v).map_or_else(not_given, |(_, l)| vec![l.to_string()])
        }
        (3, Some(v)) => split_communities(Some(v)),
        (_, Some(v)) => vec![v.to_string()],
    }
}

const DIMENSIONS: [&str; 4] = ["Region", "First time or returning", "Group size", "Self-described community"];

/// The rows as a spreadsheet, suppressed exactly as on the page.
pub fn csv(rows: &[FairRow]) -> Sheet {
    let mut sheet = Sheet::default();
    sheet.row(["Dimension", "Value", "Applications", "Awards", "Amount awarded", "Success rate"]);
    for r in rows {
        let hidden = || "fewer than 5".to_string();
        sheet.row([
            r.dimension.to_string(),
            r.value.clone(),
            r.applications.text(),
            r.awards.text(),
            r.amount.clone().unwrap_or_else(hidden),
            r.success_rate.clone().unwrap_or_else(hidden),
        ]);
    }
    sheet
}

#[derive(Template)]
#[template(path = "grants/fairness.html")]
struct FairnessPage {
    page: Page,
    heading: String,
    csv_link: String,
    rows: Vec<FairRow>,
    dimensions: [&'static str; 4],
}

fn fairness_page(ctx: &Ctx, heading: String, csv_link: String, rows: Vec<FairRow>) -> Response {
    render(&FairnessPage { page: Page::new(ctx, heading.clone()), heading, csv_link, rows, dimensions: DIMENSIONS })
}

pub async fn public(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let rows = rows(&state.db, &Scope::Published).await?;
    Ok(fairness_page(&ctx, "Who our grants reach".into(), "/grants/fairness.csv".into(), rows))
}

pub async fn public_csv(State(state): State<AppState>) -> AppResult<Response> {
    Ok(csv(&rows(&state.db, &Scope::Published).await?).download("grants-fairness.csv"))
}

pub async fn round(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let round = store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let rows = rows(&state.db, &Scope::Round(id)).await?;
    Ok(fairness_page(
        &ctx,
        format!("Who this round reaches: {}", round.title),
        format!("/staff/grants/rounds/{id}/fairness.csv"),
        rows,
    ))
}

pub async fn round_csv(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Response> {
    store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
    Ok(csv(&rows(&state.db, &Scope::Round(id)).await?).download(&format!("round-{id}-fairness.csv")))
}

#[derive(Template)]
#[template(path = "grants/funder_report.html")]
struct ReportPage {
    page: Page,
    fund: Fund,
    totals: Totals,
    income: Vec<Income>,
    awards: i64,
    rows: Vec<FairRow>,
    dimensions: [&'static str; 4],
}

async fn report_parts(state: &AppState, id: i64) -> AppResult<(Fund, Totals, Vec<Income>, i64, Vec<FairRow>)> {
    let fund = store::fund(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let awards: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grant_awards WHERE fund_id = $1")
        .bind(id)
        .fetch_one(&state.db.pool)
        .await?;
    Ok((
        fund,
        store::totals(&state.db, id).await?,
        store::income_of(&state.db, id).await?,
        awards,
        rows(&state.db, &Scope::Fund(id)).await?,
    ))
}

/// A funder report: income, awards, payments, balance, and who the fund reached.
pub async fn funder_report(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let (fund, totals, income, awards, rows) = report_parts(&state, id).await?;
    Ok(render(&ReportPage {
        page: Page::new(&ctx, format!("Funder report: {}", fund.name)),
        fund,
        totals,
        income,
        awards,
        rows,
        dimensions: DIMENSIONS,
    }))
}

pub async fn funder_report_csv(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Response> {
    let (fund, totals, income, awards, rows) = report_parts(&state, id).await?;
    let mut sheet = Sheet::default();
    sheet.row(["Section", "Item", "Value"]);
    let mut line = |a: &str, b: &str, c: String| sheet.row([a, b, &c]);
    line("Fund", &fund.name, String::new());
    line("Money", "Budget", decimal(totals.budget));
    for i in &income {
        let what = if i.kind == "donation" { "Donation" } else { "Grant from a funder" };
        line(
            "Income",
            &format!("{what}, {}, {}", i.source.as_deref().unwrap_or("anonymous"), i.received_on),
            decimal(i.amount_pence),
        );
    }
    line("Money", "Income", decimal(totals.income));
    line("Money", "Awarded", decimal(totals.awarded));
    line("Money", "Number of awards", Cell::count(awards).text());
    line("Money", "Paid", decimal(totals.paid));
    line("Money", "Balance left to award", decimal(totals.available()));
    line("Money", "Awarded but not yet paid", decimal(totals.awarded - totals.paid));
    for r in &rows {
        let hidden = || "fewer than 5".to_string();
        line(r.dimension, &format!("{}: applications", r.value), r.applications.text());
        line(r.dimension, &format!("{}: awards", r.value), r.awards.text());
        line(r.dimension, &format!("{}: amount awarded", r.value), r.amount.clone().unwrap_or_else(hidden));
        line(r.dimension, &format!("{}: success rate", r.value), r.success_rate.clone().unwrap_or_else(hidden));
    }
    Ok(sheet.download(&format!("fund-{id}-report.csv")))
}

impl ReportPage {
    fn money(&self, pence: impl std::borrow::Borrow<i64>) -> String {
        pounds(pence)
    }

    fn award_count(&self) -> String {
        Cell::count(self.awards).text()
    }
}
