//! Accounts: sign-in by emailed link or password, sign-out, first-admin setup, passwords.
mod routes;

pub use routes::{limit_attempt, routes, send_sign_in_link, setup_link_if_needed};
