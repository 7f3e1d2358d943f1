//! The product's areas, one module each: routes, domain rules, queries, templates.
pub mod accounts;
pub mod admin;
pub mod groups;
pub mod members;
pub mod site;
