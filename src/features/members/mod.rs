//! Members: joining, self-service, profiles, the staff directory, import and export.
pub mod account;
pub mod directory;
pub mod domain;
pub mod email_change;
pub mod import;
pub mod join;
pub mod store;
pub mod workspace;

use crate::core::{
    access::{Access, Routes},
    context::IMPORT_LIMIT,
};

pub fn routes() -> Routes {
    Routes::default()
        .get("/join", Access::Public, join::join_choice)
        .get("/join/individual", Access::Public, join::join_page)
        .post("/join/individual", Access::Public, join::join)
        .get("/join/check-email", Access::Public, join::check_email)
        .get("/me", Access::SignedIn, account::me)
        .get("/me/edit", Access::SignedIn, account::edit_page)
        .post("/me/edit", Access::SignedIn, account::edit)
        .get("/me/email/{token}", Access::Public, email_change::confirm_page)
        .post("/me/email/{token}", Access::Public, email_change::confirm)
        .get("/me/consents", Access::SignedIn, account::consents_page)
        .post("/me/consents", Access::SignedIn, account::save_consents)
        .get("/me/export", Access::SignedIn, account::export)
        .get("/me/delete", Access::SignedIn, account::delete_page)
        .post("/me/delete", Access::SignedIn, account::delete)
        .get("/members/{id}", Access::Public, account::profile)
        .get("/staff/members", Access::Staff, directory::directory)
        .get("/staff/members.csv", Access::Staff, import::export_csv)
        .get("/staff/members/{id}", Access::Staff, directory::member_detail)
        .post("/staff/members/{id}", Access::Staff, directory::update_member)
        .post("/staff/members/{id}/approve", Access::Staff, directory::approve)
        .get("/staff/members/{id}/export", Access::Staff, directory::export_member)
        .post("/staff/members/{id}/erase", Access::Staff, directory::erase)
        .post("/staff/members/{id}/role", Access::Admin, directory::change_role)
        .get("/staff/import", Access::Staff, import::import_page)
        .post_with_limit("/staff/import", Access::Staff, IMPORT_LIMIT, import::dry_run)
        .post_with_limit("/staff/import/commit", Access::Staff, IMPORT_LIMIT, import::commit)
}
