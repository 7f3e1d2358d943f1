//! Time as the database stores it: whole unix seconds, UTC.
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A date a person reads, e.g. "3 March 2025".
pub fn human_date(ts: i64) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(ts) else { return String::new() };
    let fmt = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    t.format(&fmt).unwrap_or_default()
}

/// RFC 3339 for machine-readable exports.
pub fn rfc3339(ts: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ts).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}
