//! Open data: every award in a round whose decisions are published, as a 360Giving Data
//! Standard package (JSON) and as the standard's flat CSV. Grants to individuals use the
//! standard's recipientIndividual form with no personal name; groups that did not agree to be
//! listed are not named.
use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use futures_util::TryStreamExt;
use serde_json::{json, Value};

use super::domain::decimal;
use crate::core::{crypto::LinkSigner, error::AppResult, spreadsheet::Sheet, state::AppState, time::rfc3339};

/// What a package says when the prefix is not configured (`config check` reports it).
const UNREGISTERED: &str = "XX-UNREGISTERED";
pub const INDIVIDUAL_NAME: &str = "Individual Recipient";
const UNNAMED_GROUP: &str = "Unnamed community group";

/// One published award, as read from the database.
struct Published {
    award_id: i64,
    amount_awarded: i64,
    awarded_on: String,
    recipient_org_id: Option<String>,
    updated_at: i64,
    application_id: i64,
    amount_applied: Option<i64>,
    group_id: Option<i64>,
    group_name: Option<String>,
    listed: bool,
    region: Option<String>,
    round_id: i64,
    round_title: String,
    fund_name: String,
    fund_purpose: String,
    regrant_type: Option<String>,
}

/// The settings every grant in a package shares.
struct Publisher {
    prefix: String,
    funder_id: String,
    funder_name: String,
    base_url: String,
    links: LinkSigner,
}

impl Publisher {
    fn of(state: &AppState) -> Publisher {
        let prefix = state.config.giving360_prefix.clone().unwrap_or_else(|| UNREGISTERED.into());
        Publisher {
            funder_id: state.config.funder_org_id.clone().unwrap_or_else(|| format!("360G-{prefix}-network")),
            funder_name: state.config.network_name.clone(),
            base_url: state.config.base_url.clone(),
            links: state.links.clone(),
            prefix,
        }
    }

    /// An identifier for a record that is stable from one publication to the next but is not
    /// its internal id: an internal id would lead to the record's page (a group that chose not
    /// to be listed is still at /groups/<id>) and would let anyone count and link records.
    fn id(&self, kind: &str, internal: i64) -> String {
        format!("360G-{}-{kind}{}", self.prefix, self.links.opaque_id("360giving", &format!("{kind}{internal}")))
    }
}

/// The flattened form of one grant: every value both exports need.
struct Flat {
    id: String,
    title: String,
    description: String,
    applied: Option<String>,
    awarded: String,
    award_date: String,
    org: Option<(String, String)>,
    individual: Option<String>,
    location: Option<String>,
    programme: String,
    programme_code: String,
    regrant_type: Option<String>,
    modified: String,
}

fn flatten(p: &Publisher, g: Published) -> Flat {
    let (org, individual, title) = match (g.group_id, g.listed) {
        (Some(group), listed) => {
            let id = g.recipient_org_id.clone().unwrap_or_else(|| p.id("GROUP-", group));
            let name = if listed {
                g.group_name.clone().unwrap_or_else(|| UNNAMED_GROUP.into())
            } else {
                UNNAMED_GROUP.into()
            };
            let title = format!("{}: grant to {name}", g.round_title);
            (Some((id, name)), None, title)
        }
        // A stable id per application, so one person's grants are not linked to each other.
        (None, _) => {
            (None, Some(p.id("IND-", g.application_id)), format!("{}: grant to an individual member", g.round_title))
        }
    };
    Flat {
        id: p.id("", g.award_id),
        title,
        description: g.fund_purpose,
        applied: g.amount_applied.map(decimal),
        awarded: decimal(g.amount_awarded),
        award_date: g.awarded_on,
        // Only a group's region: an individual's could narrow down who they are.
        location: g.region.filter(|_| org.is_some()),
        org,
        individual,
        programme: format!("{} – {}", g.fund_name, g.round_title),
        programme_code: format!("360G-{}-ROUND-{}", p.prefix, g.round_id),
        regrant_type: g.regrant_type,
        modified: rfc3339(g.updated_at),
    }
}

fn number(decimal_text: &str) -> Value {
    decimal_text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
}

fn grant_json(p: &Publisher, f: &Flat) -> Value {
    let mut g = json!({
        "id": f.id,
        "title": f.title,
        "description": f.description,
        "currency": "GBP",
        "amountAwarded": number(&f.awarded),
        "awardDate": f.award_date,
        "fundingOrganization": [{"id": p.funder_id, "name": p.funder_name}],
        "grantProgramme": [{"code": f.programme_code, "title": f.programme}],
        "dateModified": f.modified,
        "dataSource": format!("{}/grants/open-data.json", p.base_url),
    });
    if let Some(applied) = &f.applied {
        g["amountAppliedFor"] = number(applied);
    }
    if let Some((id, name)) = &f.org {
        g["recipientOrganization"] = json!([{"id": id, "name": name}]);
    }
    if let Some(id) = &f.individual {
        g["recipientIndividual"] = json!({"id": id, "name": INDIVIDUAL_NAME});
    }
    if let Some(location) = &f.location {
        g["beneficiaryLocation"] = json!([{"name": location, "countryCode": "GB"}]);
    }
    if let Some(code) = &f.regrant_type {
        g["regrantType"] = json!(code);
    }
    g
}

/// Streams every published award through `each`, oldest first, without holding them all.
async fn each_published(state: &AppState, mut each: impl FnMut(Flat)) -> Result<(), sqlx::Error> {
    let p = Publisher::of(state);
    let mut rows = sqlx::query_as::<_, (i64, i64, String, Option<String>, i64, i64, Option<i64>, Option<i64>, Option<String>, i64, Option<String>, i64, String, String, String, Option<String>)>(
        "SELECT w.id, w.amount_pence, w.awarded_on, w.recipient_org_id, w.updated_at, a.id, a.amount_pence, a.group_id, g.name, \
         a.listed, a.region, r.id, r.title, f.name, f.purpose, f.regrant_type FROM grant_awards w \
         JOIN grant_applications a ON a.id = w.application_id JOIN grant_rounds r ON r.id = a.round_id \
         JOIN grant_funds f ON f.id = w.fund_id LEFT JOIN groups g ON g.id = a.group_id \
         WHERE r.decided_at IS NOT NULL ORDER BY w.id",
    )
    .fetch(&state.db.pool);
    while let Some(row) = rows.try_next().await? {
        let (
            award_id,
            amount_awarded,
            awarded_on,
            recipient_org_id,
            updated_at,
            application_id,
            amount_applied,
            group_id,
            group_name,
            listed,
            region,
            round_id,
            round_title,
            fund_name,
            fund_purpose,
            regrant_type,
        ) = row;
        each(flatten(
            &p,
            Published {
                award_id,
                amount_awarded,
                awarded_on,
                recipient_org_id,
                updated_at,
                application_id,
                amount_applied,
                group_id,
                group_name,
                listed: listed != 0,
                region,
                round_id,
                round_title,
                fund_name,
                fund_purpose,
                regrant_type,
            },
        ));
    }
    Ok(())
}

/// The package as JSON bytes: written grant by grant, so memory stays near the output's size.
pub async fn package(state: &AppState) -> Result<Vec<u8>, sqlx::Error> {
    let p = Publisher::of(state);
    let mut out = Vec::with_capacity(1 << 16);
    out.extend_from_slice(b"{\"version\":\"1.4\",\"grants\":[");
    let mut first = true;
    each_published(state, |f| {
        if !first {
            out.push(b',');
        }
        first = false;
        // Writing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, &grant_json(&p, &f));
    })
    .await?;
    out.extend_from_slice(b"]}");
    Ok(out)
}

pub async fn json_export(State(state): State<AppState>) -> AppResult<Response> {
    let body = package(&state).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Column titles of the standard's flattened form.
const CSV_COLUMNS: [&str; 17] = [
    "Identifier",
    "Title",
    "Description",
    "Currency",
    "Amount Applied For",
    "Amount Awarded",
    "Award Date",
    "Recipient Org:Identifier",
    "Recipient Org:Name",
    "Recipient Ind:Identifier",
    "Recipient Ind:Name",
    "Beneficiary Location:Name",
    "Funding Org:Identifier",
    "Funding Org:Name",
    "Grant Programme:Title",
    "For Regrant Type",
    "Last Modified",
];

pub async fn csv_export(State(state): State<AppState>) -> AppResult<Response> {
    let p = Publisher::of(&state);
    let mut sheet = Sheet::default();
    sheet.row(CSV_COLUMNS);
    each_published(&state, |f| {
        let (org_id, org_name) = f.org.unwrap_or_default();
        sheet.row([
            f.id,
            f.title,
            f.description,
            "GBP".into(),
            f.applied.unwrap_or_default(),
            f.awarded,
            f.award_date,
            org_id,
            org_name,
            f.individual.clone().unwrap_or_default(),
            if f.individual.is_some() { INDIVIDUAL_NAME.into() } else { String::new() },
            f.location.unwrap_or_default(),
            p.funder_id.clone(),
            p.funder_name.clone(),
            f.programme,
            f.regrant_type.unwrap_or_default(),
            f.modified,
        ]);
    })
    .await?;
    Ok(sheet.download("grants-360giving.csv"))
}
