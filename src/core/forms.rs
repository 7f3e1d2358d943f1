//! Form input and validation errors, GOV.UK style: a summary at the top, an error by each field.
use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
};

use crate::core::error::AppError;

/// The highest page number a list accepts: far past any real list, and small enough that
/// page × page size can never overflow.
pub const MAX_PAGE: i64 = 100_000;

/// A submitted form as name/value pairs. Never rejects: missing fields read as empty, so the
/// page can say what is missing instead of the framework answering with a bare 422.
#[derive(Debug, Default, Clone)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(bytes: &[u8]) -> FormData {
        FormData(form_urlencoded::parse(bytes).into_owned().collect())
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
        Ok(FormData::parse(&bytes))
    }
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
        let f = FormData::parse(b"name=+Sam+&c=peer+support&c=&c=carers&tick=yes");
        assert_eq!(f.get("name"), "Sam");
        assert_eq!(f.get("missing"), "");
        assert_eq!(f.all("c"), vec!["peer support", "carers"]);
        assert!(f.checked("tick"));
        assert!(!f.checked("nope"));
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
