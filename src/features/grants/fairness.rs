//! Who the money reaches: applications, awards, amounts and success rates by region, first
//! time or returning, group size and self-described community.
//!
//! Every figure goes through [`crate::core::disclosure`]: counts under 5 are hidden, and so is
//! whatever would let them be worked out from totals and other rows (declines, the difference
//! between applications and awards, count too). The public sees closed periods only: a round's
//! figures once its decisions are published, kept as first published ([`crate::core::published`]),
//! so no two publications of one round can be set side by side to single someone out.
//! Community names chosen by fewer than 5 applicants are counted together as "other".
use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::{Deserialize, Serialize};

use super::{
    domain::{decimal, pounds, success_percent, FairRow, GROUP_SIZES},
    store::{self, Fund, Income, Round, Totals},
};
use crate::{
    core::{
        confirm::{self, Confirm},
        context::Ctx,
        db::Db,
        disclosure::{Figure, Table, HIDDEN_TEXT, THRESHOLD},
        error::{AppError, AppResult},
        forms::FormData,
        layout::{message, redirect_with_notice, render, Page},
        published,
        spreadsheet::Sheet,
        state::AppState,
    },
    features::members::domain::split_communities,
};

/// Which applications a view counts.
pub enum Scope {
    Round(i64),
    Fund(i64),
}

pub const DIMENSIONS: [&str; 4] = ["Region", "First time or returning", "Group size", "Self-described community"];
/// The one dimension where a person can be in several rows (so rows do not add up to the total).
const COMMUNITY: usize = 3;
const OTHER_COMMUNITIES: &str = "Other communities (each named by fewer than 5 applicants)";

#[derive(Default, Clone, Copy, Debug)]
struct Tally {
    applications: i64,
    awards: i64,
    amount: i64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.applications += other.applications;
        self.awards += other.awards;
        self.amount += other.amount;
    }
}

/// The figures of one scope as published: totals and rows, protected together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FairTable {
    pub applications: Figure,
    pub awards: Figure,
    pub amount_pence: Option<i64>,
    pub rows: Vec<FairRow>,
}

impl FairTable {
    pub fn amount_text(&self) -> String {
        self.amount_pence.map(pounds).unwrap_or_else(|| HIDDEN_TEXT.into())
    }

    /// Every figure with a label that names it, to compare one publication with another.
    fn labelled(&self) -> Vec<(String, Figure)> {
        let mut out = vec![("applications".to_string(), self.applications), ("awards".to_string(), self.awards)];
        for r in &self.rows {
            out.push((format!("{}: {}: applications", r.dimension, r.value), r.applications));
            out.push((format!("{}: {}: awards", r.dimension, r.value), r.awards));
        }
        out
    }
}

/// Applications, awards and amounts for a scope, in every row of every dimension they count in.
/// Drafts and withdrawn applications are not counted. The database groups by all four facts at
/// once, so a few hundred rows at most come back however many applications there are.
async fn counts(db: &Db, scope: &Scope) -> Result<(Tally, [Vec<(String, Tally)>; 4]), sqlx::Error> {
    let (filter, id) = match scope {
        Scope::Round(id) => ("a.round_id = $1", *id),
        Scope::Fund(id) => ("r.fund_id = $1", *id),
    };
    let sql = format!(
        "SELECT a.region, CAST(a.first_time AS TEXT), a.group_size, a.community, COUNT(*), COUNT(w.id), {} \
         FROM grant_applications a JOIN grant_rounds r ON r.id = a.round_id LEFT JOIN grant_awards w ON w.application_id = a.id \
         WHERE {filter} AND a.submitted_at IS NOT NULL AND a.status <> 'withdrawn' \
         GROUP BY a.region, a.first_time, a.group_size, a.community",
        store::sum("w.amount_pence")
    );
    type Row = (Option<String>, Option<String>, Option<String>, Option<String>, i64, i64, i64);
    let groups: Vec<Row> = sqlx::query_as(&sql).bind(id).fetch_all(&db.pool).await?;
    let mut total = Tally::default();
    let mut dims: [BTreeMap<String, Tally>; 4] = Default::default();
    let mut community_sizes: BTreeMap<String, i64> = BTreeMap::new();
    for (region, first_time, group_size, community, applications, awards, amount) in &groups {
        let tally = Tally { applications: *applications, awards: *awards, amount: *amount };
        total.add(tally);
        for (dim, value) in [region, first_time, group_size].into_iter().enumerate() {
            dims[dim].entry(label(dim, value.as_deref())).or_default().add(tally);
        }
        for name in split_communities(community.as_deref()) {
            *community_sizes.entry(name).or_default() += applications;
        }
    }
    // A community named by few applicants would point at them: such names are counted together.
    for (.., community, applications, awards, amount) in &groups {
        let tally = Tally { applications: *applications, awards: *awards, amount: *amount };
        let mut names: BTreeSet<String> = split_communities(community.as_deref())
            .into_iter()
            .map(|n| if community_sizes[&n] < THRESHOLD { OTHER_COMMUNITIES.to_string() } else { n })
            .collect();
        if names.is_empty() {
            names.insert("Not given".into());
        }
        for name in names {
            dims[COMMUNITY].entry(name).or_default().add(tally);
        }
    }
    Ok((total, dims.map(|d| d.into_iter().collect())))
}

/// The row a stored value counts in, for the dimensions where each application is in one.
fn label(dimension: usize, value: Option<&str>) -> String {
    match (dimension, value) {
        (_, None | Some("")) => "Not given".into(),
        (1, Some("0")) => "Applied before".into(),
        (1, Some(_)) => "First time".into(),
        (2, Some(v)) => GROUP_SIZES.iter().find(|(code, _)| *code == v).map_or("Not given", |(_, l)| *l).into(),
        (_, Some(v)) => v.to_string(),
    }
}

/// The published figures for `counts`: every count in one disclosure table with every sum a
/// reader knows (rows add up to the totals, except communities; awards and declines add up to
/// applications in every row and in total), protected together. Amounts follow their awards.
fn protected((total, dims): (Tally, [Vec<(String, Tally)>; 4])) -> FairTable {
    let mut t = Table::default();
    let all_applications = t.count(total.applications);
    let all_awards = t.count(total.awards);
    let all_declined = t.implied(total.applications - total.awards);
    t.sum(vec![all_awards, all_declined], all_applications);
    let mut cells = Vec::new();
    for (d, rows) in dims.iter().enumerate() {
        let (mut applications, mut awards, mut declined) = (Vec::new(), Vec::new(), Vec::new());
        for (value, tally) in rows {
            let a = t.count(tally.applications);
            let w = t.count(tally.awards);
            let x = t.implied(tally.applications - tally.awards);
            t.sum(vec![w, x], a);
            applications.push(a);
            awards.push(w);
            declined.push(x);
            cells.push((d, value, *tally, a, w));
        }
        if d != COMMUNITY {
            t.sum(applications, all_applications);
            t.sum(awards, all_awards);
            t.sum(declined, all_declined);
        }
    }
    t.protect();
    let rows = cells
        .into_iter()
        .map(|(d, value, tally, a, w)| {
            let (applications, awards) = (t.figure(a), t.figure(w));
            let shown = applications.is_shown() && awards.is_shown();
            FairRow {
                dimension: DIMENSIONS[d].into(),
                value: value.clone(),
                applications,
                awards,
                amount_pence: awards.is_shown().then_some(tally.amount),
                success_percent: if shown { success_percent(tally.applications, tally.awards) } else { None },
            }
        })
        .collect();
    FairTable {
        applications: t.figure(all_applications),
        awards: t.figure(all_awards),
        amount_pence: t.figure(all_awards).is_shown().then_some(total.amount),
        rows,
    }
}

/// A scope's figures counted now (staff views, shared with funders by staff).
pub async fn live(db: &Db, scope: &Scope) -> Result<FairTable, sqlx::Error> {
    Ok(protected(counts(db, scope).await?))
}

fn publication(round_id: i64) -> String {
    format!("grants-round-{round_id}")
}

/// A decided round's figures as published: counted once, when its decisions were published (or
/// first read, for rounds decided before figures were kept), and read back from then on.
pub async fn published_round(db: &Db, round: &Round) -> AppResult<FairTable> {
    if !round.published || round.decided_at.is_none() {
        return Err(AppError::NotFound);
    }
    match published::get(db, &publication(round.id)).await? {
        Some(table) => Ok(table),
        None => Ok(published::first(db, &publication(round.id), live(db, &Scope::Round(round.id)).await?).await?),
    }
}

/// One table under a heading, as pages and spreadsheets show it.
pub struct Section {
    pub heading: String,
    pub table: FairTable,
}

/// The sections as a spreadsheet, hidden exactly as on the page: each round's totals, then its rows.
pub fn csv(sections: &[Section]) -> Sheet {
    let mut sheet = Sheet::default();
    sheet.row(["Round", "Dimension", "Value", "Applications", "Awards", "Amount awarded", "Success rate"]);
    for s in sections {
        let t = &s.table;
        let rate = match (t.applications, t.awards) {
            (Figure::Shown(a), Figure::Shown(w)) => success_percent(a, w).map(|p| format!("{p}%")),
            _ => None,
        };
        sheet.row([
            s.heading.clone(),
            "All applications".into(),
            "All".into(),
            t.applications.text(),
            t.awards.text(),
            t.amount_pence.map(decimal).unwrap_or_else(|| HIDDEN_TEXT.into()),
            rate.unwrap_or_else(|| HIDDEN_TEXT.into()),
        ]);
        for r in &t.rows {
            sheet.row([
                s.heading.clone(),
                r.dimension.clone(),
                r.value.clone(),
                r.applications.text(),
                r.awards.text(),
                r.amount_pence.map(decimal).unwrap_or_else(|| HIDDEN_TEXT.into()),
                r.rate_text(),
            ]);
        }
    }
    sheet
}

#[derive(Template)]
#[template(path = "grants/fairness.html")]
struct FairnessPage {
    page: Page,
    heading: String,
    intro: &'static str,
    csv_link: String,
    sections: Vec<Section>,
    dimensions: [&'static str; 4],
}

const PUBLIC_INTRO: &str = "Each round's figures are published once its decisions are, and never recounted: \
     a recount set beside the first figures could single someone out.";
const STAFF_INTRO: &str = "Counted now, with the same protection as the published figures, so you can share them.";

fn fairness_page(
    ctx: &Ctx,
    heading: String,
    intro: &'static str,
    csv_link: String,
    sections: Vec<Section>,
) -> Response {
    render(&FairnessPage {
        page: Page::new(ctx, heading.clone()),
        heading,
        intro,
        csv_link,
        sections,
        dimensions: DIMENSIONS,
    })
}

/// Every round with published decisions, newest first, each as it was published.
async fn public_sections(state: &AppState) -> AppResult<Vec<Section>> {
    let rounds = store::rounds_where(&state.db, "r.published = $1 AND r.decided_at IS NOT NULL", 1).await?;
    let mut sections = Vec::with_capacity(rounds.len());
    for round in rounds {
        let table = published_round(&state.db, &round).await?;
        sections.push(Section { heading: round.title, table });
    }
    Ok(sections)
}

pub async fn public(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let sections = public_sections(&state).await?;
    Ok(fairness_page(&ctx, "Who our grants reach".into(), PUBLIC_INTRO, "/grants/fairness.csv".into(), sections))
}

pub async fn public_csv(State(state): State<AppState>) -> AppResult<Response> {
    Ok(csv(&public_sections(&state).await?).download("grants-fairness.csv"))
}

async fn round_section(state: &AppState, id: i64) -> AppResult<Section> {
    let round = store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
    Ok(Section { heading: round.title, table: live(&state.db, &Scope::Round(id)).await? })
}

pub async fn round(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let section = round_section(&state, id).await?;
    Ok(fairness_page(
        &ctx,
        format!("Who this round reaches: {}", section.heading),
        STAFF_INTRO,
        format!("/staff/grants/rounds/{id}/fairness.csv"),
        vec![section],
    ))
}

pub async fn round_csv(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Response> {
    Ok(csv(&[round_section(&state, id).await?]).download(&format!("round-{id}-fairness.csv")))
}

/// Recount a decided round's published figures after staff corrected its data, unless the new
/// figures set beside the old would single out fewer than 5 people.
pub async fn republish(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let round = store::round(&state.db, id).await?.ok_or(AppError::NotFound)?;
    if !confirm::confirmed(&form) {
        return Ok(confirm::ask(
            &ctx,
            Confirm {
                title: format!("Count the published figures of {} again?", round.title),
                consequences: vec![
                    "The figures anyone can read and download now are replaced by figures counted from the data as it is now.".into(),
                    "It is refused if that would single anyone out.".into(),
                ],
                button: "Count them again and publish".into(),
                action: format!("/staff/grants/rounds/{id}/figures"),
                form: &form,
                back: format!("/staff/grants/rounds/{id}"),
            },
        ));
    }
    let old = published_round(&state.db, &round).await?;
    let new = live(&state.db, &Scope::Round(id)).await?;
    if let Some(label) = crate::core::disclosure::refused_republication(&old.labelled(), &new.labelled()) {
        let said = format!(
            "The figure “{label}” would change by fewer than 5 people, or appear where it was hidden. Anyone who kept \
             the first figures could then tell who the change was about, so the published figures stay as they were."
        );
        let mut response = message(
            &ctx,
            "These figures cannot be published again",
            &[&said, "Figures that change by 5 or more, or only hide more, can be published again."],
            Some((&format!("/staff/grants/rounds/{id}"), "Back to the round")),
        );
        *response.status_mut() = StatusCode::CONFLICT;
        return Ok(response);
    }
    published::replace(&state.db, &publication(id), &new).await?;
    Ok(redirect_with_notice(&state, &format!("/staff/grants/rounds/{id}"), "figures-republished"))
}

#[derive(Template)]
#[template(path = "grants/funder_report.html")]
struct ReportPage {
    page: Page,
    fund: Fund,
    totals: Totals,
    income: Vec<Income>,
    reach: FairTable,
    dimensions: [&'static str; 4],
}

async fn report_parts(state: &AppState, id: i64) -> AppResult<(Fund, Totals, Vec<Income>, FairTable)> {
    let fund = store::fund(&state.db, id).await?.ok_or(AppError::NotFound)?;
    Ok((
        fund,
        store::totals(&state.db, id).await?,
        store::income_of(&state.db, id).await?,
        live(&state.db, &Scope::Fund(id)).await?,
    ))
}

/// A funder report: income, awards, payments, balance, and who the fund reached.
pub async fn funder_report(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let (fund, totals, income, reach) = report_parts(&state, id).await?;
    Ok(render(&ReportPage {
        page: Page::new(&ctx, format!("Funder report: {}", fund.name)),
        fund,
        totals,
        income,
        reach,
        dimensions: DIMENSIONS,
    }))
}

pub async fn funder_report_csv(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Response> {
    let (fund, totals, income, reach) = report_parts(&state, id).await?;
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
    line("Money", "Number of awards", reach.awards.text());
    line("Money", "Paid", decimal(totals.paid));
    line("Money", "Balance left to award", decimal(totals.available()));
    line("Money", "Awarded but not yet paid", decimal(totals.awarded - totals.paid));
    for r in &reach.rows {
        line(&r.dimension, &format!("{}: applications", r.value), r.applications.text());
        line(&r.dimension, &format!("{}: awards", r.value), r.awards.text());
        line(
            &r.dimension,
            &format!("{}: amount awarded", r.value),
            r.amount_pence.map(decimal).unwrap_or_else(|| HIDDEN_TEXT.into()),
        );
        line(&r.dimension, &format!("{}: success rate", r.value), r.rate_text());
    }
    Ok(sheet.download(&format!("fund-{id}-report.csv")))
}

impl ReportPage {
    fn money(&self, pence: impl std::borrow::Borrow<i64>) -> String {
        pounds(pence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(applications: i64, awards: i64) -> Tally {
        Tally { applications, awards, amount: awards * 25_000 }
    }

    #[test]
    fn a_small_region_hides_another_and_the_declines_it_would_imply() {
        let regions = vec![
            ("London".to_string(), tally(3, 2)),
            ("North East".to_string(), tally(9, 2)),
            ("Wales".to_string(), tally(8, 6)),
        ];
        let total = tally(20, 10);
        let table = protected((total, [regions, vec![], vec![], vec![]]));
        let row = |v: &str| table.rows.iter().find(|r| r.value == v).unwrap().clone();
        assert_eq!(row("London").applications, Figure::Hidden);
        assert_eq!(row("North East").applications, Figure::Shown(9));
        assert_eq!(row("North East").awards, Figure::Hidden, "2 awards");
        assert_eq!(
            row("Wales").awards,
            Figure::Hidden,
            "8 - 6 = 2 declined would show; and the awards column needs a second hidden cell"
        );
        assert_eq!(table.applications, Figure::Shown(20));
        assert_eq!(row("Wales").amount_pence, None, "an amount follows its awards");
    }

    #[test]
    fn a_round_of_one_shows_no_figure_at_all() {
        let table = protected((tally(1, 1), [vec![("Wales".into(), tally(1, 1))], vec![], vec![], vec![]]));
        assert_eq!((table.applications, table.awards, table.amount_pence), (Figure::Hidden, Figure::Hidden, None));
        assert!(table.rows.iter().all(|r| !r.applications.is_shown() && !r.awards.is_shown()));
    }
}
