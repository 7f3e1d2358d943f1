//! Time as the database stores it (whole unix seconds, UTC) and as people read and type it: dates
//! and times in the network's time zone (setting `time_zone`, Europe/London by default).
use std::sync::OnceLock;

use jiff::{civil, tz::TimeZone, Timestamp};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

static ZONE: OnceLock<TimeZone> = OnceLock::new();

/// Set once at start-up from the settings (an unknown name keeps Europe/London, and
/// `config check` reports it).
pub fn set_zone(name: &str) {
    if let Ok(zone) = TimeZone::get(name) {
        let _ = ZONE.set(zone);
    }
}

fn zone() -> &'static TimeZone {
    ZONE.get_or_init(|| TimeZone::get("Europe/London").unwrap_or(TimeZone::UTC))
}

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The date of a moment as a person reads it, in the network's time zone: "3 March 2025".
pub fn human_date(ts: i64) -> String {
    let Ok(t) = Timestamp::from_second(ts) else { return String::new() };
    t.to_zoned(zone().clone()).strftime("%-d %B %Y").to_string()
}

/// A stored calendar date (`YYYY-MM-DD`) as a person reads it: "3 March 2025". Anything that is
/// not such a date is shown as it is.
pub fn human_day(date: &str) -> String {
    match parse_date(date) {
        Some(d) => d.strftime("%-d %B %Y").to_string(),
        None => date.to_string(),
    }
}

/// RFC 3339 for machine-readable exports.
pub fn rfc3339(ts: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ts).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

/// The local calendar date of a moment, as `YYYY-MM-DD` (how dates are stored as text).
pub fn local_date(ts: i64) -> String {
    Timestamp::from_second(ts).map(|t| t.to_zoned(zone().clone()).date().to_string()).unwrap_or_default()
}

/// A moment as local date and time, e.g. "3 March 2025 at 09:30".
pub fn human_local(ts: i64) -> String {
    let Ok(t) = Timestamp::from_second(ts) else { return String::new() };
    t.to_zoned(zone().clone()).strftime("%-d %B %Y at %H:%M").to_string()
}

/// How long a number of seconds is, roughly, as a person says it: "4 minutes", "3 days".
pub fn human_age(seconds: i64) -> String {
    let (n, unit) = match seconds.max(0) {
        s if s < 3600 => (s / 60, "minute"),
        s if s < 2 * 86_400 => (s / 3600, "hour"),
        s if s < 60 * 86_400 => (s / 86_400, "day"),
        s => (s / (7 * 86_400), "week"),
    };
    let n = n.max(1);
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Parse a date typed as `YYYY-MM-DD` (what a date field sends).
pub fn parse_date(input: &str) -> Option<civil::Date> {
    input.trim().parse::<civil::Date>().ok()
}

/// Days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: civil::Date, to: civil::Date) -> i64 {
    (to - from).get_days() as i64
}

/// A local date and time (`YYYY-MM-DD`, `HH:MM`) as unix seconds. In the hour skipped when
/// clocks go forward the later reading is used; in the repeated hour, the earlier.
pub fn local_to_unix(date: &str, time_of_day: &str) -> Option<i64> {
    let date = parse_date(date)?;
    let time = time_of_day.trim().parse::<civil::Time>().ok()?;
    let zoned = date.to_datetime(time).to_zoned(zone().clone()).ok()?;
    Some(zoned.timestamp().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_follow_british_summer_time() {
        // 09:00 in January is 09:00 UTC; in July it is 08:00 UTC.
        let winter = local_to_unix("2026-01-15", "09:00").unwrap();
        let summer = local_to_unix("2026-07-15", "09:00").unwrap();
        assert_eq!(rfc3339(winter), "2026-01-15T09:00:00Z");
        assert_eq!(rfc3339(summer), "2026-07-15T08:00:00Z");
        assert_eq!(human_local(summer), "15 July 2026 at 09:00");
        assert_eq!(local_date(summer), "2026-07-15");
        assert!(local_to_unix("2026-02-30", "09:00").is_none());
        assert!(local_to_unix("2026-01-15", "25:00").is_none());
    }

    #[test]
    fn dates_read_the_same_everywhere() {
        assert_eq!(human_day("2026-03-01"), "1 March 2026");
        assert_eq!(human_day("soon"), "soon");
        // 23:30 UTC on 31 July is already 1 August in London.
        let late = local_to_unix("2026-08-01", "00:30").unwrap();
        assert_eq!(human_date(late), "1 August 2026");
    }

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(human_age(30), "1 minute");
        assert_eq!(human_age(5 * 60), "5 minutes");
        assert_eq!(human_age(3 * 3600), "3 hours");
        assert_eq!(human_age(3 * 86_400), "3 days");
        assert_eq!(human_age(90 * 86_400), "12 weeks");
    }

    #[test]
    fn days_between_counts_calendar_days() {
        let a = parse_date("2026-03-01").unwrap();
        assert_eq!(days_between(a, parse_date("2026-03-04").unwrap()), 3);
        assert_eq!(days_between(a, parse_date("2026-02-28").unwrap()), -1);
        assert!(parse_date("1 March").is_none());
    }
}
