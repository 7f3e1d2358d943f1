//! Money that never overspends: decisions and awards against a fund, payment schedules,
//! bank details (only when the organisation turns them on, and then encrypted) and the bank
//! payment export.
use serde::{Deserialize, Serialize};

use super::{
    domain::{decimal, pounds, Outcome, ValidDecision},
    store::{self, sum, Application},
};
use crate::core::{
    crypto::Keyring,
    db::Db,
    jobs,
    mail::Email,
    spreadsheet::Sheet,
    time::{local_date, now},
};

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("the fund has {} left", pounds(*available))]
    Overspend { available: i64 },
    #[error("already decided")]
    AlreadyDecided,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// How long after the award the one "how did it go?" message goes, unless staff change it.
pub const FOLLOW_UP_DAYS: i64 = 180;

/// Record a decision. An award happens in one transaction whose first statement updates the
/// fund's row: on PostgreSQL that row lock queues every other decision on the same fund (from
/// any instance) until this one commits; on SQLite the write takes the database's one write
/// lock. Only then are the fund's awards and income summed, so two staff deciding at the same
/// moment can never both spend the last of the money.
pub async fn decide(
    db: &Db,
    app: &Application,
    decision: &ValidDecision,
    decided_by: i64,
    email: Option<&Email>,
) -> Result<(), DecideError> {
    let mut tx = db.begin().await?;
    let t = now();
    sqlx::query("UPDATE grant_funds SET updated_at = $1 WHERE id = $2")
        .bind(t)
        .bind(app.fund_id)
        .execute(&mut *tx)
        .await?;
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM grant_applications WHERE id = $1")
        .bind(app.id)
        .fetch_optional(&mut *tx)
        .await?;
    if status.as_deref() != Some("submitted") {
        return Err(DecideError::AlreadyDecided);
    }
    if let Some(amount) = decision.amount_pence {
        let sql = format!(
            "SELECT f.budget_pence + (SELECT {} FROM grant_income WHERE fund_id = f.id) \
             - (SELECT {} FROM grant_awards WHERE fund_id = f.id) FROM grant_funds f WHERE f.id = $1",
            sum("amount_pence"),
            sum("amount_pence")
        );
        let available: i64 = sqlx::query_scalar(&sql).bind(app.fund_id).fetch_one(&mut *tx).await?;
        if amount > available {
            return Err(DecideError::Overspend { available: available.max(0) });
        }
        let today = local_date(t);
        let follow_up = jiff::civil::Date::strptime("%Y-%m-%d", &today)
            .ok()
            .and_then(|d| d.checked_add(jiff::Span::new().days(FOLLOW_UP_DAYS)).ok())
            .map(|d| d.to_string())
            .unwrap_or_else(|| today.clone());
        sqlx::query(
            "INSERT INTO grant_awards (application_id, fund_id, amount_pence, awarded_on, follow_up_on, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(app.id)
        .bind(app.fund_id)
        .bind(amount)
        .bind(&today)
        .bind(follow_up)
        .bind(t)
        .execute(&mut *tx)
        .await?;
    }
    let conflicts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grant_conflicts WHERE application_id = $1")
        .bind(app.id)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO grant_decisions (application_id, outcome, amount_pence, reason, other_help, conflicts, decided_by, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(app.id)
    .bind(decision.outcome.as_str())
    .bind(decision.amount_pence)
    .bind(&decision.reason)
    .bind(&decision.other_help)
    .bind(conflicts)
    .bind(decided_by)
    .bind(t)
    .execute(&mut *tx)
    .await?;
    let status = if decision.outcome == Outcome::Decline { "declined" } else { "awarded" };
    store::set_status(&mut tx, app.id, status).await?;
    store::add_message(&mut tx, app.id, &applicant_message(decision)).await?;
    if let Some(email) = email {
        jobs::enqueue_mail(&mut *tx, email, app.member_id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What the applicant reads about the decision, on their page and in the email.
pub fn applicant_message(d: &ValidDecision) -> String {
    let mut text = match d.amount_pence {
        Some(a) => format!("Good news: you have been awarded {}.\n\n{}", pounds(a), d.reason),
        None => format!("We are sorry: we cannot fund this application this time.\n\n{}", d.reason),
    };
    if !d.other_help.is_empty() {
        text.push_str(&format!("\n\nOther help you could try: {}", d.other_help));
    }
    text
}

#[derive(Clone, Debug)]
pub struct Award {
    pub id: i64,
    pub application_id: i64,
    pub fund_id: i64,
    pub amount_pence: i64,
    pub awarded_on: String,
    pub recipient_org_id: Option<String>,
    pub has_bank_details: bool,
    pub follow_up_on: String,
    pub follow_up_sent_at: Option<i64>,
}

pub async fn award_of(db: &Db, application_id: i64) -> Result<Option<Award>, sqlx::Error> {
    award_where(db, "application_id = $1", application_id).await
}

pub async fn award(db: &Db, id: i64) -> Result<Option<Award>, sqlx::Error> {
    award_where(db, "id = $1", id).await
}

async fn award_where(db: &Db, filter: &str, bind: i64) -> Result<Option<Award>, sqlx::Error> {
    type Row = (i64, i64, i64, i64, String, Option<String>, Option<String>, String, Option<i64>);
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT id, application_id, fund_id, amount_pence, awarded_on, recipient_org_id, bank_details_enc, follow_up_on, \
         follow_up_sent_at FROM grant_awards WHERE {filter}"
    ))
    .bind(bind)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(
        |(id, application_id, fund_id, amount_pence, awarded_on, recipient_org_id, bank, follow_up_on, sent)| Award {
            id,
            application_id,
            fund_id,
            amount_pence,
            awarded_on,
            recipient_org_id,
            has_bank_details: bank.is_some(),
            follow_up_on,
            follow_up_sent_at: sent,
        },
    ))
}

#[derive(Clone, Debug)]
pub struct Payment {
    pub id: i64,
    pub due_on: String,
    pub amount_pence: i64,
    pub paid_on: Option<String>,
    pub method: Option<String>,
}

impl Payment {
    pub fn amount(&self) -> String {
        pounds(self.amount_pence)
    }
}

pub async fn payments(db: &Db, award_id: i64) -> Result<Vec<Payment>, sqlx::Error> {
    let rows: Vec<(i64, String, i64, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, due_on, amount_pence, paid_on, method FROM grant_payments WHERE award_id = $1 ORDER BY due_on, id",
    )
    .bind(award_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, due_on, amount_pence, paid_on, method)| Payment { id, due_on, amount_pence, paid_on, method })
        .collect())
}

pub const PAYMENT_METHODS: [&str; 4] = ["Bank transfer", "Cheque", "Cash", "Prepaid card or voucher"];

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("the schedule would come to more than the award: {} is left to schedule", pounds(*left))]
    MoreThanAwarded { left: i64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Add a payment to an award's schedule; the payments of an award never add up to more than it.
/// Like awards, the award's row is updated first so two additions queue behind each other.
pub async fn schedule_payment(db: &Db, award_id: i64, due_on: &str, amount: i64) -> Result<(), ScheduleError> {
    let mut tx = db.begin().await?;
    let t = now();
    sqlx::query("UPDATE grant_awards SET updated_at = $1 WHERE id = $2")
        .bind(t)
        .bind(award_id)
        .execute(&mut *tx)
        .await?;
    let sql = format!(
        "SELECT a.amount_pence - (SELECT {} FROM grant_payments WHERE award_id = a.id) FROM grant_awards a WHERE a.id = $1",
        sum("amount_pence")
    );
    let left: i64 = sqlx::query_scalar(&sql).bind(award_id).fetch_one(&mut *tx).await?;
    if amount > left {
        return Err(ScheduleError::MoreThanAwarded { left });
    }
    sqlx::query("INSERT INTO grant_payments (award_id, due_on, amount_pence, created_at) VALUES ($1, $2, $3, $4)")
        .bind(award_id)
        .bind(due_on)
        .bind(amount)
        .bind(t)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Bank details as kept (sealed) for one award.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct BankDetails {
    pub account_name: String,
    pub sort_code: String,
    pub account_number: String,
}

impl BankDetails {
    /// Sort code as six digits (typed with or without dashes) and an 8-digit account number.
    pub fn parse(
        account_name: &str,
        sort_code: &str,
        account_number: &str,
    ) -> Result<BankDetails, Vec<(&'static str, &'static str)>> {
        let digits = |s: &str| s.chars().filter(|c| !matches!(c, '-' | ' ')).collect::<String>();
        let (sort, number) = (digits(sort_code), digits(account_number));
        let mut errors = Vec::new();
        if account_name.trim().is_empty() || account_name.len() > 70 {
            errors.push(("account_name", "Enter the name on the account"));
        }
        if sort.len() != 6 || !sort.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(("sort_code", "Enter a sort code of 6 digits, like 30-90-12"));
        }
        if !(6..=8).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(("account_number", "Enter an account number of 6 to 8 digits"));
        }
        if errors.is_empty() {
            Ok(BankDetails {
                account_name: account_name.trim().into(),
                sort_code: sort,
                account_number: format!("{number:0>8}"),
            })
        } else {
            Err(errors)
        }
    }
}

pub async fn set_bank_details(
    db: &Db,
    keys: &Keyring,
    award_id: i64,
    details: &BankDetails,
) -> Result<(), sqlx::Error> {
    let sealed = keys.encrypt(&serde_json::to_string(details).map_err(|e| sqlx::Error::Encode(Box::new(e)))?);
    sqlx::query("UPDATE grant_awards SET bank_details_enc = $1, updated_at = $2 WHERE id = $3")
        .bind(sealed)
        .bind(now())
        .bind(award_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Every unpaid payment due by `due_by`, as CSV for the bank's bulk upload (UTF-8 with BOM so
/// spreadsheets open it correctly). Without stored bank details the columns are left blank for
/// the finance team to fill from their own records.
pub async fn bank_export(db: &Db, keys: &Keyring, due_by: &str) -> Result<Sheet, sqlx::Error> {
    type Row = (i64, i64, String, i64, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.id, a.id, p.due_on, p.amount_pence, a.bank_details_enc, g.name, m.display_name \
         FROM grant_payments p JOIN grant_awards a ON a.id = p.award_id JOIN grant_applications ap ON ap.id = a.application_id \
         LEFT JOIN groups g ON g.id = ap.group_id LEFT JOIN members m ON m.id = ap.member_id \
         WHERE p.paid_on IS NULL AND p.due_on <= $1 ORDER BY p.due_on, p.id",
    )
    .bind(due_by)
    .fetch_all(&db.pool)
    .await?;
    let mut sheet = Sheet::default();
    sheet.row(["Payee", "Sort code", "Account number", "Amount", "Reference", "Due"]);
    for (payment_id, award_id, due_on, amount, sealed, group, member) in rows {
        let bank: Option<BankDetails> =
            sealed.and_then(|s| keys.decrypt(&s).ok()).and_then(|plain| serde_json::from_str(&plain).ok());
        let payee = bank.as_ref().map(|b| b.account_name.clone()).or(group).or(member).unwrap_or_default();
        let (sort, number) = bank.map(|b| (b.sort_code, b.account_number)).unwrap_or_default();
        let reference = format!("GRANT {award_id}-{payment_id}");
        sheet.row([payee, sort, number, decimal(amount), reference, due_on]);
    }
    Ok(sheet)
}
