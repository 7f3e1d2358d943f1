//! A step between pressing a button and an action that reaches many people, spends money,
//! publishes, or cannot be undone. The action's handler answers a first press with a page that
//! says exactly what will happen and repeats the form with `confirmed=yes`; only that second
//! press acts. Being a page, not a dialog, it works with JavaScript off.
use askama::Template;
use axum::response::Response;

use crate::core::{
    context::Ctx,
    forms::FormData,
    layout::{render, Page},
};

/// Whether the person has seen the confirmation page and pressed its button.
pub fn confirmed(form: &FormData) -> bool {
    form.get("confirmed") == "yes"
}

/// What the confirmation page says and where its button goes.
pub struct Confirm<'a> {
    /// What is about to happen, as a question: "Send Issue 12 now?"
    pub title: String,
    /// Exactly what will happen, and whether it can be undone.
    pub consequences: Vec<String>,
    /// The button's words: "Send it to 4,031 people now".
    pub button: String,
    pub action: String,
    /// The form as first sent, carried through unchanged.
    pub form: &'a FormData,
    /// Where "No, go back" leads.
    pub back: String,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    page: Page,
    consequences: &'a [String],
    button: &'a str,
    action: &'a str,
    fields: Vec<(&'a str, &'a str)>,
    back: &'a str,
}

pub fn ask(ctx: &Ctx, c: Confirm<'_>) -> Response {
    let fields = c
        .form
        .0
        .iter()
        .filter(|(k, _)| k != "_csrf" && k != "confirmed")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    render(&ConfirmPage {
        page: Page::new(ctx, c.title),
        consequences: &c.consequences,
        button: &c.button,
        action: &c.action,
        fields,
        back: &c.back,
    })
}
