//! The shared page frame: title, navigation, CSRF token and notices for every template.
use std::sync::OnceLock;

use askama::Template;
use axum::{
    http::header,
    response::{Html, IntoResponse, Redirect, Response},
};

use crate::core::{context::Ctx, state::AppState};

static NETWORK_NAME: OnceLock<String> = OnceLock::new();

/// The static files' version (a hash of their content, made by `build.rs`): in their URLs, so
/// a browser keeps them until they change.
pub const ASSET_VERSION: &str = env!("CONSTELLATE_ASSET_VERSION");

/// Set once at start-up; error pages rendered without a request still show the right name.
pub fn set_network_name(name: &str) {
    let _ = NETWORK_NAME.set(name.to_string());
}

fn network_name() -> &'static str {
    NETWORK_NAME.get().map(String::as_str).unwrap_or("Constellate")
}

pub struct NavUser {
    pub name: String,
    pub is_staff: bool,
    pub is_admin: bool,
}

/// What the layout needs from every page.
pub struct Page {
    pub title: String,
    pub network: &'static str,
    pub user: Option<NavUser>,
    pub csrf: String,
    pub notice: Option<String>,
    /// The path asked for: the navigation marks the section it belongs to.
    pub path: String,
    /// (title, address) of each Atom feed this page offers, linked from its head so a feed
    /// reader given the page's address finds them.
    pub feeds: Vec<(String, String)>,
}

/// The public site's sections, in the header: the network's four themes (the seeds' own words),
/// each a landing page listing what it holds. A new area takes its place in one of them.
pub const THEMES: [(&str, &str, &[&str]); 4] = [
    ("/knowledge", "Knowledge", &["/knowledge", "/archive"]),
    ("/collaboration", "Collaboration", &["/collaboration", "/groups"]),
    ("/voice", "Voice", &["/voice", "/letters", "/support"]),
    ("/resourcing", "Resourcing", &["/resourcing", "/grants"]),
];

/// The staff workspace's areas, the same on every staff page.
pub const STAFF_AREAS: [(&str, &str, &[&str]); 7] = [
    ("/staff", "Waiting for you", &[]),
    ("/staff/people", "People", &["/staff/people", "/staff/members", "/staff/import"]),
    ("/staff/bulletin", "Bulletin", &["/staff/bulletin", "/staff/lists"]),
    ("/staff/grants", "Grants", &["/staff/grants"]),
    ("/staff/letters", "Letters", &["/staff/letters"]),
    ("/staff/support", "Campaigns", &["/staff/support"]),
    ("/staff/mail", "Email", &["/staff/mail"]),
];

impl Page {
    pub fn new(ctx: &Ctx, title: impl Into<String>) -> Page {
        Page {
            title: title.into(),
            network: network_name(),
            user: ctx.user.as_ref().map(|u| NavUser {
                name: u.name.clone(),
                is_staff: u.is_staff(),
                is_admin: u.role == crate::core::auth::Role::Admin,
            }),
            csrf: ctx.csrf.clone(),
            notice: ctx.notice.clone(),
            path: ctx.path.clone(),
            feeds: Vec::new(),
        }
    }

    /// The page with an Atom feed named in its head.
    pub fn with_feed(mut self, title: impl Into<String>, href: impl Into<String>) -> Page {
        self.feeds.push((title.into(), href.into()));
        self
    }

    /// A page with no request behind it (error pages).
    pub fn bare(title: impl Into<String>) -> Page {
        Page {
            title: title.into(),
            network: network_name(),
            user: None,
            csrf: String::new(),
            notice: None,
            path: String::new(),
            feeds: Vec::new(),
        }
    }

    pub fn asset_version(&self) -> &'static str {
        ASSET_VERSION
    }

    pub fn themes(&self) -> &'static [(&'static str, &'static str, &'static [&'static str])] {
        &THEMES
    }

    pub fn staff_areas(&self) -> &'static [(&'static str, &'static str, &'static [&'static str])] {
        &STAFF_AREAS
    }

    /// Whether the page is one of the staff workspace's (it then shows the staff areas).
    pub fn in_staff_workspace(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_staff)
            && (self.path.starts_with("/staff") || self.path.starts_with("/admin"))
    }

    /// Whether `prefixes` hold the page's path (the link to that section is marked current).
    pub fn within(&self, home: &str, prefixes: &[&str]) -> bool {
        self.path == home || prefixes.iter().any(|p| self.path == *p || self.path.starts_with(&format!("{p}/")))
    }
}

pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "Sorry, something went wrong.").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub page: Page,
    pub message: String,
}

impl ErrorPage {
    /// For no one in particular (before anyone is known).
    pub fn new(title: &str, message: &str) -> ErrorPage {
        ErrorPage { page: Page::bare(title), message: message.to_string() }
    }

    /// For whoever is signed in: the header shows their links, not "Join" and "Sign in".
    pub fn signed(ctx: &Ctx, title: &str, message: &str) -> ErrorPage {
        ErrorPage { page: Page::new(ctx, title), message: message.to_string() }
    }
}

/// Notices shown once after a redirect. The cookie carries only a code from this table.
const NOTICES: &[(&str, &str)] = &[
    ("profile-saved", "Your profile has been saved."),
    (
        "email-change-sent",
        "Your profile has been saved. We have emailed a link to the new address: your account will use it once you open that link.",
    ),
    ("email-changed", "Your account now uses your new email address."),
    ("consents-saved", "Your choices have been saved."),
    ("password-saved", "Your password has been saved."),
    ("signed-in", "You are signed in."),
    ("signed-out", "You have signed out."),
    ("group-saved", "The group has been saved."),
    ("contact-added", "The contact has been added."),
    ("member-saved", "The member's record has been saved."),
    ("member-approved", "The member has been approved and told by email."),
    ("member-erased", "The member's personal data has been erased."),
    ("imported", "The import is complete."),
    ("account-deleted", "Your account and personal data have been deleted."),
    ("item-saved", "Your item has been saved. You can come back to it at any time."),
    ("item-sent", "Your item has been sent to the editors. We will email you when they decide."),
    ("decision-recorded", "The decision has been recorded and the sender told by email."),
    ("guidelines-saved", "The guidelines and replies have been saved."),
    ("issue-created", "The issue has been started."),
    ("issue-saved", "The issue has been saved."),
    ("issue-arranged", "The issue's items have been changed."),
    ("issue-scheduled", "The issue has been scheduled."),
    ("issue-unscheduled", "The issue is a draft again."),
    ("issue-sending", "The issue is being sent. The send report shows how it is going."),
    ("test-sent", "A test has been sent to your email address."),
    ("list-created", "The list has been started."),
    ("delivery-resumed", "Delivery to that address has been resumed."),
    ("application-started", "Your application has been started. Save it at any time and come back later."),
    ("application-saved", "Your application has been saved. You can come back to it at any time."),
    ("application-sent", "The application has been sent. We will email when it is decided."),
    ("application-withdrawn", "The application has been withdrawn."),
    ("scores-saved", "Your scores have been saved."),
    ("conflict-declared", "Thank you. The application is hidden from you and the conflict is recorded."),
    ("fund-created", "The fund has been started."),
    ("fund-saved", "The fund's details have been saved."),
    ("income-recorded", "The income has been recorded."),
    ("round-created", "The round has been started with the default four questions."),
    ("round-saved", "The round's details have been saved."),
    ("question-added", "The question has been added."),
    ("question-removed", "The question has been removed."),
    ("panel-added", "The panel member has been added."),
    ("round-published", "The round is published and open."),
    ("decisions-published", "The round is closed and its decisions are published."),
    ("figures-republished", "The round's published figures have been counted again."),
    ("grant-decided", "The decision has been recorded and the applicant told by email."),
    ("payment-scheduled", "The payment has been added to the schedule."),
    ("payment-paid", "The payment has been marked paid."),
    ("bank-saved", "The bank details have been saved, encrypted."),
    ("follow-up-sent", "Thank you for telling us how it went."),
    ("donation-recorded", "The donation has been recorded."),
    ("donor-erased", "The donor's data has been erased. Any Gift Aid declaration is kept for its legal period."),
    ("signature-confirmed", "Thank you: your signature is confirmed and counts."),
    ("group-cosigned", "Your group has co-signed."),
    ("letter-saved", "The letter has been saved."),
    ("organisation-added", "The organisation has been added as a co-signer."),
    ("signature-removed", "The signature has been removed."),
    ("update-sent", "The update is being emailed to signers who asked for updates."),
    ("request-sent", "Your request has been sent. We will answer by email, and you can follow it here."),
    ("request-triaged", "Saved. If the status changed, the requester has been told by email."),
    ("narrative-added", "The entry has been added to the record."),
    ("email-retried", "The email will be tried again now."),
];

pub fn notice_text(code: &str) -> &'static str {
    NOTICES.iter().find(|(c, _)| *c == code).map(|(_, t)| *t).unwrap_or("")
}

/// Redirect after a successful POST and show a notice on the next page.
pub fn redirect_with_notice(state: &AppState, to: &str, code: &'static str) -> Response {
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(header::SET_COOKIE, crate::core::context::set_cookie(state, "flash", code, Some(60)));
    response
}

/// A plain page of a few paragraphs and an optional onward link.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub page: Page,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
}

pub fn message(ctx: &Ctx, title: &str, paragraphs: &[&str], link: Option<(&str, &str)>) -> Response {
    render(&MessagePage {
        page: Page::new(ctx, title),
        paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
        link: link.map(|(h, l)| (h.to_string(), l.to_string())),
    })
}
