//! Form input and validation errors, GOV.UK style: a summary at the top, an error by each field.
use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
};

use crate::core::error::AppError;

/// The highest page number a list accepts: far past any real list, and small enough that
/// page × page size can never overflow.
pub const MAX_PAGE: i64 = 100_000;

/// A submitted form as name/value pairs. Missing fields read as empty, so the page can say
/// what is missing instead of the framework answering with a bare 422.
///
/// This is the one boundary every typed value crosses, so it is where text is made safe to
/// store: bytes that are not UTF-8 refuse the whole form (400) rather than being saved as
/// replacement characters, line ends become `\n`, and every other control character but tab is
/// removed (PostgreSQL cannot store NUL at all; the rest only ever arrive by mistake or malice).
#[derive(Debug, Default, Clone)]
pub struct FormData(pub Vec<(String, String)>);

/// Why a submitted form could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the form held bytes that are not text (UTF-8)")]
pub struct NotText;

impl FormData {
    pub fn parse(bytes: &[u8]) -> Result<FormData, NotText> {
        let mut fields = Vec::new();
        for pair in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            fields.push((decode_component(name)?, decode_component(value)?));
        }
        let mut form = FormData(fields);
        form.join_dates();
        Ok(form)
    }

    /// A date is typed as three fields, GOV.UK's pattern (`X-day`, `X-month`, `X-year`), and read
    /// as one, `X`: `YYYY-MM-DD` when all three are numbers, empty when all are empty, and
    /// otherwise what was typed joined by dashes, which no date parser accepts, so the field
    /// gets its error and the form shows the three parts again ([`date_parts`]).
    fn join_dates(&mut self) {
        let dates: Vec<String> =
            self.0.iter().filter_map(|(k, _)| k.strip_suffix("-day")).map(str::to_string).collect();
        for date in dates {
            let part = |p: &str| self.get(&format!("{date}-{p}"));
            let (day, month, year) = (part("day"), part("month"), part("year"));
            let numbers = [&day, &month, &year].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            let joined = if numbers && year.len() == 4 && day.len() <= 2 && month.len() <= 2 {
                format!("{year}-{month:0>2}-{day:0>2}")
            } else if day.is_empty() && month.is_empty() && year.is_empty() {
                String::new()
            } else {
                format!("{year}-{month}-{day}")
            };
            self.0.retain(|(k, _)| k != &date);
            self.0.push((date, joined));
        }
    }

    /// The trimmed value of a field, or "".
    pub fn get(&self, name: &str) -> String {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).unwrap_or_default()
    }

    /// Every non-empty value of a repeated field (checkbox groups).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, v)| k == name && !v.trim().is_empty()).map(|(_, v)| v.trim().to_string()).collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<FormData, AppError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| AppError::TooLarge)?;
        FormData::parse(&bytes).map_err(|_| {
            AppError::BadRequest(
                "Part of what you sent was not readable text. Go back, retype anything pasted from another program, and send the form again."
                    .into(),
            )
        })
    }
}

/// One `application/x-www-form-urlencoded` name or value: `+` is a space, `%XX` a byte.
fn decode_component(raw: &[u8]) -> Result<String, NotText> {
    let spaced: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    let text = String::from_utf8(bytes).map_err(|_| NotText)?;
    Ok(clean_text(&text))
}

/// A date field's value (`YYYY-MM-DD`, or what was typed joined by dashes) as the three
/// parts its fields show again: (day, month, year).
pub fn date_parts(value: &str) -> (String, String, String) {
    let mut parts = value.splitn(3, '-');
    let year = parts.next().unwrap_or("").to_string();
    let month = parts.next().unwrap_or("").to_string();
    let day = parts.next().unwrap_or("").to_string();
    let unpad = |s: String| if s.len() == 2 && s.starts_with('0') { s[1..].to_string() } else { s };
    (unpad(day), unpad(month), year)
}

/// Whether a request's path and query are text a person could have typed: percent-decoded,
/// they must be UTF-8 and hold no control characters. Anything else is refused before it
/// reaches a handler (a NUL in a search word would otherwise reach PostgreSQL, which refuses it).
pub fn uri_is_text(path: &str, query: Option<&str>) -> bool {
    let readable = |bytes: Vec<u8>| String::from_utf8(bytes).is_ok_and(|t| !t.chars().any(char::is_control));
    readable(percent_encoding::percent_decode_str(path).collect())
        && query.is_none_or(|q| {
            q.split('&').flat_map(|pair| pair.split('=')).all(|part| {
                let spaced: Vec<u8> = part.bytes().map(|b| if b == b'+' { b' ' } else { b }).collect();
                readable(percent_encoding::percent_decode(&spaced).collect())
            })
        })
}

/// Text as it may be stored: `\r\n` and lone `\r` become `\n`; tab and newline stay; every other
/// control character (C0, DEL, C1) is removed.
pub fn clean_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Errors keyed by field id, in the order the fields appear on the page.
#[derive(Debug, Default, Clone)]
pub struct FormErrors(Vec<(String, String)>);

impl FormErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field.to_string(), message.into()));
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter()
    }

    /// Prefix for the page title, so a screen reader hears about errors first.
    pub fn title_prefix(&self) -> &'static str {
        if self.0.is_empty() {
            ""
        } else {
            "Error: "
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_data_trims_and_collects_repeated_fields() {
        let f = FormData::parse(b"name=+Sam+&c=peer+support&c=&c=carers&tick=yes").unwrap();
        assert_eq!(f.get("name"), "Sam");
        assert_eq!(f.get("missing"), "");
        assert_eq!(f.all("c"), vec!["peer support", "carers"]);
        assert!(f.checked("tick"));
        assert!(!f.checked("nope"));
    }

    #[test]
    fn control_characters_are_removed_and_line_ends_become_newlines() {
        let f = FormData::parse(b"a=x%00y%07z&b=one%0D%0Atwo%0Dthree%09four&c=%C2%85end%7F").unwrap();
        assert_eq!(f.0[0].1, "xyz");
        assert_eq!(f.0[1].1, "one\ntwo\nthree\tfour");
        assert_eq!(f.0[2].1, "end");
        assert_eq!(
            FormData::parse(b"a=caf%C3%A9+%F0%9F%8C%B1&flag").unwrap().0,
            vec![("a".to_string(), "café 🌱".to_string()), ("flag".to_string(), String::new()),]
        );
    }

    #[test]
    fn addresses_with_control_characters_or_broken_utf8_are_not_text() {
        assert!(uri_is_text("/groups/3", Some("page=2&q=caf%C3%A9+bar")));
        assert!(uri_is_text("/", None));
        assert!(!uri_is_text("/groups", Some("q=a%00b")));
        assert!(!uri_is_text("/groups", Some("q=%FF")));
        assert!(!uri_is_text("/a%0Ab", None));
        assert!(!uri_is_text("/groups", Some("q%09=x")));
    }

    #[test]
    fn a_date_typed_in_three_fields_is_read_as_one_and_shown_again_as_typed() {
        let f = FormData::parse(b"closes_on-day=7&closes_on-month=3&closes_on-year=2026&x=1").unwrap();
        assert_eq!(f.get("closes_on"), "2026-03-07");
        assert_eq!(date_parts(&f.get("closes_on")), ("7".into(), "3".into(), "2026".into()));
        let empty = FormData::parse(b"d-day=&d-month=&d-year=").unwrap();
        assert_eq!(empty.get("d"), "");
        let partial = FormData::parse(b"d-day=31&d-month=feb&d-year=26").unwrap();
        assert_eq!(partial.get("d"), "26-feb-31");
        assert_eq!(date_parts(&partial.get("d")), ("31".into(), "feb".into(), "26".into()));
        assert!(crate::core::time::parse_date(&partial.get("d")).is_none());
        assert!(crate::core::time::parse_date(&FormData::parse(b"d-day=30&d-month=2&d-year=2026").unwrap().get("d"))
            .is_none());
    }

    #[test]
    fn bytes_that_are_not_utf8_refuse_the_form() {
        assert_eq!(FormData::parse(b"name=%FF%FE").unwrap_err(), NotText);
        assert_eq!(FormData::parse(b"%C3=x").unwrap_err(), NotText);
    }

    #[test]
    fn first_error_for_a_field_wins() {
        let mut e = FormErrors::default();
        e.add("email", "Enter your email address");
        e.add("email", "second");
        assert_eq!(e.get("email"), Some("Enter your email address"));
        assert_eq!(e.title_prefix(), "Error: ");
    }
}
