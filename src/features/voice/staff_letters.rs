//! Staff's side of letters: writing them, opening and closing them, adding organisations,
//! exporting signatories for delivery, finding and removing a signature, and posting updates
//! to signers who asked for them (each update email made by a job when it is sent).
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};

use super::{
    domain::{LetterInput, LetterStatus, ShownSigner},
    store::{self, FoundSignature, Letter},
};
use crate::core::{
    audit::{self, Action},
    confirm::{self, Confirm},
    context::Ctx,
    error::{AppError, AppResult},
    forms::{FormData, FormErrors},
    jobs,
    layout::{redirect_with_notice, render, Page},
    mail::Email,
    markdown::to_safe_html,
    spreadsheet::Sheet,
    state::AppState,
    time::{human_date, local_date, now},
};

#[derive(Template)]
#[template(path = "voice/staff_letters.html")]
struct StaffLettersPage {
    page: Page,
    letters: Vec<(Letter, i64)>,
}

pub async fn list(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let letters = store::letters(&state.db, false).await?;
    Ok(render(&StaffLettersPage { page: Page::new(&ctx, "Letters and petitions"), letters }))
}

#[derive(Template)]
#[template(path = "voice/letter_form.html")]
struct LetterForm {
    page: Page,
    /// None while writing a new letter.
    letter: Option<Letter>,
    counts: (i64, i64),
    updates: Vec<(String, i64, String)>,
    form: LetterInput,
    /// What was typed in the smaller forms on the page, kept when one has an error.
    organisation: String,
    update: String,
    errors: FormErrors,
    kinds: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
}

async fn letter_form(
    state: &AppState,
    ctx: &Ctx,
    letter: Option<Letter>,
    form: LetterInput,
    (organisation, update): (String, String),
    errors: FormErrors,
) -> AppResult<Response> {
    let (counts, updates) = match &letter {
        Some(l) => (store::counts(&state.db, l.id).await?, updates_of(state, l.id).await?),
        None => ((0, 0), Vec::new()),
    };
    let title = match &letter {
        Some(l) => format!("Manage: {}", l.title),
        None => "New letter or petition".to_string(),
    };
    let invalid = !errors.is_empty();
    let mut response = render(&LetterForm {
        page: Page::new(ctx, format!("{}{title}", errors.title_prefix())),
        letter,
        counts,
        updates,
        form,
        organisation,
        update,
        errors,
        kinds: vec![("letter", "Open letter"), ("petition", "Petition")],
        statuses: LetterStatus::ALL.iter().map(|s| (s.key(), s.label())).collect(),
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// Updates posted about a letter: (date, recipients, text).
async fn updates_of(state: &AppState, letter_id: i64) -> AppResult<Vec<(String, i64, String)>> {
    let rows: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT posted_at, recipients, body FROM letter_updates WHERE letter_id = $1 ORDER BY id")
            .bind(letter_id)
            .fetch_all(&state.db.pool)
            .await?;
    Ok(rows.into_iter().map(|(at, n, body)| (human_date(at), n, body)).collect())
}

fn input_of(letter: &Letter) -> LetterInput {
    LetterInput {
        kind: letter.kind.clone(),
        title: letter.title.clone(),
        body: letter.body.clone(),
        addressee: letter.addressee.clone(),
        goal: letter.goal.map(|g| g.to_string()).unwrap_or_default(),
        published_with: letter.published_with.clone(),
        status: letter.status.clone(),
        closes_on: letter.closes_on.clone().unwrap_or_default(),
    }
}

pub async fn new_page(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let form = LetterInput { kind: "letter".into(), status: "draft".into(), ..Default::default() };
    letter_form(&state, &ctx, None, form, Default::default(), FormErrors::default()).await
}

pub async fn create(State(state): State<AppState>, ctx: Ctx, form: FormData) -> AppResult<Response> {
    let input = LetterInput::from_form(&form);
    let valid = match input.validate() {
        Ok(v) => v,
        Err(errors) => return letter_form(&state, &ctx, None, input, Default::default(), errors).await,
    };
    if valid.status == LetterStatus::Open && !confirm::confirmed(&form) {
        return Ok(confirm_publishing(&ctx, &valid.title, "/staff/letters/new", "/staff/letters", &form));
    }
    let mut conn = state.db.pool.acquire().await?;
    let id = store::insert_letter(&mut conn, &valid, now()).await?;
    Ok(redirect_with_notice(&state, &format!("/staff/letters/{id}"), "letter-saved"))
}

async fn staff_letter(state: &AppState, id: i64) -> AppResult<Letter> {
    store::letter(&state.db, id).await?.ok_or(AppError::NotFound)
}

pub async fn edit_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let letter = staff_letter(&state, id).await?;
    let form = input_of(&letter);
    letter_form(&state, &ctx, Some(letter), form, Default::default(), FormErrors::default()).await
}

pub async fn save(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormData) -> AppResult<Response> {
    let letter = staff_letter(&state, id).await?;
    let input = LetterInput::from_form(&form);
    let valid = match input.validate() {
        Ok(v) => v,
        Err(errors) => return letter_form(&state, &ctx, Some(letter), input, Default::default(), errors).await,
    };
    let here = format!("/staff/letters/{id}");
    if valid.status == LetterStatus::Open && !letter.is_open() && !confirm::confirmed(&form) {
        return Ok(confirm_publishing(&ctx, &valid.title, &here, &here, &form));
    }
    store::update_letter(&state.db, &letter, &valid, now()).await?;
    Ok(redirect_with_notice(&state, &here, "letter-saved"))
}

/// Opening a letter publishes it: the step before.
fn confirm_publishing(ctx: &Ctx, title: &str, action: &str, back: &str, form: &FormData) -> Response {
    confirm::ask(
        ctx,
        Confirm {
            title: format!("Publish “{title}”?"),
            consequences: vec![
                "Anyone will be able to read it on the open letters page and sign it, from now until it closes.".into(),
                "Signatures, once given, stay with it: check the wording first.".into(),
            ],
            button: "Publish it".into(),
            action: action.into(),
            form,
            back: back.into(),
        },
    )
}

/// Staff add an organisation from outside the network that co-signs.
pub async fn add_organisation(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let letter = staff_letter(&state, id).await?;
    let name = form.get("organisation");
    if name.is_empty() || name.chars().count() > 200 {
        let mut errors = FormErrors::default();
        errors.add("organisation", "Enter the organisation's name (up to 200 characters)");
        let input = input_of(&letter);
        return letter_form(&state, &ctx, Some(letter), input, (name, String::new()), errors).await;
    }
    store::add_cosigner(&state.db, letter.id, None, &name, None, now()).await?;
    Ok(redirect_with_notice(&state, &format!("/staff/letters/{id}"), "organisation-added"))
}

/// The delivered list shows what the public page shows: a hidden signer is counted, not named.
fn shown_columns(signer: &Option<ShownSigner>) -> [String; 5] {
    match signer {
        Some(s) => [s.name.clone(), s.role.clone(), s.organisation.clone(), s.place.clone(), s.comment.clone()],
        None => ["(name not shown)".into(), String::new(), String::new(), String::new(), String::new()],
    }
}

/// CSV for delivery. Cells that a spreadsheet would run as a formula are prefixed with '.
pub async fn export_csv(State(state): State<AppState>, Path(id): Path<i64>) -> AppResult<Response> {
    let letter = staff_letter(&state, id).await?;
    let signers = store::all_signers(&state.db, letter.id).await?;
    let mut sheet = Sheet::default();
    sheet.row(["Name", "Role", "Organisation", "Town or region", "Comment", "Confirmed on"]);
    for (signer, confirmed_at) in &signers {
        let [name, role, org, place, comment] = shown_columns(signer);
        sheet.row([name, role, org, place, comment, local_date(*confirmed_at)]);
    }
    Ok(sheet.download(&format!("{}-signatories.csv", letter.slug)))
}

#[derive(Template)]
#[template(path = "voice/print.html")]
struct PrintPage {
    page: Page,
    letter: Letter,
    body_html: String,
    cosigners: Vec<(String, bool)>,
    signers: Vec<ShownSigner>,
    hidden: usize,
}

/// The letter with everyone who signed, on one page for printing or saving as PDF.
pub async fn printable(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let letter = staff_letter(&state, id).await?;
    let all = store::all_signers(&state.db, letter.id).await?;
    let hidden = all.iter().filter(|(s, _)| s.is_none()).count();
    Ok(render(&PrintPage {
        page: Page::new(&ctx, format!("Signatories for delivery: {}", letter.title)),
        body_html: to_safe_html(&letter.body),
        cosigners: store::cosigners(&state.db, letter.id).await?,
        signers: all.into_iter().filter_map(|(s, _)| s).collect(),
        hidden,
        letter,
    }))
}

/// Post an update: one email, through the job table, to each confirmed signer who asked to
/// hear what happens next (and whose address is still kept).
pub async fn post_update(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormData,
) -> AppResult<Response> {
    let staff = ctx.user()?;
    let letter = staff_letter(&state, id).await?;
    let text = form.get("update");
    if text.is_empty() || text.chars().count() > 5_000 {
        let mut errors = FormErrors::default();
        errors.add("update", "Write the update (up to 5,000 characters)");
        let input = input_of(&letter);
        return letter_form(&state, &ctx, Some(letter), input, (String::new(), text), errors).await;
    }
    if !confirm::confirmed(&form) {
        let signers: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM letter_signatures WHERE letter_id = $1 AND confirmed_at IS NOT NULL \
             AND wants_updates = 1 AND email IS NOT NULL",
        )
        .bind(letter.id)
        .fetch_one(&state.db.pool)
        .await?;
        return Ok(confirm::ask(
            &ctx,
            Confirm {
                title: format!("Email this update to {signers} signers?"),
                consequences: vec![
                    format!(
                        "Everyone who signed “{}” and asked for updates gets it by email now: {signers} people.",
                        letter.title
                    ),
                    "An email cannot be recalled once it is sent.".into(),
                ],
                button: format!("Email it to {signers} signers"),
                action: format!("/staff/letters/{id}/updates"),
                form: &form,
                back: format!("/staff/letters/{id}"),
            },
        ));
    }
    let mut tx = state.db.begin().await?;
    let update_id: i64 = sqlx::query_scalar(
        "INSERT INTO letter_updates (letter_id, body, recipients, posted_by, posted_at) VALUES ($1, $2, 0, $3, $4) RETURNING id",
    )
    .bind(letter.id)
    .bind(&text)
    .bind(staff.id)
    .bind(now())
    .fetch_one(&mut *tx)
    .await?;
    // One job per signer, written by one statement however many there are; each email is
    // made when it is sent, so a signer who stops updates (or is removed) before then gets
    // none, and no address is copied into the job table. The ids come from the database.
    let queued = sqlx::query(&format!(
        "INSERT INTO jobs ({}) SELECT '{KIND_UPDATE}', '{{\"update\":{update_id},\"signature\":' || s.id || '}}', \
         NULL, 'queued', 0, 6, $1, $1, $1, 'voice-update:{update_id}:' || s.id, NULL FROM letter_signatures s \
         WHERE s.letter_id = $2 AND s.confirmed_at IS NOT NULL AND s.wants_updates = 1 AND s.email IS NOT NULL \
         ON CONFLICT (dedupe_key) DO NOTHING",
        jobs::INSERT_COLUMNS
    ))
    .bind(now())
    .bind(letter.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE letter_updates SET recipients = $1 WHERE id = $2")
        .bind(queued.rows_affected() as i64)
        .bind(update_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    state.jobs_waiting.notify_one();
    Ok(redirect_with_notice(&state, &format!("/staff/letters/{id}"), "update-sent"))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct SignatureSearch {
    pub q: String,
}

#[derive(Template)]
#[template(path = "voice/signatures.html")]
struct SignaturesPage {
    page: Page,
    letter: Letter,
    q: String,
    found: Option<Vec<FoundSignature>>,
    limit: usize,
}

/// Shown at most: a search is for finding one signature to remove, not for reading the list.
const FOUND_LIMIT: usize = 50;

/// Find a signature by name or address, to remove one that is abusive or was added in error.
pub async fn signatures_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(search): Query<SignatureSearch>,
) -> AppResult<Response> {
    let letter = staff_letter(&state, id).await?;
    let q = search.q.trim().chars().take(200).collect::<String>();
    let found = if q.is_empty() {
        None
    } else {
        let found = store::find_signatures(&state.db, id, &q, FOUND_LIMIT as i64).await?;
        let detail = format!("searched the signatures of letter {id}");
        audit::record(&state.db.pool, ctx.user()?.id, Action::View, None, &detail).await?;
        Some(found)
    };
    let page = Page::new(&ctx, format!("Signatures: {}", letter.title));
    Ok(render(&SignaturesPage { page, letter, q, found, limit: FOUND_LIMIT }))
}

pub async fn remove_signature(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, signature)): Path<(i64, i64)>,
    form: FormData,
) -> AppResult<Response> {
    let letter = staff_letter(&state, id).await?;
    if !confirm::confirmed(&form) {
        let name: String = sqlx::query_scalar("SELECT name FROM letter_signatures WHERE id = $1 AND letter_id = $2")
            .bind(signature)
            .bind(id)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or(AppError::NotFound)?;
        return Ok(confirm::ask(
            &ctx,
            Confirm {
                title: format!("Remove the signature of {name}?"),
                consequences: vec![
                    format!("It is deleted from “{}” and no longer counted. This cannot be undone.", letter.title),
                    "The person can sign again.".into(),
                ],
                button: "Remove the signature".into(),
                action: format!("/staff/letters/{id}/signatures/{signature}/remove"),
                form: &form,
                back: format!("/staff/letters/{id}/signatures"),
            },
        ));
    }
    let mut tx = state.db.begin().await?;
    if !store::remove_signature(&mut tx, id, signature).await? {
        return Err(AppError::NotFound);
    }
    let detail = format!("removed signature {signature} from letter {id}");
    audit::record(&mut *tx, ctx.user()?.id, Action::Erase, None, &detail).await?;
    tx.commit().await?;
    state.db.scrub().await?;
    Ok(redirect_with_notice(&state, &format!("/staff/letters/{id}/signatures"), "signature-removed"))
}

/// The job kind of one update email to one signer.
pub const KIND_UPDATE: &str = "voice-update";

#[derive(serde::Deserialize)]
struct UpdateMessage {
    update: i64,
    signature: i64,
}

/// Email one update to one signer, if they still want it.
pub fn send_update<'a>(state: &'a AppState, job: &'a jobs::ClaimedJob) -> jobs::JobFuture<'a> {
    Box::pin(async move {
        let message: UpdateMessage =
            serde_json::from_str(&job.payload).map_err(|e| jobs::JobError::Permanent(format!("bad payload: {e}")))?;
        let found: Option<(String, String, String, String)> = sqlx::query_as(
            "SELECT s.email, u.body, l.title, l.slug FROM letter_updates u JOIN letters l ON l.id = u.letter_id \
             JOIN letter_signatures s ON s.letter_id = l.id AND s.id = $2 \
             WHERE u.id = $1 AND s.wants_updates = 1 AND s.email IS NOT NULL",
        )
        .bind(message.update)
        .bind(message.signature)
        .fetch_optional(&state.db.pool)
        .await?;
        let Some((email, text, title, slug)) = found else { return Ok(()) };
        let stop = state.links.sign(super::public::UPDATES_OFF, &message.signature.to_string());
        let base = &state.config.base_url;
        let body = format!(
            "Hello,\n\nYou signed \"{title}\" and asked to hear what happens next.\n\n{text}\n\nRead the letter: {base}/letters/{slug}\n\n\
             You are getting this because you asked for updates when you signed. We will not use your address for anything else.\n\
             To stop updates about this letter: {base}/signatures/updates-off/{stop}\n\n{}\n",
            state.config.network_name
        );
        let email = Email::text(&email, format!("What happened next: {title}"), body);
        Ok(state.mailer.send(email, job.id).await?)
    })
}
