//! Funds, rounds, questions, applications and their messages.
use sqlx::{any::AnyRow, AnyConnection, Row};

use super::domain::{default_questions, Answers, NewQuestion, Question, ValidFund, ValidRound};
use crate::core::time::human_day;
use crate::core::{
    db::Db,
    time::{human_date, now},
};

/// `SUM` as a BIGINT on both databases (PostgreSQL sums BIGINT as NUMERIC otherwise), 0 when empty.
pub fn sum(expr: &str) -> String {
    format!("COALESCE(CAST(SUM({expr}) AS BIGINT), 0)")
}

#[derive(Clone, Debug)]
pub struct Fund {
    pub id: i64,
    pub name: String,
    pub purpose: String,
    pub budget_pence: i64,
    pub restricted: bool,
    pub applicant_type: String,
    pub cap_pence: Option<i64>,
    pub donations_only: bool,
    pub regrant_type: Option<String>,
}

const FUND_COLUMNS: &str =
    "id, name, purpose, budget_pence, restricted, applicant_type, cap_pence, donations_only, regrant_type";

impl Fund {
    fn from_row(row: &AnyRow) -> Result<Fund, sqlx::Error> {
        Ok(Fund {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            purpose: row.try_get("purpose")?,
            budget_pence: row.try_get("budget_pence")?,
            restricted: row.try_get::<i64, _>("restricted")? != 0,
            applicant_type: row.try_get("applicant_type")?,
            cap_pence: row.try_get("cap_pence")?,
            donations_only: row.try_get::<i64, _>("donations_only")? != 0,
            regrant_type: row.try_get("regrant_type")?,
        })
    }

    pub fn cap(&self) -> Option<String> {
        self.cap_pence.map(super::domain::pounds)
    }

    pub fn budget(&self) -> String {
        super::domain::pounds(self.budget_pence)
    }

    pub fn applicant_label(&self) -> &'static str {
        super::domain::ApplicantType::label(&self.applicant_type)
    }
}

async fn insert_criteria(
    conn: &mut AnyConnection,
    fund_id: i64,
    criteria: &[(String, String)],
) -> Result<(), sqlx::Error> {
    for (i, (title, description)) in criteria.iter().enumerate() {
        sqlx::query("INSERT INTO grant_criteria (fund_id, position, title, description) VALUES ($1, $2, $3, $4)")
            .bind(fund_id)
            .bind(i as i64)
            .bind(title)
            .bind(description)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Why a fund's change was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum FundConflict {
    /// The criteria differ, and a panel has already scored against them (scores belong to a
    /// criterion and would go with it).
    CriteriaScored,
    /// The budget plus income would be less than what is awarded: at least this much is needed.
    BudgetBelowAwards(i64),
}

/// Change a fund's details, replacing its criteria if they differ. Its row is taken first, as
/// an award takes it (`money::decide`), so no award or score lands between the checks and the
/// change; call it inside a transaction. Returns what stood in the way, if anything.
pub async fn update_fund(conn: &mut AnyConnection, id: i64, f: &ValidFund) -> Result<Vec<FundConflict>, sqlx::Error> {
    let t = now();
    sqlx::query("UPDATE grant_funds SET updated_at = $1 WHERE id = $2").bind(t).bind(id).execute(&mut *conn).await?;
    // A score being written holds a key-share lock on its criterion in PostgreSQL: reading the
    // criteria for update waits for it, so the check below sees every score. (SQLite's one
    // writer already keeps scores out until this commits.)
    let lock = if conn.backend_name() == "SQLite" { "" } else { "FOR UPDATE" };
    let current: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT title, description FROM grant_criteria WHERE fund_id = $1 ORDER BY position, id {lock}"
    ))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let new_criteria = current != f.criteria;
    let mut conflicts = Vec::new();
    if new_criteria && criteria_scored(&mut *conn, id).await? {
        conflicts.push(FundConflict::CriteriaScored);
    }
    let sql = format!(
        "SELECT (SELECT {} FROM grant_awards WHERE fund_id = $1) - (SELECT {} FROM grant_income WHERE fund_id = $1)",
        sum("amount_pence"),
        sum("amount_pence")
    );
    let needed: i64 = sqlx::query_scalar(&sql).bind(id).fetch_one(&mut *conn).await?;
    if f.budget_pence < needed {
        conflicts.push(FundConflict::BudgetBelowAwards(needed));
    }
    if !conflicts.is_empty() {
        return Ok(conflicts);
    }
    bind_fund(
        sqlx::query(
            "UPDATE grant_funds SET name = $1, purpose = $2, budget_pence = $3, restricted = $4, applicant_type = $5, \
             cap_pence = $6, regrant_type = $7, updated_at = $8 WHERE id = $9",
        ),
        f,
    )
    .bind(t)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if new_criteria {
        sqlx::query("DELETE FROM grant_criteria WHERE fund_id = $1").bind(id).execute(&mut *conn).await?;
        insert_criteria(conn, id, &f.criteria).await?;
    }
    Ok(conflicts)
}

/// Whether any panel member has scored against the fund's criteria.
pub async fn criteria_scored<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    fund_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM (SELECT 1 FROM grant_scores s JOIN grant_criteria c ON c.id = s.criterion_id \
         WHERE c.fund_id = $1 LIMIT 1) scored",
    )
    .bind(fund_id)
    .fetch_one(executor)
    .await
    .map(|n| n > 0)
}

/// Binds a fund's editable fields, in the order the statements name them ($1 to $7).
fn bind_fund<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    f: &'q ValidFund,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(&f.name)
        .bind(&f.purpose)
        .bind(f.budget_pence)
        .bind(f.restricted as i64)
        .bind(f.applicant_type.as_str())
        .bind(f.cap_pence)
        .bind(&f.regrant_type)
}

pub async fn insert_fund(conn: &mut AnyConnection, f: &ValidFund) -> Result<i64, sqlx::Error> {
    let row = bind_fund(
        sqlx::query(
            "INSERT INTO grant_funds (name, purpose, budget_pence, restricted, applicant_type, cap_pence, regrant_type, \
             donations_only, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
        ),
        f,
    )
    .bind(f.donations_only as i64)
    .bind(now())
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = row.try_get(0)?;
    insert_criteria(conn, id, &f.criteria).await?;
    Ok(id)
}

pub async fn fund(db: &Db, id: i64) -> Result<Option<Fund>, sqlx::Error> {
    let sql = format!("SELECT {FUND_COLUMNS} FROM grant_funds WHERE id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(&db.pool).await?.as_ref().map(Fund::from_row).transpose()
}

pub async fn funds(db: &Db) -> Result<Vec<Fund>, sqlx::Error> {
    let sql = format!("SELECT {FUND_COLUMNS} FROM grant_funds ORDER BY name, id");
    sqlx::query(&sql).fetch_all(&db.pool).await?.iter().map(Fund::from_row).collect()
}

#[derive(Clone, Debug)]
pub struct Criterion {
    pub id: i64,
    pub title: String,
    pub description: String,
}

pub async fn criteria(db: &Db, fund_id: i64) -> Result<Vec<Criterion>, sqlx::Error> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, title, description FROM grant_criteria WHERE fund_id = $1 ORDER BY position, id")
            .bind(fund_id)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(|(id, title, description)| Criterion { id, title, description }).collect())
}

/// A fund's money: budget, recorded income, what is awarded and what is paid.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub budget: i64,
    pub income: i64,
    pub awarded: i64,
    pub paid: i64,
}

impl Totals {
    pub fn available(&self) -> i64 {
        self.budget + self.income - self.awarded
    }
}

pub async fn totals(db: &Db, fund_id: i64) -> Result<Totals, sqlx::Error> {
    let sql = format!(
        "SELECT f.budget_pence, \
         (SELECT {} FROM grant_income WHERE fund_id = f.id), \
         (SELECT {} FROM grant_awards WHERE fund_id = f.id), \
         (SELECT {} FROM grant_payments p JOIN grant_awards a ON a.id = p.award_id WHERE a.fund_id = f.id AND p.paid_on IS NOT NULL) \
         FROM grant_funds f WHERE f.id = $1",
        sum("amount_pence"),
        sum("amount_pence"),
        sum("p.amount_pence")
    );
    let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(&sql).bind(fund_id).fetch_optional(&db.pool).await?;
    Ok(row.map(|(budget, income, awarded, paid)| Totals { budget, income, awarded, paid }).unwrap_or_default())
}

#[derive(Clone, Debug)]
pub struct Income {
    pub kind: String,
    pub amount_pence: i64,
    pub received_on: String,
    pub source: Option<String>,
    pub gift_aid: bool,
}

pub async fn income_of(db: &Db, fund_id: i64) -> Result<Vec<Income>, sqlx::Error> {
    let rows: Vec<(String, i64, String, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT i.kind, i.amount_pence, i.received_on, COALESCE(i.source, d.name), i.declaration_id \
         FROM grant_income i LEFT JOIN grant_donors d ON d.id = i.donor_id WHERE i.fund_id = $1 ORDER BY i.received_on, i.id",
    )
    .bind(fund_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, amount_pence, received_on, source, decl)| Income {
            kind,
            amount_pence,
            received_on,
            source,
            gift_aid: decl.is_some(),
        })
        .collect())
}

pub struct NewIncome<'a> {
    pub fund_id: i64,
    pub kind: &'a str,
    pub amount_pence: i64,
    pub received_on: &'a str,
    pub source: Option<&'a str>,
    pub donor_id: Option<i64>,
    pub declaration_id: Option<i64>,
    pub recorded_by: i64,
}

pub async fn record_income(conn: &mut AnyConnection, i: &NewIncome<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO grant_income (fund_id, kind, amount_pence, received_on, source, donor_id, declaration_id, recorded_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(i.fund_id)
    .bind(i.kind)
    .bind(i.amount_pence)
    .bind(i.received_on)
    .bind(i.source)
    .bind(i.donor_id)
    .bind(i.declaration_id)
    .bind(i.recorded_by)
    .bind(now())
    .fetch_one(conn)
    .await
}

#[derive(Clone, Debug)]
pub struct Round {
    pub id: i64,
    pub fund_id: i64,
    pub fund_name: String,
    pub title: String,
    pub opens_on: Option<String>,
    pub closes_on: Option<String>,
    pub rolling: bool,
    pub budget_pence: i64,
    pub who_decides: String,
    pub help: String,
    pub published: bool,
    pub decided_at: Option<i64>,
}

const ROUND_SELECT: &str = "SELECT r.id, r.fund_id, f.name AS fund_name, r.title, r.opens_on, r.closes_on, r.rolling, \
     r.budget_pence, r.who_decides, r.help, r.published, r.decided_at FROM grant_rounds r JOIN grant_funds f ON f.id = r.fund_id";

impl Round {
    fn from_row(row: &AnyRow) -> Result<Round, sqlx::Error> {
        Ok(Round {
            id: row.try_get("id")?,
            fund_id: row.try_get("fund_id")?,
            fund_name: row.try_get("fund_name")?,
            title: row.try_get("title")?,
            opens_on: row.try_get("opens_on")?,
            closes_on: row.try_get("closes_on")?,
            rolling: row.try_get::<i64, _>("rolling")? != 0,
            budget_pence: row.try_get("budget_pence")?,
            who_decides: row.try_get("who_decides")?,
            help: row.try_get("help")?,
            published: row.try_get::<i64, _>("published")? != 0,
            decided_at: row.try_get("decided_at")?,
        })
    }

    pub fn is_open(&self, today: jiff::civil::Date) -> bool {
        super::domain::round_open(
            self.published,
            self.decided_at.is_some(),
            self.opens_on.as_deref(),
            self.closes_on.as_deref(),
            today,
        )
    }

    pub fn budget(&self) -> String {
        super::domain::pounds(self.budget_pence)
    }

    pub fn timetable(&self) -> String {
        match (self.rolling, &self.opens_on, &self.closes_on) {
            (true, _, _) => "Rolling: open all the time, decided in batches.".into(),
            (false, Some(o), Some(c)) => format!("Opens {}, closes {}.", human_day(o), human_day(c)),
            _ => String::new(),
        }
    }
}

pub async fn insert_round(conn: &mut AnyConnection, fund_id: i64, r: &ValidRound) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO grant_rounds (fund_id, title, opens_on, closes_on, rolling, budget_pence, who_decides, help, published, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) RETURNING id",
    )
    .bind(fund_id)
    .bind(&r.title)
    .bind(&r.opens_on)
    .bind(&r.closes_on)
    .bind(r.rolling as i64)
    .bind(r.budget_pence)
    .bind(&r.who_decides)
    .bind(&r.help)
    .bind(now())
    .fetch_one(&mut *conn)
    .await?;
    for q in default_questions() {
        add_question(conn, id, &q).await?;
    }
    Ok(id)
}

/// Change an undecided round's details; false when its decisions are already published.
pub async fn update_round(conn: &mut AnyConnection, id: i64, r: &ValidRound) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE grant_rounds SET title = $1, opens_on = $2, closes_on = $3, rolling = $4, budget_pence = $5, \
         who_decides = $6, help = $7 WHERE id = $8 AND decided_at IS NULL",
    )
    .bind(&r.title)
    .bind(&r.opens_on)
    .bind(&r.closes_on)
    .bind(r.rolling as i64)
    .bind(r.budget_pence)
    .bind(&r.who_decides)
    .bind(&r.help)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn round(db: &Db, id: i64) -> Result<Option<Round>, sqlx::Error> {
    let sql = format!("{ROUND_SELECT} WHERE r.id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(&db.pool).await?.as_ref().map(Round::from_row).transpose()
}

pub async fn rounds_where(db: &Db, filter: &str, bind: i64) -> Result<Vec<Round>, sqlx::Error> {
    let sql = format!("{ROUND_SELECT} WHERE {filter} ORDER BY r.id DESC");
    sqlx::query(&sql).bind(bind).fetch_all(&db.pool).await?.iter().map(Round::from_row).collect()
}

pub async fn questions(db: &Db, round_id: i64) -> Result<Vec<Question>, sqlx::Error> {
    let rows: Vec<(i64, String, String, String, Option<i64>, String, i64)> = sqlx::query_as(
        "SELECT id, kind, label, hint, word_limit, options, required FROM grant_questions WHERE round_id = $1 ORDER BY position, id",
    )
    .bind(round_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, label, hint, word_limit, options, required)| Question {
            id,
            kind,
            label,
            hint,
            word_limit,
            options,
            required: required != 0,
        })
        .collect())
}

pub async fn add_question(conn: &mut AnyConnection, round_id: i64, q: &NewQuestion) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO grant_questions (round_id, position, kind, label, hint, word_limit, options, required) \
         VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM grant_questions WHERE round_id = $1), $2, $3, $4, $5, $6, $7)",
    )
    .bind(round_id)
    .bind(q.kind.as_str())
    .bind(&q.label)
    .bind(&q.hint)
    .bind(q.word_limit)
    .bind(&q.options)
    .bind(q.required as i64)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Application {
    pub id: i64,
    pub round_id: i64,
    pub round_title: String,
    pub fund_id: i64,
    pub member_id: Option<i64>,
    pub applicant_name: Option<String>,
    pub applicant_email: Option<String>,
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    pub amount_pence: Option<i64>,
    pub status: String,
    pub entered_by_name: Option<String>,
    pub group_size: Option<String>,
    pub listed: bool,
    pub submitted_at: Option<i64>,
    pub created_at: i64,
}

const APPLICATION_SELECT: &str = "SELECT a.id, a.round_id, r.title AS round_title, r.fund_id, a.member_id, \
     m.display_name AS applicant_name, m.email AS applicant_email, a.group_id, g.name AS group_name, a.amount_pence, \
     a.status, a.entered_by_name, a.group_size, a.listed, a.submitted_at, a.created_at \
     FROM grant_applications a JOIN grant_rounds r ON r.id = a.round_id \
     LEFT JOIN members m ON m.id = a.member_id LEFT JOIN groups g ON g.id = a.group_id";

impl Application {
    fn from_row(row: &AnyRow) -> Result<Application, sqlx::Error> {
        Ok(Application {
            id: row.try_get("id")?,
            round_id: row.try_get("round_id")?,
            round_title: row.try_get("round_title")?,
            fund_id: row.try_get("fund_id")?,
            member_id: row.try_get("member_id")?,
            applicant_name: row.try_get("applicant_name")?,
            applicant_email: row.try_get("applicant_email")?,
            group_id: row.try_get("group_id")?,
            group_name: row.try_get("group_name")?,
            amount_pence: row.try_get("amount_pence")?,
            status: row.try_get("status")?,
            entered_by_name: row.try_get("entered_by_name")?,
            group_size: row.try_get("group_size")?,
            listed: row.try_get::<i64, _>("listed")? != 0,
            submitted_at: row.try_get("submitted_at")?,
            created_at: row.try_get("created_at")?,
        })
    }

    /// Who it is from, as staff and the panel see it.
    pub fn from_name(&self) -> String {
        match (&self.group_name, &self.applicant_name) {
            (Some(g), _) => g.clone(),
            (None, Some(m)) => m.clone(),
            _ => "Former member".into(),
        }
    }

    pub fn status_text(&self) -> &'static str {
        match self.status.as_str() {
            "draft" => "Draft: not sent yet",
            "submitted" => "Sent: waiting for a decision",
            "withdrawn" => "Withdrawn",
            "awarded" => "Awarded",
            "declined" => "Not funded this time",
            _ => "",
        }
    }

    pub fn amount_text(&self) -> String {
        self.amount_pence.map(super::domain::pounds).unwrap_or_else(|| "not given".into())
    }

    pub fn submitted_on(&self) -> String {
        self.submitted_at.map(human_date).unwrap_or_default()
    }

    pub fn editable(&self) -> bool {
        self.status == "draft"
    }
}

pub async fn application(db: &Db, id: i64) -> Result<Option<Application>, sqlx::Error> {
    let sql = format!("{APPLICATION_SELECT} WHERE a.id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(&db.pool).await?.as_ref().map(Application::from_row).transpose()
}

pub async fn applications_where(db: &Db, filter: &str, bind: i64) -> Result<Vec<Application>, sqlx::Error> {
    let sql = format!("{APPLICATION_SELECT} WHERE {filter} ORDER BY a.id DESC");
    sqlx::query(&sql).bind(bind).fetch_all(&db.pool).await?.iter().map(Application::from_row).collect()
}

/// A new draft. `entered_by`: the staff member (id, name) who took it by phone or in person.
pub async fn create_application(
    conn: &mut AnyConnection,
    round_id: i64,
    member_id: i64,
    group_id: Option<i64>,
    entered_by: Option<(i64, &str)>,
) -> Result<i64, sqlx::Error> {
    let t = now();
    sqlx::query_scalar(
        "INSERT INTO grant_applications (round_id, member_id, group_id, status, entered_by, entered_by_name, listed, created_at, updated_at) \
         VALUES ($1, $2, $3, 'draft', $4, $5, 0, $6, $6) RETURNING id",
    )
    .bind(round_id)
    .bind(member_id)
    .bind(group_id)
    .bind(entered_by.map(|e| e.0))
    .bind(entered_by.map(|e| e.1))
    .bind(t)
    .fetch_one(conn)
    .await
}

/// Save a draft's answers and the few fixed fields (who for, group size, listing).
pub async fn save_answers(
    conn: &mut AnyConnection,
    id: i64,
    answers: &Answers,
    group_id: Option<i64>,
    group_size: Option<&str>,
    listed: bool,
) -> Result<(), sqlx::Error> {
    for (question_id, value) in &answers.values {
        sqlx::query(
            "INSERT INTO grant_answers (application_id, question_id, value) VALUES ($1, $2, $3) \
             ON CONFLICT (application_id, question_id) DO UPDATE SET value = excluded.value",
        )
        .bind(id)
        .bind(question_id)
        .bind(value)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE grant_applications SET amount_pence = $1, group_id = $2, group_size = $3, listed = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(answers.amount_pence)
    .bind(group_id)
    .bind(group_size)
    .bind(listed as i64)
    .bind(now())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Mark an application submitted, fixing the facts the fairness view counts: region and
/// self-described community from the profile (or the group's region), and whether the
/// applicant (or group) has applied before.
pub async fn submit(conn: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    let t = now();
    sqlx::query(
        "UPDATE grant_applications SET status = 'submitted', submitted_at = $1, updated_at = $1, \
         region = (SELECT COALESCE(g.region, m.region) FROM grant_applications a LEFT JOIN members m ON m.id = a.member_id \
                   LEFT JOIN groups g ON g.id = a.group_id WHERE a.id = $2), \
         community = (SELECT m.communities FROM grant_applications a JOIN members m ON m.id = a.member_id WHERE a.id = $2), \
         first_time = CASE WHEN EXISTS (SELECT 1 FROM grant_applications o, grant_applications a WHERE a.id = $2 AND o.id <> a.id \
                   AND o.submitted_at IS NOT NULL AND ((a.group_id IS NOT NULL AND o.group_id = a.group_id) \
                   OR (a.group_id IS NULL AND o.group_id IS NULL AND o.member_id = a.member_id))) THEN 0 ELSE 1 END \
         WHERE id = $2",
    )
    .bind(t)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_status(conn: &mut AnyConnection, id: i64, status: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE grant_applications SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(now())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn answers(db: &Db, application_id: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT question_id, value FROM grant_answers WHERE application_id = $1")
        .bind(application_id)
        .fetch_all(&db.pool)
        .await
}

/// The questions with this application's answers, in form order: (question, answer).
pub async fn answered(db: &Db, app: &Application) -> Result<Vec<(Question, String)>, sqlx::Error> {
    let given = answers(db, app.id).await?;
    Ok(questions(db, app.round_id)
        .await?
        .into_iter()
        .map(|q| {
            let value = given.iter().find(|(id, _)| *id == q.id).map(|(_, v)| v.clone()).unwrap_or_default();
            (q, value)
        })
        .collect())
}

pub async fn add_message(conn: &mut AnyConnection, application_id: i64, body: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO grant_messages (application_id, body, created_at) VALUES ($1, $2, $3)")
        .bind(application_id)
        .bind(body)
        .bind(now())
        .execute(conn)
        .await?;
    Ok(())
}

/// Messages about an application, oldest first: (date, text).
pub async fn messages(db: &Db, application_id: i64) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT created_at, body FROM grant_messages WHERE application_id = $1 ORDER BY id")
            .bind(application_id)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(|(at, body)| (human_date(at), body)).collect())
}
