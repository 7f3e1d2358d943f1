//! One integration-test binary (link time matters on a small machine), one file per area.
//! Every scenario runs on SQLite and on PostgreSQL.
mod harness;

mod access;
mod accounts;
mod bulletin;
mod bulletin_crash;
mod cli;
mod directory;
mod dkim;
mod erasure;
mod grants;
mod groups;
mod hardening;
mod hostile;
mod import;
mod interface;
mod jobs;
mod members;
mod privacy;
mod schema;
mod site;
mod upgrade;
mod voice;
