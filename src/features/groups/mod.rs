//! Groups: small user-led groups, each acting through one or more contact members.
pub mod domain;
mod message;
mod routes;
pub mod store;

use crate::core::access::{Access, Routes};

pub fn routes() -> Routes {
    Routes::default()
        .get("/groups", Access::Public, routes::list)
        .get("/groups/new", Access::Member, routes::new_page)
        .post("/groups/new", Access::Member, routes::create)
        .get("/groups/{id}", Access::Public, routes::show)
        .get("/groups/{id}/message", Access::Public, message::message_page)
        .post("/groups/{id}/message", Access::Public, message::send_message)
        .get("/groups/{id}/edit", Access::GroupContact, routes::edit_page)
        .post("/groups/{id}/edit", Access::GroupContact, routes::edit)
        .post("/groups/{id}/contacts", Access::GroupContact, routes::add_contact)
}
