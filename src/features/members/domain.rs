//! Members: the rules for what a person tells us about themselves. No I/O here.
use crate::core::forms::{FormData, FormErrors};

/// The UK nations and English regions people can choose from.
pub const REGIONS: [&str; 12] = [
    "North East",
    "North West",
    "Yorkshire and the Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
    "Scotland",
    "Wales",
    "Northern Ireland",
];

/// Suggestions for self-described communities. Communities, never diagnoses.
pub const COMMUNITY_SUGGESTIONS: [&str; 10] = [
    "Peer support",
    "Young people",
    "Older people",
    "Racialised communities",
    "LGBTQIA+",
    "Disabled people",
    "Carers",
    "Neurodivergent people",
    "Refugees and people seeking asylum",
    "Rural communities",
];

pub const MAX_COMMUNITIES: usize = 8;
pub const MAX_NAME: usize = 80;
pub const MAX_COMMUNITY: usize = 60;

/// The version of the consent wording shown; stored beside each choice.
pub const CONSENT_WORDING_VERSION: &str = "2026-11";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Bulletin,
    Directory,
    Research,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::Bulletin, Purpose::Directory, Purpose::Research];

    pub fn key(self) -> &'static str {
        match self {
            Purpose::Bulletin => "bulletin",
            Purpose::Directory => "directory",
            Purpose::Research => "research",
        }
    }

    /// The exact wording shown beside the tick box (version [`CONSENT_WORDING_VERSION`]).
    pub fn wording(self) -> &'static str {
        match self {
            Purpose::Bulletin => "Send me the weekly bulletin by email. You can stop it from any bulletin with one click.",
            Purpose::Directory => "List me in the members' directory that other signed-in members can see (only what your profile visibility allows).",
            Purpose::Research => "Contact me about research or paid opportunities to share my experience. We never pass your details to anyone else.",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    Private,
    Members,
    Public,
}

impl Visibility {
    pub fn parse(s: &str) -> Option<Visibility> {
        match s {
            "private" => Some(Visibility::Private),
            "members" => Some(Visibility::Members),
            "public" => Some(Visibility::Public),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Members => "members",
            Visibility::Public => "public",
        }
    }
    /// Whether a profile with this visibility, belonging to member `owner`, may be seen by
    /// `viewer`: nobody signed in, or (their id, whether they are an active member, whether
    /// they are staff).
    pub fn lets_see(self, viewer: Option<(i64, bool, bool)>, owner: i64) -> bool {
        match (self, viewer) {
            (Visibility::Public, _) => true,
            (Visibility::Members, Some((_, active, _))) => active,
            (_, Some((id, _, staff))) => id == owner || staff,
            (_, None) => false,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Visibility::Private => "Private: only you and staff can see your profile",
            Visibility::Members => "Members only: signed-in members can see your profile",
            Visibility::Public => "Public: anyone can see your profile",
        }
    }
}

/// An email address checked by a real parser and kept lower-case, so one person is one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<EmailAddress, &'static str> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err("Enter your email address");
        }
        if trimmed.len() > 254 || trimmed.parse::<lettre::Address>().is_err() || !trimmed.contains('.') {
            return Err("Enter an email address in the correct format, like name@example.com");
        }
        Ok(EmailAddress(trimmed.to_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name or pseudonym: whatever the person wants to be called.
pub fn parse_display_name(input: &str) -> Result<String, String> {
    let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err("Enter a name or pseudonym".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("Name must be {MAX_NAME} characters or fewer"));
    }
    Ok(name)
}

pub fn parse_region(input: &str) -> Result<Option<String>, &'static str> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    REGIONS
        .iter()
        .find(|r| r.eq_ignore_ascii_case(input))
        .map(|r| Some(r.to_string()))
        .ok_or("Choose a region from the list, or leave it blank")
}

/// Communities from ticked suggestions plus a free-text line separated by commas or semicolons.
pub fn parse_communities(ticked: &[String], other: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for c in ticked.iter().map(String::as_str).chain(other.split([',', ';'])) {
        let c = c.split_whitespace().collect::<Vec<_>>().join(" ");
        if c.is_empty() || out.iter().any(|o| o.eq_ignore_ascii_case(&c)) {
            continue;
        }
        if c.chars().count() > MAX_COMMUNITY {
            return Err(format!("Each community must be {MAX_COMMUNITY} characters or fewer"));
        }
        out.push(c);
    }
    if out.len() > MAX_COMMUNITIES {
        return Err(format!("Choose up to {MAX_COMMUNITIES} communities"));
    }
    Ok(out)
}

pub fn join_communities(list: &[String]) -> Option<String> {
    (!list.is_empty()).then(|| list.join("; "))
}

pub fn split_communities(stored: Option<&str>) -> Vec<String> {
    stored.unwrap_or("").split("; ").filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// What an individual gives when joining, validated.
#[derive(Clone, Debug)]
pub struct NewMember {
    pub display_name: String,
    pub email: EmailAddress,
    pub region: Option<String>,
    pub communities: Vec<String>,
    pub consents: Vec<(Purpose, bool)>,
}

/// The join form as typed, kept so the page can show it again beside any errors.
#[derive(Clone, Debug, Default)]
pub struct JoinInput {
    pub display_name: String,
    pub email: String,
    pub region: String,
    pub communities: Vec<String>,
    pub communities_other: String,
    pub consents: Vec<String>,
}

impl JoinInput {
    pub fn from_form(form: &FormData) -> JoinInput {
        JoinInput {
            display_name: form.get("display_name"),
            email: form.get("email"),
            region: form.get("region"),
            communities: form.all("communities"),
            communities_other: form.get("communities_other"),
            consents: form.all("consents"),
        }
    }

    pub fn validate(&self) -> Result<NewMember, FormErrors> {
        let mut errors = FormErrors::default();
        let name = parse_display_name(&self.display_name).map_err(|e| errors.add("display_name", e)).ok();
        let email = EmailAddress::parse(&self.email).map_err(|e| errors.add("email", e)).ok();
        let region = parse_region(&self.region).map_err(|e| errors.add("region", e)).ok();
        let communities = parse_communities(&self.communities, &self.communities_other)
            .map_err(|e| errors.add("communities_other", e))
            .ok();
        match (name, email, region, communities) {
            (Some(display_name), Some(email), Some(region), Some(communities)) if errors.is_empty() => Ok(NewMember {
                display_name,
                email,
                region,
                communities,
                consents: Purpose::ALL.iter().map(|p| (*p, self.consents.iter().any(|c| c == p.key()))).collect(),
            }),
            _ => Err(errors),
        }
    }

    pub fn has_community(&self, c: &&str) -> bool {
        self.communities.iter().any(|x| x == c)
    }

    pub fn has_consent(&self, p: &Purpose) -> bool {
        self.consents.iter().any(|c| c == p.key())
    }
}

/// Marks a whole email address among the search terms. Words never start with it, so the
/// terms a typed word starts ("amara" → amara, amaranth) stay few even when most addresses
/// begin with a name, and a typed address still finds its own term by prefix.
const EMAIL_TERM_MARK: char = '@';

/// Words a member can be found by in the staff directory: name, email, region, communities,
/// and the names of groups they are a contact for. Matched by prefix.
pub fn search_terms(parts: &[&str]) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for part in parts {
        let lower = part.to_lowercase();
        if lower.contains('@') {
            terms.push(format!("{EMAIL_TERM_MARK}{lower}"));
        }
        for word in lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            terms.push(word.chars().take(40).collect());
        }
    }
    terms.sort();
    terms.dedup();
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased_and_malformed_addresses_are_refused() {
        assert_eq!(EmailAddress::parse(" Sam@Example.ORG ").unwrap().as_str(), "sam@example.org");
        assert!(EmailAddress::parse("").is_err());
        assert!(EmailAddress::parse("not an email").is_err());
        assert!(EmailAddress::parse("a@b").is_err());
    }

    #[test]
    fn communities_merge_ticks_and_free_text_without_duplicates() {
        let got = parse_communities(&["Carers".into()], "carers; Hearing voices network, , Young people").unwrap();
        assert_eq!(got, vec!["Carers", "Hearing voices network", "Young people"]);
        assert!(parse_communities(&[], &"x".repeat(61)).is_err());
    }

    #[test]
    fn join_reports_every_problem_at_once() {
        let input = JoinInput { email: "nope".into(), region: "Atlantis".into(), ..Default::default() };
        let errors = input.validate().unwrap_err();
        assert!(errors.get("display_name").is_some());
        assert!(errors.get("email").is_some());
        assert!(errors.get("region").is_some());
    }

    #[test]
    fn join_keeps_only_ticked_consents() {
        let input = JoinInput {
            display_name: "  River   B ".into(),
            email: "river@example.org".into(),
            consents: vec!["bulletin".into()],
            ..Default::default()
        };
        let member = input.validate().unwrap();
        assert_eq!(member.display_name, "River B");
        assert_eq!(
            member.consents,
            vec![(Purpose::Bulletin, true), (Purpose::Directory, false), (Purpose::Research, false)]
        );
    }

    #[test]
    fn search_terms_cover_words_and_whole_email() {
        let terms = search_terms(&["Jo Bloggs", "Jo.B@Example.org", "Peer support"]);
        for t in ["jo", "bloggs", "@jo.b@example.org", "example", "peer", "support"] {
            assert!(terms.contains(&t.to_string()), "{t}");
        }
    }

    #[test]
    fn a_whole_address_is_not_among_the_terms_its_first_word_starts() {
        let terms = search_terms(&["amara.jones@example.org"]);
        assert!(terms.iter().filter(|t| t.starts_with("amara")).eq(["amara"].iter()), "{terms:?}");
        // A typed address (or its start) becomes the same marked term, so prefixes still meet.
        assert!(search_terms(&["Amara.Jones@Ex"]).contains(&"@amara.jones@ex".to_string()));
    }
}
