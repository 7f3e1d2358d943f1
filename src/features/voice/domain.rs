//! Letters, signatures and support requests as values that are valid once built; no I/O here.
use crate::{
    core::forms::{FormData, FormErrors},
    features::members::domain::EmailAddress,
};

fn too_long(text: &str, max: usize) -> bool {
    text.chars().count() > max
}

fn optional(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// Where a letter is in its life. Only an open letter takes signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LetterStatus {
    Draft,
    Open,
    Closed,
    Delivered,
}

impl LetterStatus {
    pub const ALL: [LetterStatus; 4] =
        [LetterStatus::Draft, LetterStatus::Open, LetterStatus::Closed, LetterStatus::Delivered];

    pub fn key(self) -> &'static str {
        match self {
            LetterStatus::Draft => "draft",
            LetterStatus::Open => "open",
            LetterStatus::Closed => "closed",
            LetterStatus::Delivered => "delivered",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LetterStatus::Draft => "Draft (not public)",
            LetterStatus::Open => "Open for signatures",
            LetterStatus::Closed => "Closed",
            LetterStatus::Delivered => "Delivered",
        }
    }

    pub fn parse(key: &str) -> Option<LetterStatus> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// A letter as staff write it.
#[derive(Debug, Default, Clone)]
pub struct LetterInput {
    pub kind: String,
    pub title: String,
    pub body: String,
    pub addressee: String,
    pub goal: String,
    pub published_with: String,
    pub status: String,
    pub closes_on: String,
}

pub struct ValidLetter {
    pub kind: &'static str,
    pub title: String,
    pub body: String,
    pub addressee: String,
    pub goal: Option<i64>,
    pub published_with: String,
    pub status: LetterStatus,
    pub closes_on: Option<String>,
}

impl LetterInput {
    pub fn from_form(form: &FormData) -> LetterInput {
        LetterInput {
            kind: form.get("kind"),
            title: form.get("title"),
            body: form.get("body"),
            addressee: form.get("addressee"),
            goal: form.get("goal"),
            published_with: form.get("published_with"),
            status: form.get("status"),
            closes_on: form.get("closes_on"),
        }
    }

    pub fn validate(&self) -> Result<ValidLetter, FormErrors> {
        let mut errors = FormErrors::default();
        let kind = match self.kind.as_str() {
            "letter" => "letter",
            "petition" => "petition",
            _ => {
                errors.add("kind", "Choose whether this is an open letter or a petition");
                "letter"
            }
        };
        if self.title.is_empty() || too_long(&self.title, 150) {
            errors.add("title", "Enter a title of up to 150 characters");
        }
        if self.body.is_empty() || too_long(&self.body, 20_000) {
            errors.add("body", "Enter the text of the letter (up to 20,000 characters)");
        }
        if self.addressee.is_empty() || too_long(&self.addressee, 200) {
            errors.add(
                "addressee",
                "Say whom the letter is to, or what the petition asks of whom (up to 200 characters)",
            );
        }
        let goal = match self.goal.replace(',', "").parse::<i64>() {
            _ if self.goal.is_empty() => None,
            Ok(n) if (1..=10_000_000).contains(&n) => Some(n),
            _ => {
                errors.add("goal", "Enter the goal as a whole number of signatures, or leave it empty");
                None
            }
        };
        if self.published_with.is_empty() || too_long(&self.published_with, 200) {
            errors.add("published_with", "Enter the member or group it is published with (up to 200 characters)");
        }
        let status = LetterStatus::parse(&self.status).unwrap_or_else(|| {
            errors.add("status", "Choose a status");
            LetterStatus::Draft
        });
        let closes_on = match crate::core::time::parse_date(&self.closes_on) {
            _ if self.closes_on.is_empty() => None,
            Some(d) => Some(d.to_string()),
            None => {
                errors.add("closes_on", "Enter the closing date as a real date, like 31 12 2026, or leave it empty");
                None
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidLetter {
            kind,
            title: self.title.clone(),
            body: self.body.clone(),
            addressee: self.addressee.clone(),
            goal,
            published_with: self.published_with.clone(),
            status,
            closes_on,
        })
    }
}

/// How a signer chose to appear on the public page and in the delivered list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    Full,
    Initials,
    Hidden,
}

impl Display {
    pub fn key(self) -> &'static str {
        match self {
            Display::Full => "full",
            Display::Initials => "initials",
            Display::Hidden => "hidden",
        }
    }

    pub fn parse(key: &str) -> Option<Display> {
        [Display::Full, Display::Initials, Display::Hidden].into_iter().find(|d| d.key() == key)
    }

    pub const OPTIONS: [(&'static str, &'static str); 3] = [
        ("full", "My full name, with my organisation, role, town and comment if I gave them"),
        ("initials", "My initials only"),
        ("hidden", "Do not show my name: count my signature only"),
    ];
}

/// "Alex Rivera-Jones" → "A. R.": the first letter of each word.
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{}.", c.to_uppercase()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the public, and whoever receives the letter, may see of one signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownSigner {
    pub name: String,
    pub organisation: String,
    pub role: String,
    pub place: String,
    pub comment: String,
}

impl ShownSigner {
    /// None for someone who chose not to be named (they are counted only).
    #[allow(clippy::too_many_arguments)]
    pub fn of(
        display: &str,
        name: &str,
        organisation: Option<String>,
        role: Option<String>,
        place: Option<String>,
        comment: Option<String>,
    ) -> Option<ShownSigner> {
        match Display::parse(display)? {
            Display::Hidden => None,
            Display::Initials => Some(ShownSigner {
                name: initials(name),
                organisation: String::new(),
                role: String::new(),
                place: String::new(),
                comment: String::new(),
            }),
            Display::Full => Some(ShownSigner {
                name: name.to_string(),
                organisation: organisation.unwrap_or_default(),
                role: role.unwrap_or_default(),
                place: place.unwrap_or_default(),
                comment: comment.unwrap_or_default(),
            }),
        }
    }
}

/// A signature as typed on the public form.
#[derive(Debug, Default, Clone)]
pub struct SignatureInput {
    pub name: String,
    pub email: String,
    pub organisation: String,
    pub role: String,
    pub place: String,
    pub comment: String,
    pub display: String,
    pub wants_updates: bool,
}

#[derive(Debug, Clone)]
pub struct NewSignature {
    pub name: String,
    pub email: EmailAddress,
    pub organisation: Option<String>,
    pub role: Option<String>,
    pub place: Option<String>,
    pub comment: Option<String>,
    pub display: Display,
    pub wants_updates: bool,
}

impl SignatureInput {
    pub fn from_form(form: &FormData) -> SignatureInput {
        SignatureInput {
            name: form.get("name"),
            email: form.get("email"),
            organisation: form.get("organisation"),
            role: form.get("role"),
            place: form.get("place"),
            comment: form.get("comment"),
            display: form.get("display"),
            wants_updates: form.checked("updates"),
        }
    }

    pub fn validate(&self) -> Result<NewSignature, FormErrors> {
        let mut errors = FormErrors::default();
        if self.name.is_empty() || too_long(&self.name, 100) {
            errors.add("name", "Enter your name (up to 100 characters)");
        }
        let email = EmailAddress::parse(&self.email).map_err(|e| errors.add("email", e)).ok();
        for (field, value, max, label) in [
            ("organisation", &self.organisation, 150, "Organisation"),
            ("role", &self.role, 100, "Role"),
            ("place", &self.place, 100, "Town or region"),
            ("comment", &self.comment, 500, "Comment"),
        ] {
            if too_long(value, max) {
                errors.add(field, format!("{label} must be {max} characters or fewer"));
            }
        }
        let display = Display::parse(&self.display);
        if display.is_none() {
            errors.add("display", "Choose how your name is shown");
        }
        match (email, display) {
            (Some(email), Some(display)) if errors.is_empty() => Ok(NewSignature {
                name: self.name.clone(),
                email,
                organisation: optional(self.organisation.clone()),
                role: optional(self.role.clone()),
                place: optional(self.place.clone()),
                comment: optional(self.comment.clone()),
                display,
                wants_updates: self.wants_updates,
            }),
            _ => Err(errors),
        }
    }
}

/// How far a petition is towards its goal, in whole percent (capped at 100, for the bar).
pub fn progress_percent(count: i64, goal: i64) -> i64 {
    if goal <= 0 {
        return 0;
    }
    (count.saturating_mul(100) / goal).clamp(0, 100)
}

/// What a member or group can ask the network for.
pub const ASKS: [(&str, &str); 6] = [
    ("amplify", "Amplify it in the bulletin"),
    ("cosign", "Co-sign something"),
    ("letter", "Host an open letter or petition"),
    ("funding", "Small funding"),
    ("advice", "Advice"),
    ("other", "Something else"),
];

pub fn ask_label(key: &str) -> &'static str {
    ASKS.iter().find(|(k, _)| *k == key).map(|(_, l)| *l).unwrap_or("Something else")
}

/// Triage statuses of a request.
pub const SUPPORT_STATUSES: [(&str, &str); 5] = [
    ("new", "New"),
    ("considering", "Considering"),
    ("taking_on", "Taking on"),
    ("cant_now", "Can't take on now"),
    ("done", "Done"),
];

pub fn status_label(key: &str) -> &'static str {
    SUPPORT_STATUSES.iter().find(|(k, _)| *k == key).map(|(_, l)| *l).unwrap_or("New")
}

/// The network's decision matrix for taking on work (from its own guidance).
pub const QUESTIONS: [&str; 4] = [
    "Is the work ethical?",
    "Is there scope to meaningfully influence, or to effect change for members?",
    "Where people would share experiences with significant emotional investment, is the likelihood of being heard proportionate?",
    "Is another organisation better placed to do this work?",
];

pub const ANSWERS: [(&str, &str); 3] = [("yes", "Yes"), ("no", "No"), ("unsure", "Unsure")];

/// A request as the member types it.
#[derive(Debug, Default, Clone)]
pub struct RequestInput {
    pub title: String,
    pub description: String,
    pub asks: Vec<String>,
    pub ask_other: String,
    pub deadline: String,
    pub from: String,
}

#[derive(Debug)]
pub struct ValidRequest {
    pub title: String,
    pub description: String,
    pub asks: String,
    pub ask_other: Option<String>,
    pub deadline: Option<String>,
    /// None: the member themself; Some(group) on behalf of a group they are a contact of.
    pub group_id: Option<i64>,
}

impl RequestInput {
    pub fn from_form(form: &FormData) -> RequestInput {
        RequestInput {
            title: form.get("title"),
            description: form.get("description"),
            asks: form.all("asks"),
            ask_other: form.get("ask_other"),
            deadline: form.get("deadline"),
            from: form.get("from"),
        }
    }

    pub fn has_ask(&self, key: &&str) -> bool {
        self.asks.iter().any(|a| a == key)
    }

    /// `alert` forms ask for nothing; `groups` are the groups the member may speak for.
    pub fn validate(&self, alert: bool, groups: &[(i64, String)]) -> Result<ValidRequest, FormErrors> {
        let mut errors = FormErrors::default();
        if self.title.is_empty() || too_long(&self.title, 150) {
            errors.add("title", "Give it a short title (up to 150 characters)");
        }
        if self.description.is_empty() || too_long(&self.description, 5_000) {
            errors.add("description", "Describe the campaign or policy issue (up to 5,000 characters)");
        }
        let asks: Vec<&str> = ASKS.iter().map(|(k, _)| *k).filter(|k| self.has_ask(k)).collect();
        if !alert && asks.is_empty() {
            errors.add("asks", "Choose at least one thing you are asking for");
        }
        if asks.contains(&"other") && (self.ask_other.is_empty() || too_long(&self.ask_other, 300)) {
            errors.add("ask_other", "Say what else you are asking for (up to 300 characters)");
        }
        let deadline = match crate::core::time::parse_date(&self.deadline) {
            _ if self.deadline.is_empty() => None,
            Some(d) => Some(d.to_string()),
            None => {
                errors.add("deadline", "Enter the deadline as a real date, like 31 12 2026, or leave it empty");
                None
            }
        };
        let group_id = match self.from.as_str() {
            "" | "me" => None,
            id => match id.parse::<i64>().ok().filter(|id| groups.iter().any(|(g, _)| g == id)) {
                Some(g) => Some(g),
                None => {
                    errors.add("from", "Choose yourself or a group you are a contact for");
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidRequest {
            title: self.title.clone(),
            description: self.description.clone(),
            asks: asks.join(","),
            ask_other: asks.contains(&"other").then(|| self.ask_other.clone()),
            deadline,
            group_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_take_the_first_letter_of_each_word() {
        assert_eq!(initials("alex  Rivera-Jones"), "A. R.");
        assert_eq!(initials("Émile"), "É.");
        assert_eq!(initials(""), "");
    }

    #[test]
    fn display_choices_decide_what_is_shown() {
        let full = ShownSigner::of("full", "Sam Lee", Some("Org".into()), None, Some("Leeds".into()), None).unwrap();
        assert_eq!(full.name, "Sam Lee");
        assert_eq!(full.place, "Leeds");
        let initials = ShownSigner::of("initials", "Sam Lee", Some("Org".into()), None, None, None).unwrap();
        assert_eq!((initials.name.as_str(), initials.organisation.as_str()), ("S. L.", ""));
        assert!(ShownSigner::of("hidden", "Sam Lee", None, None, None, None).is_none());
    }

    #[test]
    fn a_signature_needs_a_name_an_email_and_a_display_choice() {
        let errors = SignatureInput::default().validate().unwrap_err();
        assert!(errors.get("name").is_some() && errors.get("email").is_some() && errors.get("display").is_some());
        let ok = SignatureInput {
            name: "Sam".into(),
            email: "Sam@Example.org".into(),
            display: "initials".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(ok.display, Display::Initials);
    }

    #[test]
    fn progress_is_capped_and_safe() {
        assert_eq!(progress_percent(50, 200), 25);
        assert_eq!(progress_percent(500, 200), 100);
        assert_eq!(progress_percent(5, 0), 0);
        assert_eq!(progress_percent(i64::MAX, 3), 100);
    }

    #[test]
    fn a_request_names_what_it_asks_for_and_only_groups_the_member_may_speak_for() {
        let input = RequestInput {
            title: "Cuts".into(),
            description: "Day services closing".into(),
            asks: vec!["amplify".into(), "bogus".into()],
            from: "7".into(),
            ..Default::default()
        };
        assert!(input.validate(false, &[]).unwrap_err().get("from").is_some());
        let ok = input.validate(false, &[(7, "Group".into())]).unwrap();
        assert_eq!((ok.asks.as_str(), ok.group_id), ("amplify", Some(7)));
        let alert = RequestInput { asks: vec![], from: "me".into(), ..input };
        assert!(alert.validate(false, &[]).unwrap_err().get("asks").is_some());
        assert!(alert.validate(true, &[]).is_ok());
    }
}
