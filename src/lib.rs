//! Constellate: a self-hosted, privacy-first platform for user-led networks.
//!
//! `core` holds shared plumbing; `features` holds one module per product area.
pub mod cli;
pub mod core;
pub mod demo;
pub mod features;
pub mod server;
