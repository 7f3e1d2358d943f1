//! CSV import of members or groups from whatever a spreadsheet exports, and CSV export that
//! Excel opens correctly. Import is a dry run first, then all-or-nothing in one transaction.
use std::collections::HashSet;

use askama::Template;
use axum::{
    extract::{Multipart, State},
    http::StatusCode,
    response::Response,
};

use super::{
    domain::{parse_communities, parse_display_name, parse_region, EmailAddress, NewMember, Purpose},
    store,
};
use crate::core::{
    audit::{self, Action},
    context::Ctx,
    error::{AppError, AppResult},
    forms::FormData,
    layout::{redirect_with_notice, render, Page},
    spreadsheet::Sheet,
    state::AppState,
    time::now,
};
use crate::features::groups::domain::ValidGroup;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    Members,
    Groups,
}

impl ImportKind {
    fn parse(s: &str) -> Option<ImportKind> {
        match s {
            "members" => Some(ImportKind::Members),
            "groups" => Some(ImportKind::Groups),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Members => "members",
            ImportKind::Groups => "groups",
        }
    }
}

/// Spreadsheets arrive as UTF-8 (with or without BOM) or as Windows-1252 from older Excel.
/// Control characters are removed and line ends made `\n`, as for every typed form.
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0,
    };
    crate::core::forms::clean_text(&text)
}

/// Header names matched loosely: case, spaces, punctuation and common synonyms.
fn normalise_header(h: &str) -> String {
    h.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase()
}

fn field_for(kind: ImportKind, header: &str) -> Option<&'static str> {
    let h = normalise_header(header);
    let table: &[(&str, &[&str])] = match kind {
        ImportKind::Members => &[
            ("name", &["name", "displayname", "fullname", "pseudonym", "membername", "preferredname"]),
            ("email", &["email", "emailaddress", "mail"]),
            ("region", &["region", "area", "nation", "location"]),
            ("communities", &["communities", "community", "selfdescribedcommunities"]),
            ("bulletin", &["bulletin", "weeklybulletin", "bulletinconsent", "newsletter"]),
            ("directory", &["directory", "listindirectory", "directoryconsent"]),
            ("research", &["research", "researchconsent", "opportunities", "paidopportunities"]),
        ],
        ImportKind::Groups => &[
            ("name", &["name", "groupname", "group"]),
            ("description", &["description", "whatthegroupdoes", "about", "whatwedo"]),
            ("region", &["region", "area", "nation", "location"]),
            (
                "lived_experience_led",
                &["livedexperienceled", "userled", "ledbypeoplewithlivedexperience", "livedexperience"],
            ),
            ("contact_email", &["contactemail", "contact", "email", "emailaddress"]),
        ],
    };
    table.iter().find(|(_, names)| names.contains(&h.as_str())).map(|(f, _)| *f)
}

fn yes(value: &str) -> Result<bool, ()> {
    match value.trim().to_lowercase().as_str() {
        "" | "no" | "n" | "false" | "0" | "none" => Ok(false),
        "yes" | "y" | "true" | "1" | "x" | "✓" => Ok(true),
        _ => Err(()),
    }
}

#[derive(Clone, Debug)]
pub struct Problem {
    pub row: usize,
    pub field: String,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct NewGroup {
    pub group: ValidGroup,
    pub contact_email: String,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub members: Vec<NewMember>,
    pub groups: Vec<NewGroup>,
    pub problems: Vec<Problem>,
    pub duplicates: Vec<Problem>,
    pub rows: usize,
}

/// Check every row and say what an import would do. Touches nothing.
pub async fn plan(state: &AppState, kind: ImportKind, text: &str) -> AppResult<Plan> {
    let mut plan = Plan::default();
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            plan.problems.push(Problem {
                row: 1,
                field: "header".into(),
                message: format!("The header row could not be read: {e}"),
            });
            return Ok(plan);
        }
    };
    let columns: Vec<Option<&str>> = headers.iter().map(|h| field_for(kind, h)).collect();
    let required: &[&str] = match kind {
        ImportKind::Members => &["name", "email"],
        ImportKind::Groups => &["name", "description", "contact_email"],
    };
    for r in required {
        if !columns.contains(&Some(r)) {
            plan.problems.push(Problem {
                row: 1,
                field: r.to_string(),
                message: format!(
                    "No column for '{r}'. The first row must name the columns; found: {}",
                    headers.iter().collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    if !plan.problems.is_empty() {
        return Ok(plan);
    }
    let existing = existing_keys(state, kind).await?;
    let members_by_email: HashSet<String> = match kind {
        ImportKind::Groups => existing_keys(state, ImportKind::Members).await?,
        ImportKind::Members => HashSet::new(),
    };
    let mut seen: HashSet<String> = HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2; // the header is row 1, as a spreadsheet numbers it
        plan.rows += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                plan.problems.push(Problem {
                    row,
                    field: "row".into(),
                    message: format!("This row could not be read: {e}"),
                });
                continue;
            }
        };
        if record.iter().all(|v| v.is_empty()) {
            plan.rows -= 1;
            continue;
        }
        let get = |field: &str| -> String {
            columns.iter().position(|c| *c == Some(field)).and_then(|i| record.get(i)).unwrap_or("").to_string()
        };
        let mut problem =
            |field: &str, message: String| plan.problems.push(Problem { row, field: field.into(), message });
        match kind {
            ImportKind::Members => {
                let name = parse_display_name(&get("name")).map_err(|e| problem("name", e)).ok();
                let email = EmailAddress::parse(&get("email")).map_err(|e| problem("email", e.into())).ok();
                let region = parse_region(&get("region")).map_err(|e| problem("region", e.into())).ok();
                let communities =
                    parse_communities(&[], &get("communities")).map_err(|e| problem("communities", e)).ok();
                let mut consents = Vec::new();
                for p in Purpose::ALL {
                    match yes(&get(p.key())) {
                        Ok(b) => consents.push((p, b)),
                        Err(()) => problem(p.key(), "Use yes or no (or leave blank for no)".into()),
                    }
                }
                let (Some(display_name), Some(email), Some(region), Some(communities)) =
                    (name, email, region, communities)
                else {
                    continue;
                };
                if consents.len() != Purpose::ALL.len() {
                    continue;
                }
                if existing.contains(email.as_str()) || !seen.insert(email.as_str().to_string()) {
                    plan.duplicates.push(Problem {
                        row,
                        field: "email".into(),
                        message: format!(
                            "{} is already a member{}; this row will be skipped",
                            email.as_str(),
                            if existing.contains(email.as_str()) { "" } else { " earlier in this file" }
                        ),
                    });
                    continue;
                }
                plan.members.push(NewMember { display_name, email, region, communities, consents });
            }
            ImportKind::Groups => {
                let name = get("name");
                if name.is_empty() || name.chars().count() > 120 {
                    problem("name", "Enter a group name of 120 characters or fewer".into());
                }
                let description = get("description");
                if description.is_empty() || description.chars().count() > 2000 {
                    problem("description", "Say what the group does, in 2,000 characters or fewer".into());
                }
                let region = parse_region(&get("region")).map_err(|e| problem("region", e.into())).ok();
                let led = yes(&get("lived_experience_led"))
                    .map_err(|_| problem("lived_experience_led", "Use yes or no".into()))
                    .ok();
                let contact =
                    EmailAddress::parse(&get("contact_email")).map_err(|e| problem("contact_email", e.into())).ok();
                if let Some(c) = &contact {
                    if !members_by_email.contains(c.as_str()) {
                        problem(
                            "contact_email",
                            format!(
                                "No member has the email {}: import or add the contact as a member first",
                                c.as_str()
                            ),
                        );
                    }
                }
                let (Some(region), Some(led), Some(contact)) = (region, led, contact) else { continue };
                if plan.problems.iter().any(|p| p.row == row) {
                    continue;
                }
                let key = name.to_lowercase();
                if existing.contains(&key) || !seen.insert(key) {
                    plan.duplicates.push(Problem {
                        row,
                        field: "name".into(),
                        message: format!("A group called '{name}' already exists; this row will be skipped"),
                    });
                    continue;
                }
                let group = ValidGroup { name, description, region, lived_experience_led: led, visibility: "public" };
                plan.groups.push(NewGroup { group, contact_email: contact.as_str().to_string() });
            }
        }
    }
    Ok(plan)
}

async fn existing_keys(state: &AppState, kind: ImportKind) -> AppResult<HashSet<String>> {
    let sql = match kind {
        ImportKind::Members => "SELECT email FROM members WHERE email IS NOT NULL",
        ImportKind::Groups => "SELECT LOWER(name) FROM groups",
    };
    let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&state.db.pool).await?;
    Ok(rows.into_iter().map(|(k,)| k).collect())
}

/// Apply a plan with no problems, all in one transaction.
pub async fn apply(state: &AppState, plan: &Plan) -> AppResult<usize> {
    let mut tx = state.db.begin().await?;
    let t = now();
    let members: Vec<_> = plan.members.iter().map(|m| (m, t)).collect();
    store::insert_many(&mut tx, &members, "active", "member").await?;
    for g in &plan.groups {
        let contact: i64 = sqlx::query_scalar("SELECT id FROM members WHERE email = $1")
            .bind(&g.contact_email)
            .fetch_one(&mut *tx)
            .await?;
        crate::features::groups::store::insert(&mut tx, &g.group, contact, t).await?;
    }
    tx.commit().await?;
    Ok(plan.members.len() + plan.groups.len())
}

#[derive(Template)]
#[template(path = "staff/import.html")]
struct ImportPage {
    page: Page,
    error: Option<String>,
}

pub async fn import_page(ctx: Ctx) -> Response {
    render(&ImportPage { page: Page::new(&ctx, "Import members and groups"), error: None })
}

#[derive(Template)]
#[template(path = "staff/import_report.html")]
struct ReportPage {
    page: Page,
    kind: &'static str,
    plan: Plan,
    content: String,
    committed_failed: bool,
}

fn report(ctx: &Ctx, kind: ImportKind, plan: Plan, content: String, committed_failed: bool) -> Response {
    let title =
        if plan.problems.is_empty() { "Import check: ready to import" } else { "Error: Import check found problems" };
    let has_problems = !plan.problems.is_empty();
    let mut response =
        render(&ReportPage { page: Page::new(ctx, title), kind: kind.as_str(), plan, content, committed_failed });
    if has_problems {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

fn form_error(ctx: &Ctx, message: &str) -> Response {
    let mut response = render(&ImportPage {
        page: Page::new(ctx, "Error: Import members and groups"),
        error: Some(message.to_string()),
    });
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    response
}

/// Step 1: upload, decode, check every row, report. Nothing is written.
pub async fn dry_run(State(state): State<AppState>, ctx: Ctx, mut multipart: Multipart) -> AppResult<Response> {
    let mut kind = None;
    let mut bytes = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|_| AppError::TooLarge)? {
        match field.name() {
            Some("kind") => kind = ImportKind::parse(&field.text().await.map_err(|_| AppError::TooLarge)?),
            Some("file") => bytes = field.bytes().await.map_err(|_| AppError::TooLarge)?.to_vec(),
            _ => {}
        }
    }
    let Some(kind) = kind else { return Ok(form_error(&ctx, "Choose whether the file holds members or groups")) };
    if bytes.is_empty() {
        return Ok(form_error(&ctx, "Choose a CSV file to import"));
    }
    let content = decode(&bytes);
    let plan = plan(&state, kind, &content).await?;
    Ok(report(&ctx, kind, plan, content, false))
}

/// Step 2: the checked file comes back in the form; it is checked again (the data may have
/// changed since) and imported whole, or not at all.
pub async fn commit(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let staff = ctx.user()?;
    let kind =
        ImportKind::parse(&form.get("kind")).ok_or_else(|| AppError::BadRequest("Unknown import kind.".into()))?;
    let content = form.0.iter().find(|(k, _)| k == "content").map(|(_, v)| v.clone()).unwrap_or_default();
    let plan = plan(&state, kind, &content).await?;
    if !plan.problems.is_empty() {
        return Ok(report(&ctx, kind, plan, content, true));
    }
    let added = apply(&state, &plan).await?;
    audit::record(&state.db.pool, staff.id, Action::Import, None, &format!("imported {added} {}", kind.as_str()))
        .await?;
    Ok(redirect_with_notice(&state, "/staff/members", "imported"))
}

/// All members as CSV: UTF-8 with a BOM and CRLF line ends, which Excel opens correctly.
pub async fn export_csv(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let staff = ctx.user()?;
    let consent = |p: &str| {
        format!("(SELECT granted FROM consents c WHERE c.member_id = m.id AND c.purpose = '{p}' ORDER BY c.id DESC LIMIT 1)")
    };
    let sql = format!(
        "SELECT m.id, m.display_name, m.email, m.region, m.communities, m.status, m.joined_at, {}, {}, {} \
         FROM members m WHERE m.status <> 'erased' ORDER BY m.id",
        consent("bulletin"),
        consent("directory"),
        consent("research")
    );
    type Row = (
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(&sql).fetch_all(&state.db.pool).await?;
    let yes_no = |v: Option<i64>| if v == Some(1) { "yes" } else { "no" };
    let mut sheet = Sheet::default();
    sheet.row([
        "id",
        "name",
        "email",
        "region",
        "communities",
        "status",
        "joined",
        "bulletin",
        "directory",
        "research",
    ]);
    for (id, name, email, region, communities, status, joined, b, d, r) in &rows {
        sheet.row([
            id.to_string().as_str(),
            name.as_deref().unwrap_or(""),
            email.as_deref().unwrap_or(""),
            region.as_deref().unwrap_or(""),
            communities.as_deref().unwrap_or(""),
            status,
            &crate::core::time::rfc3339(*joined)[..10],
            yes_no(*b),
            yes_no(*d),
            yes_no(*r),
        ]);
    }
    audit::record(&state.db.pool, staff.id, Action::Export, None, &format!("exported {} members as CSV", rows.len()))
        .await?;
    Ok(sheet.download("members.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_with_bom_and_windows_1252() {
        assert_eq!(decode(b"\xEF\xBB\xBFname\r\n"), "name\n");
        assert_eq!(decode(b"a\0b,c\x07"), "ab,c");
        assert_eq!(decode(b"Ren\xe9e"), "Renée");
        assert_eq!(decode("Zoë".as_bytes()), "Zoë");
    }

    #[test]
    fn headers_match_loosely() {
        assert_eq!(field_for(ImportKind::Members, " E-mail Address "), Some("email"));
        assert_eq!(field_for(ImportKind::Members, "Full Name"), Some("name"));
        assert_eq!(field_for(ImportKind::Groups, "Group name"), Some("name"));
        assert_eq!(field_for(ImportKind::Members, "Favourite colour"), None);
    }
}
