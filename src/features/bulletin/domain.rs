//! The bulletin's rules: kinds of item, what a submission must say, editorial decisions, and how
//! an issue is laid out. No I/O here.
use jiff::civil::Date;

use crate::{
    core::{
        forms::{FormData, FormErrors},
        time::{days_between, parse_date},
    },
    features::members::domain::parse_region,
};

pub const MAX_TITLE: usize = 120;
/// Short by design: the bulletin is read on phones, and a short item is kinder to write.
pub const MAX_DESCRIPTION: usize = 1200;
pub const MAX_LINK: usize = 500;
pub const MAX_MESSAGE: usize = 4000;

/// What an item is; an issue has a section per kind, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Opportunity,
    PaidWork,
    Event,
    Funding,
    CallForParticipation,
    Resource,
    MemberProject,
    News,
}

impl ItemKind {
    pub const ALL: [ItemKind; 8] = [
        ItemKind::Opportunity,
        ItemKind::PaidWork,
        ItemKind::Event,
        ItemKind::Funding,
        ItemKind::CallForParticipation,
        ItemKind::Resource,
        ItemKind::MemberProject,
        ItemKind::News,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ItemKind::Opportunity => "opportunity",
            ItemKind::PaidWork => "paid_work",
            ItemKind::Event => "event",
            ItemKind::Funding => "funding",
            ItemKind::CallForParticipation => "call_for_participation",
            ItemKind::Resource => "resource",
            ItemKind::MemberProject => "member_project",
            ItemKind::News => "news",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ItemKind::Opportunity => "Opportunity",
            ItemKind::PaidWork => "Paid work",
            ItemKind::Event => "Event",
            ItemKind::Funding => "Funding",
            ItemKind::CallForParticipation => "Call for participation",
            ItemKind::Resource => "Resource",
            ItemKind::MemberProject => "Member project",
            ItemKind::News => "News",
        }
    }

    /// The heading of the kind's section in an issue.
    pub fn section(self) -> &'static str {
        match self {
            ItemKind::Opportunity => "Opportunities",
            ItemKind::PaidWork => "Paid work",
            ItemKind::Event => "Events",
            ItemKind::Funding => "Funding",
            ItemKind::CallForParticipation => "Calls for participation",
            ItemKind::Resource => "Resources",
            ItemKind::MemberProject => "Member projects",
            ItemKind::News => "News",
        }
    }

    pub fn parse(key: &str) -> Option<ItemKind> {
        ItemKind::ALL.into_iter().find(|k| k.key() == key)
    }

    /// (value, label) pairs for a form.
    pub fn options() -> Vec<(&'static str, &'static str)> {
        ItemKind::ALL.iter().map(|k| (k.key(), k.label())).collect()
    }
}

/// Where a submission is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemStatus {
    /// Saved to finish later; staff do not see it.
    Draft,
    /// Sent by someone without an account, waiting for them to confirm their email.
    Unconfirmed,
    Received,
    ChangesRequested,
    Accepted,
    Declined,
    /// Its closing date passed before it could go out.
    Expired,
}

impl ItemStatus {
    pub fn key(self) -> &'static str {
        match self {
            ItemStatus::Draft => "draft",
            ItemStatus::Unconfirmed => "unconfirmed",
            ItemStatus::Received => "received",
            ItemStatus::ChangesRequested => "changes_requested",
            ItemStatus::Accepted => "accepted",
            ItemStatus::Declined => "declined",
            ItemStatus::Expired => "expired",
        }
    }

    pub fn parse(key: &str) -> ItemStatus {
        [
            ItemStatus::Draft,
            ItemStatus::Unconfirmed,
            ItemStatus::Received,
            ItemStatus::ChangesRequested,
            ItemStatus::Accepted,
            ItemStatus::Declined,
            ItemStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.key() == key)
        .unwrap_or(ItemStatus::Received)
    }

    /// How the status reads to the person who sent the item.
    pub fn describe(self, issue_number: Option<i64>) -> String {
        match (self, issue_number) {
            (ItemStatus::Draft, _) => "Saved, not sent yet".into(),
            (ItemStatus::Unconfirmed, _) => "Waiting for you to confirm your email address".into(),
            (ItemStatus::Received, _) => "Received: the editorial team will look at it soon".into(),
            (ItemStatus::ChangesRequested, _) => "Needs a change from you".into(),
            (ItemStatus::Accepted, Some(n)) => format!("Accepted for issue {n}"),
            (ItemStatus::Accepted, None) => "Accepted for the next issue".into(),
            (ItemStatus::Declined, _) => "Declined".into(),
            (ItemStatus::Expired, _) => "Closed before it could go out".into(),
        }
    }

    /// Whether the person who sent it may still change it.
    pub fn editable(self) -> bool {
        matches!(self, ItemStatus::Draft | ItemStatus::Unconfirmed | ItemStatus::ChangesRequested)
    }

    /// The statuses staff filter the queue by, with labels.
    pub fn queue_options() -> Vec<(&'static str, &'static str)> {
        vec![
            ("received", "Waiting for a decision"),
            ("changes_requested", "Waiting for the sender to change"),
            ("accepted", "Accepted"),
            ("declined", "Declined"),
            ("expired", "Closed"),
        ]
    }
}

/// An item as typed, kept so the form can be shown again with any errors.
#[derive(Clone, Debug, Default)]
pub struct ItemInput {
    pub kind: String,
    pub title: String,
    pub description: String,
    pub link: String,
    pub closes_on: String,
    pub region: String,
    /// "me" or "group-<id>".
    pub from: String,
}

/// A checked item, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidItem {
    pub kind: ItemKind,
    pub title: String,
    pub description: String,
    pub link: Option<String>,
    pub closes_on: Option<String>,
    pub region: Option<String>,
    pub group_id: Option<i64>,
}

/// How strictly to check: a draft keeps whatever was typed (within limits), so nothing is lost;
/// sending needs everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Draft,
    Send,
}

impl ItemInput {
    pub fn from_form(form: &FormData) -> ItemInput {
        ItemInput {
            kind: form.get("kind"),
            title: form.get("title"),
            description: form.get("description"),
            link: form.get("link"),
            closes_on: form.get("closes_on"),
            region: form.get("region"),
            from: form.get("from"),
        }
    }

    /// `groups`: the groups the sender is a contact for (they may send on a group's behalf).
    pub fn validate(&self, check: Check, today: Date, groups: &[(i64, String)]) -> Result<ValidItem, FormErrors> {
        let mut errors = FormErrors::default();
        let kind = ItemKind::parse(&self.kind);
        if kind.is_none() && (check == Check::Send || !self.kind.is_empty()) {
            errors.add("kind", "Choose what kind of item this is");
        }
        let title = self.title.split_whitespace().collect::<Vec<_>>().join(" ");
        if title.is_empty() && check == Check::Send {
            errors.add("title", "Enter a title");
        } else if title.chars().count() > MAX_TITLE {
            errors.add("title", format!("Title must be {MAX_TITLE} characters or fewer"));
        }
        let length = self.description.chars().count();
        if self.description.is_empty() && check == Check::Send {
            errors.add("description", "Enter a short description");
        } else if length > MAX_DESCRIPTION {
            errors.add(
                "description",
                format!("Description must be {MAX_DESCRIPTION} characters or fewer (it has {length})"),
            );
        }
        let link = parse_link(&self.link).map_err(|e| errors.add("link", e)).ok().flatten();
        let closes_on =
            parse_closing_date(&self.closes_on, today, check).map_err(|e| errors.add("closes_on", e)).ok().flatten();
        let region = parse_region(&self.region).map_err(|e| errors.add("region", e)).ok().flatten();
        let group_id = match self.from.as_str() {
            "" | "me" => None,
            other => {
                let id = other.strip_prefix("group-").and_then(|n| n.parse::<i64>().ok());
                match id.filter(|id| groups.iter().any(|(g, _)| g == id)) {
                    Some(id) => Some(id),
                    None => {
                        errors.add("from", "Choose yourself or a group you are a contact for");
                        None
                    }
                }
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidItem {
            // A draft may not have a kind yet; it is stored as news until chosen.
            kind: kind.unwrap_or(ItemKind::News),
            title,
            description: self.description.clone(),
            link,
            closes_on,
            region,
            group_id,
        })
    }
}

/// Only web links people can follow: http or https, with a host.
pub fn parse_link(input: &str) -> Result<Option<String>, &'static str> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    let with_scheme = if input.contains("://") { input.to_string() } else { format!("https://{input}") };
    match url::Url::parse(&with_scheme) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| h.contains('.')) => {
            if with_scheme.len() > MAX_LINK {
                Err("The link must be 500 characters or fewer")
            } else {
                Ok(Some(with_scheme))
            }
        }
        _ => Err("Enter a web address, like https://example.org/page"),
    }
}

fn parse_closing_date(input: &str, today: Date, check: Check) -> Result<Option<String>, &'static str> {
    if input.trim().is_empty() {
        return Ok(None);
    }
    let date = parse_date(input).ok_or("Enter the closing date as a real date, like 27 3 2026")?;
    if check == Check::Send && date < today {
        return Err("The closing date has passed: leave it blank, or choose today or a later date");
    }
    Ok(Some(date.to_string()))
}

/// "Closes today", "Closes in 3 days", or None once it has closed (or has no closing date).
pub fn closing_note(closes_on: Option<&str>, today: Date) -> Option<String> {
    let date = parse_date(closes_on?)?;
    match days_between(today, date) {
        n if n < 0 => None,
        0 => Some("Closes today".into()),
        1 => Some("Closes tomorrow".into()),
        n => Some(format!("Closes in {n} days")),
    }
}

/// What the editorial team decided about a submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    RequestChange,
    Decline,
}

impl Decision {
    pub fn key(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::RequestChange => "request_change",
            Decision::Decline => "decline",
        }
    }

    pub fn parse(key: &str) -> Option<Decision> {
        [Decision::Accept, Decision::RequestChange, Decision::Decline].into_iter().find(|d| d.key() == key)
    }

    pub fn describe(key: &str) -> &'static str {
        match Decision::parse(key) {
            Some(Decision::Accept) => "Accepted",
            Some(Decision::RequestChange) => "Asked for a change",
            Some(Decision::Decline) => "Declined",
            None => "Decided",
        }
    }

    pub fn status(self) -> ItemStatus {
        match self {
            Decision::Accept => ItemStatus::Accepted,
            Decision::RequestChange => ItemStatus::ChangesRequested,
            Decision::Decline => ItemStatus::Declined,
        }
    }
}

/// A decision as typed on the item page.
#[derive(Clone, Debug, Default)]
pub struct DecisionInput {
    pub decision: String,
    /// To the sender (required to ask for a change or to decline).
    pub message: String,
    /// For the editorial record only: why, in the team's words.
    pub reasoning: String,
    pub guidelines: Vec<i64>,
    /// "next" or an issue id.
    pub issue: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ValidDecision {
    pub decision: Decision,
    pub message: String,
    pub reasoning: String,
    pub guidelines: Vec<i64>,
    /// For an acceptance: the chosen issue, or None for the next one.
    pub issue: Option<i64>,
}

impl DecisionInput {
    pub fn from_form(form: &FormData) -> DecisionInput {
        DecisionInput {
            decision: form.get("decision"),
            message: form.get("message"),
            reasoning: form.get("reasoning"),
            guidelines: form.all("guidelines").iter().filter_map(|g| g.parse().ok()).collect(),
            issue: form.get("issue"),
        }
    }

    pub fn validate(&self, draft_issues: &[i64]) -> Result<ValidDecision, FormErrors> {
        let mut errors = FormErrors::default();
        let decision = Decision::parse(&self.decision);
        match decision {
            None => errors.add("decision", "Choose accept, ask for a change, or decline"),
            Some(Decision::RequestChange) if self.message.is_empty() => {
                errors.add("message", "Say what needs to change: the sender will read this")
            }
            Some(Decision::Decline) if self.message.is_empty() => {
                errors.add("message", "Give the sender a reason: a kind, plain sentence or two is enough")
            }
            _ => {}
        }
        if self.message.chars().count() > MAX_MESSAGE {
            errors.add("message", format!("The message must be {MAX_MESSAGE} characters or fewer"));
        }
        if self.reasoning.chars().count() > MAX_MESSAGE {
            errors.add("reasoning", format!("The note must be {MAX_MESSAGE} characters or fewer"));
        }
        let issue = match self.issue.as_str() {
            "" | "next" => None,
            other => match other.parse::<i64>().ok().filter(|id| draft_issues.contains(id)) {
                Some(id) => Some(id),
                None => {
                    errors.add("issue", "Choose the next issue or one that has not been sent");
                    None
                }
            },
        };
        match decision {
            Some(decision) if errors.is_empty() => Ok(ValidDecision {
                decision,
                message: self.message.clone(),
                reasoning: self.reasoning.clone(),
                guidelines: self.guidelines.clone(),
                issue,
            }),
            _ => Err(errors),
        }
    }
}

/// Items of an issue grouped into sections in [`ItemKind::ALL`] order; empty sections left out.
pub fn sections<T>(items: Vec<T>, kind_of: impl Fn(&T) -> &str) -> Vec<(ItemKind, Vec<T>)> {
    let mut out: Vec<(ItemKind, Vec<T>)> = ItemKind::ALL.iter().map(|k| (*k, Vec::new())).collect();
    for item in items {
        let kind = ItemKind::parse(kind_of(&item)).unwrap_or(ItemKind::News);
        if let Some((_, list)) = out.iter_mut().find(|(k, _)| *k == kind) {
            list.push(item);
        }
    }
    out.retain(|(_, list)| !list.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        parse_date("2026-11-24").unwrap()
    }

    fn input() -> ItemInput {
        ItemInput {
            kind: "paid_work".into(),
            title: "  Peer  researcher ".into(),
            description: "Two days a month, paid.".into(),
            link: "example.org/jobs".into(),
            closes_on: "2026-12-01".into(),
            region: "wales".into(),
            from: "me".into(),
        }
    }

    #[test]
    fn a_complete_item_is_tidied_and_accepted() {
        let item = input().validate(Check::Send, today(), &[]).unwrap();
        assert_eq!(item.kind, ItemKind::PaidWork);
        assert_eq!(item.title, "Peer researcher");
        assert_eq!(item.link.as_deref(), Some("https://example.org/jobs"));
        assert_eq!(item.closes_on.as_deref(), Some("2026-12-01"));
        assert_eq!(item.region.as_deref(), Some("Wales"));
        assert_eq!(item.group_id, None);
    }

    #[test]
    fn sending_reports_every_missing_or_wrong_field_but_a_draft_keeps_what_it_can() {
        let empty = ItemInput::default();
        let errors = empty.validate(Check::Send, today(), &[]).unwrap_err();
        for f in ["kind", "title", "description"] {
            assert!(errors.get(f).is_some(), "{f}");
        }
        assert!(empty.validate(Check::Draft, today(), &[]).is_ok(), "an empty draft can be saved");
        let wrong = ItemInput {
            link: "javascript:alert(1)".into(),
            closes_on: "2026-11-01".into(),
            description: "x".repeat(MAX_DESCRIPTION + 1),
            from: "group-9".into(),
            ..input()
        };
        let errors = wrong.validate(Check::Send, today(), &[(3, "Walkers".into())]).unwrap_err();
        for f in ["link", "closes_on", "description", "from"] {
            assert!(errors.get(f).is_some(), "{f}");
        }
        assert!(errors.get("description").unwrap().contains("(it has 1201)"));
    }

    #[test]
    fn a_contact_may_send_for_their_group() {
        let item = ItemInput { from: "group-3".into(), ..input() };
        assert_eq!(item.validate(Check::Send, today(), &[(3, "Walkers".into())]).unwrap().group_id, Some(3));
    }

    #[test]
    fn closing_note_counts_down_and_disappears_once_closed() {
        assert_eq!(closing_note(Some("2026-11-24"), today()).as_deref(), Some("Closes today"));
        assert_eq!(closing_note(Some("2026-11-25"), today()).as_deref(), Some("Closes tomorrow"));
        assert_eq!(closing_note(Some("2026-12-01"), today()).as_deref(), Some("Closes in 7 days"));
        assert_eq!(closing_note(Some("2026-11-23"), today()), None);
        assert_eq!(closing_note(None, today()), None);
    }

    #[test]
    fn declining_or_asking_for_a_change_needs_a_message_for_the_sender() {
        let decline = DecisionInput { decision: "decline".into(), ..Default::default() };
        assert!(decline.validate(&[]).unwrap_err().get("message").is_some());
        let accept = DecisionInput { decision: "accept".into(), issue: "7".into(), ..Default::default() };
        assert_eq!(accept.validate(&[7]).unwrap().issue, Some(7));
        assert!(accept.validate(&[8]).unwrap_err().get("issue").is_some(), "a sent issue cannot be chosen");
        assert!(DecisionInput::default().validate(&[]).unwrap_err().get("decision").is_some());
    }

    #[test]
    fn sections_follow_the_kind_order_and_skip_empty_ones() {
        let got = sections(vec!["news", "event", "opportunity", "event"], |k| k);
        let kinds: Vec<_> = got.iter().map(|(k, items)| (k.section(), items.len())).collect();
        assert_eq!(kinds, vec![("Opportunities", 1), ("Events", 2), ("News", 1)]);
    }
}
