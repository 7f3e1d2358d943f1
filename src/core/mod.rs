//! Shared plumbing every area uses: settings, database, accounts, mail, jobs, forms, layout.
pub mod access;
pub mod audit;
pub mod auth;
pub mod config;
pub mod context;
pub mod crypto;
pub mod db;
pub mod error;
pub mod forms;
pub mod jobs;
pub mod layout;
pub mod mail;
pub mod markdown;
pub mod metrics;
pub mod ratelimit;
pub mod state;
pub mod time;
