//! Applying: a member (for themselves or a group they are a contact for) starts a draft from a
//! round's page, saves and returns, submits, and can withdraw; staff can do the same on
//! someone's behalf. The applicant sees every status and message in one place.
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

use super::{
    domain::{eligibility, read_answers, ApplicantType, EligibilityFacts, Question, GROUP_SIZES},
    store::{self, Application, Round},
};
use crate::{
    core::{
        context::Ctx,
        error::{AppError, AppResult},
        forms::{FormData, FormErrors},
        layout::{message, redirect_with_notice, render, Page},
        state::AppState,
        time::{local_date, now, parse_date},
    },
    features::members::store as members,
};

pub fn today() -> jiff::civil::Date {
    parse_date(&local_date(now())).unwrap_or_default()
}

/// One question with what has been typed for it.
pub struct Field {
    pub q: Question,
    pub value: String,
}

/// The application form, shown to the applicant and to staff entering it for them.
#[derive(Template)]
#[template(path = "grants/application_form.html")]
pub struct ApplicationForm {
    pub csrf: String,
    pub errors: FormErrors,
    pub action: String,
    pub fields: Vec<Field>,
    /// "me" or "group-<id>"; empty options: the applicant has no groups, so not asked.
    pub applying_as: String,
    pub as_options: Vec<(String, String)>,
    pub group_size: String,
    pub group_sizes: [(&'static str, &'static str); 5],
    pub listed: bool,
}

#[derive(Template)]
#[template(path = "grants/application.html")]
struct ApplicationPage {
    page: Page,
    errors: FormErrors,
    app: Application,
    round: Round,
    answers: Vec<Field>,
    messages: Vec<(String, String)>,
    form: Option<String>,
    can_withdraw: bool,
    follow_up_due: bool,
}

/// The applicant's own application (or NotFound, so nobody learns another's exists).
async fn own(state: &AppState, ctx: &Ctx, id: i64) -> AppResult<Application> {
    let user = ctx.user()?;
    store::application(&state.db, id).await?.filter(|a| a.member_id == Some(user.id)).ok_or(AppError::NotFound)
}

/// Choices of whom to apply as: yourself, or each group you are a contact for.
pub async fn as_options(
    state: &AppState,
    member_id: i64,
    name: &str,
) -> AppResult<(Vec<(i64, String)>, Vec<(String, String)>)> {
    let groups = members::contact_groups(&state.db, member_id).await?;
    if groups.is_empty() {
        return Ok((groups, Vec::new()));
    }
    let mut options = vec![("me".to_string(), format!("Myself ({name})"))];
    options
        .extend(groups.iter().map(|(id, g)| (format!("group-{id}"), format!("{g} (a group you are a contact for)"))));
    Ok((groups, options))
}

/// Fill the form from what is stored (or, after an error, from what was typed).
pub async fn form_for(
    state: &AppState,
    ctx: &Ctx,
    app: &Application,
    action: String,
    typed: Option<&FormData>,
    errors: FormErrors,
) -> AppResult<ApplicationForm> {
    let (name, member_id) = (app.applicant_name.clone().unwrap_or_default(), app.member_id.unwrap_or_default());
    let (_, options) = as_options(state, member_id, &name).await?;
    let fields = match typed {
        Some(form) => store::questions(&state.db, app.round_id)
            .await?
            .into_iter()
            .map(|q| Field { value: form.get(&q.field()), q })
            .collect(),
        None => store::answered(&state.db, app).await?.into_iter().map(|(q, value)| Field { q, value }).collect(),
    };
    let stored_as = app.group_id.map_or("me".to_string(), |g| format!("group-{g}"));
    Ok(ApplicationForm {
        csrf: ctx.csrf.clone(),
        errors,
        action,
        fields,
        applying_as: typed.map_or(stored_as, |f| f.get("applying_as")),
        as_options: options,
        group_size: typed.map_or(app.group_size.clone().unwrap_or_default(), |f| f.get("group_size")),
        group_sizes: GROUP_SIZES,
        listed: typed.map_or(app.listed, |f| f.checked("listed")),
    })
}

async fn show(
    state: &AppState,
    ctx: &Ctx,
    app: Application,
    typed: Option<&FormData>,
    errors: FormErrors,
) -> AppResult<Response> {
    let round = store::round(&state.db, app.round_id).await?.ok_or(AppError::NotFound)?;
    let form = if app.editable() {
        Some(
            form_for(state, ctx, &app, format!("/grants/applications/{}", app.id), typed, errors.clone())
                .await?
                .render()
                .map_err(AppError::internal)?,
        )
    } else {
        None
    };
    let answers = store::answered(&state.db, &app).await?.into_iter().map(|(q, value)| Field { q, value }).collect();
    let award = super::money::award_of(&state.db, app.id).await?;
    let follow_up_due = match &award {
        Some(a) => a.follow_up_sent_at.is_some() && !super::follow_up::replied(&state.db, a.id).await?,
        None => false,
    };
    let invalid = !errors.is_empty();
    let mut response = render(&ApplicationPage {
        page: Page::new(ctx, format!("{}Your application to {}", errors.title_prefix(), round.title)),
        errors,
        can_withdraw: app.status == "submitted",
        messages: store::messages(&state.db, app.id).await?,
        app,
        round,
        answers,
        form,
        follow_up_due,
    });
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn application_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let app = own(&state, &ctx, id).await?;
    show(&state, &ctx, app, None, FormErrors::default()).await
}

/// Start a draft in an open round and go to it.
pub async fn start(State(state): State<AppState>, ctx: Ctx, Path(round_id): Path<i64>) -> AppResult<Response> {
    let user = ctx.user()?;
    let round = store::round(&state.db, round_id).await?.filter(|r| r.published).ok_or(AppError::NotFound)?;
    if !round.is_open(today()) {
        return Ok(message(
            &ctx,
            "This round is not open",
            &["It is not taking applications at the moment. The round's page shows its dates."],
            Some((&format!("/grants/rounds/{round_id}"), "Back to the round")),
        ));
    }
    let mut conn = state.db.pool.acquire().await?;
    let id = store::create_application(&mut conn, round_id, user.id, None, None).await?;
    Ok(redirect_with_notice(&state, &format!("/grants/applications/{id}"), "application-started"))
}

/// Save (and, when asked, submit) an application from its form: the answers, the group (if
/// any), group size and listing. Shared by the applicant's page and staff entering it on
/// someone's behalf. Returns whether it was a submission, and the errors to show, if any.
pub async fn save_from_form(state: &AppState, app: &Application, form: &FormData) -> AppResult<(bool, FormErrors)> {
    let submitting = form.get("action") == "submit";
    let questions = store::questions(&state.db, app.round_id).await?;
    let member_id = app.member_id.ok_or(AppError::NotFound)?;
    let (groups, _) = as_options(state, member_id, "").await?;
    let mut errors = FormErrors::default();
    let applying_as = form.get("applying_as");
    let group_id = match applying_as.strip_prefix("group-").and_then(|g| g.parse::<i64>().ok()) {
        Some(g) if groups.iter().any(|(id, _)| *id == g) => Some(g),
        Some(_) => {
            errors.add("applying_as", "Choose yourself or a group you are a contact for");
            None
        }
        None => None,
    };
    let group_size = form.get("group_size");
    if !GROUP_SIZES.iter().any(|(v, _)| *v == group_size) {
        errors.add("group_size", "Choose a group size from the list");
    }
    // A draft keeps whatever was typed; a submission is checked in full first.
    let answers = match read_answers(&questions, form, submitting) {
        Ok(a) => a,
        Err(e) => {
            for (f, m) in e.iter() {
                errors.add(f, m.clone());
            }
            read_answers(&questions, form, false).unwrap_or_default()
        }
    };
    let mut tx = state.db.begin().await?;
    store::save_answers(
        &mut tx,
        app.id,
        &answers,
        group_id,
        (!group_size.is_empty()).then_some(group_size.as_str()),
        form.checked("listed"),
    )
    .await?;
    tx.commit().await?;
    if submitting && errors.is_empty() {
        // One error per reason (the summary lists each), all shown together at the top of the form.
        let reasons = eligibility_reasons(state, app, group_id.is_some(), answers.amount_pence).await?;
        for (i, reason) in reasons.into_iter().enumerate() {
            errors.add(&format!("eligibility-{}", i + 1), reason);
        }
    }
    if submitting && errors.is_empty() {
        let mut tx = state.db.begin().await?;
        store::submit(&mut tx, app.id).await?;
        store::add_message(
            &mut tx,
            app.id,
            "We have received your application. The panel will read it against the round's criteria, and we will email you when it is decided.",
        )
        .await?;
        tx.commit().await?;
    }
    Ok((submitting, errors))
}

/// Membership, who may apply, the cap and the round's dates, as reasons the applicant reads.
async fn eligibility_reasons(
    state: &AppState,
    app: &Application,
    as_group: bool,
    amount: Option<i64>,
) -> AppResult<Vec<String>> {
    let round = store::round(&state.db, app.round_id).await?.ok_or(AppError::NotFound)?;
    let fund = store::fund(&state.db, round.fund_id).await?.ok_or(AppError::NotFound)?;
    let member = members::get(&state.db, app.member_id.unwrap_or_default()).await?;
    Ok(eligibility(&EligibilityFacts {
        member_active: member.is_some_and(|m| m.status == "active"),
        applicant_type: ApplicantType::parse(&fund.applicant_type).unwrap_or(ApplicantType::Both),
        as_group,
        amount_pence: amount,
        cap_pence: fund.cap_pence,
        round_open: round.is_open(today()),
        fund_name: &fund.name,
    }))
}

pub async fn save(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormData) -> AppResult<Response> {
    let app = own(&state, &ctx, id).await?;
    if !app.editable() {
        return show(&state, &ctx, app, None, FormErrors::default()).await;
    }
    let (submitted, errors) = save_from_form(&state, &app, &form).await?;
    if !errors.is_empty() {
        let app = own(&state, &ctx, id).await?;
        return show(&state, &ctx, app, Some(&form), errors).await;
    }
    let notice = if submitted { "application-sent" } else { "application-saved" };
    Ok(redirect_with_notice(&state, &format!("/grants/applications/{id}"), notice))
}

pub async fn withdraw(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let app = own(&state, &ctx, id).await?;
    if app.status != "submitted" {
        return Ok(redirect_with_notice(&state, &format!("/grants/applications/{id}"), "application-saved"));
    }
    let mut tx = state.db.begin().await?;
    store::set_status(&mut tx, id, "withdrawn").await?;
    store::add_message(&mut tx, id, "You withdrew this application. You are welcome to apply again.").await?;
    tx.commit().await?;
    Ok(redirect_with_notice(&state, &format!("/grants/applications/{id}"), "application-withdrawn"))
}

#[derive(Template)]
#[template(path = "grants/mine.html")]
struct MinePage {
    page: Page,
    apps: Vec<(Application, Vec<(String, String)>)>,
    panels: Vec<Round>,
}

/// Every application with its status and messages, and any panels the member sits on.
pub async fn mine(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let user = ctx.user()?;
    let mut apps = Vec::new();
    for app in store::applications_where(&state.db, "a.member_id = $1", user.id).await? {
        let messages = store::messages(&state.db, app.id).await?;
        apps.push((app, messages));
    }
    let panels = store::rounds_where(
        &state.db,
        "r.id IN (SELECT round_id FROM grant_panel_members WHERE member_id = $1)",
        user.id,
    )
    .await?;
    Ok(render(&MinePage { page: Page::new(&ctx, "Your grant applications"), apps, panels }))
}
