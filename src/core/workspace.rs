//! What every area tells the staff workspace: the queues waiting for staff (for the start
//! page), and what it holds about one person (for the person search). Each area answers with
//! these types; `features::workspace` gathers them.
use crate::core::time::{human_age, now};

/// Work waiting for staff in one place.
pub struct Queue {
    pub label: &'static str,
    pub count: i64,
    /// When the oldest waiting item arrived (unix seconds).
    pub oldest: Option<i64>,
    pub href: String,
}

impl Queue {
    pub fn new(label: &'static str, (count, oldest): (i64, Option<i64>), href: impl Into<String>) -> Queue {
        Queue { label, count, oldest, href: href.into() }
    }

    /// "3 days", for the oldest item.
    pub fn age(&self) -> String {
        self.oldest.map(|t| human_age(now() - t)).unwrap_or_default()
    }
}

/// One thing an area holds about a person, with where staff can see it.
pub struct Holding {
    pub what: String,
    pub href: Option<String>,
}

impl Holding {
    pub fn new(what: impl Into<String>, href: impl Into<String>) -> Holding {
        Holding { what: what.into(), href: Some(href.into()) }
    }

    pub fn unlinked(what: impl Into<String>) -> Holding {
        Holding { what: what.into(), href: None }
    }
}
