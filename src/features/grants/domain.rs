//! Grants' rules, with no I/O: money typed as pounds, funds, rounds, the short application
//! form and its eligibility checks, decisions, Gift Aid, and small-number suppression.
use jiff::civil::Date;

use crate::core::{
    disclosure::{Figure, HIDDEN_TEXT},
    forms::{FormData, FormErrors},
    time::parse_date,
};

/// The most any single figure may be: £10 million, far past any grant here, and small enough
/// that sums of many never overflow.
pub const MAX_PENCE: i64 = 1_000_000_000;

/// Pounds as typed ("£1,250", "1250.50") into pence.
pub fn parse_pounds(input: &str) -> Result<i64, &'static str> {
    let cleaned: String = input.trim().trim_start_matches('£').chars().filter(|c| *c != ',' && *c != ' ').collect();
    if cleaned.is_empty() {
        return Err("Enter an amount in pounds, like 250 or 250.50");
    }
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.len() > 2 || !(fraction.is_empty() || digits(fraction)) {
        return Err("Enter an amount in pounds, like 250 or 250.50");
    }
    let pounds: i64 = whole.parse().map_err(|_| "Enter an amount in pounds, like 250 or 250.50")?;
    let pence: i64 = format!("{fraction:0<2}").parse().unwrap_or(0);
    let total = pounds * 100 + pence;
    if total > MAX_PENCE {
        return Err("That amount is larger than we can record");
    }
    Ok(total)
}

/// Pence as people read it: "£1,250" or "£1,250.50". (Takes a reference too: templates pass one.)
pub fn pounds(pence: impl std::borrow::Borrow<i64>) -> String {
    let pence = *pence.borrow();
    let sign = if pence < 0 { "-" } else { "" };
    let p = pence.unsigned_abs();
    let whole = (p / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match p % 100 {
        0 => format!("{sign}£{grouped}"),
        f => format!("{sign}£{grouped}.{f:02}"),
    }
}

/// Pence as a plain decimal for CSV and open data: "1250.50".
pub fn decimal(pence: i64) -> String {
    format!("{}.{:02}", pence / 100, pence.rem_euclid(100))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplicantType {
    Individuals,
    Groups,
    Both,
}

impl ApplicantType {
    pub const OPTIONS: [(&'static str, &'static str); 3] = [
        ("both", "Individual members and groups"),
        ("individuals", "Individual members only"),
        ("groups", "Groups only (through a contact member)"),
    ];

    pub fn parse(s: &str) -> Option<ApplicantType> {
        match s {
            "individuals" => Some(ApplicantType::Individuals),
            "groups" => Some(ApplicantType::Groups),
            "both" => Some(ApplicantType::Both),
            _ => None,
        }
    }

    /// The stored value, as `parse` reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicantType::Individuals => "individuals",
            ApplicantType::Groups => "groups",
            ApplicantType::Both => "both",
        }
    }

    pub fn label(s: &str) -> &'static str {
        Self::OPTIONS.iter().find(|(v, _)| *v == s).map_or("", |(_, l)| *l)
    }

    pub fn allows(self, as_group: bool) -> bool {
        match self {
            ApplicantType::Both => true,
            ApplicantType::Individuals => !as_group,
            ApplicantType::Groups => as_group,
        }
    }
}

fn required(form: &FormData, errors: &mut FormErrors, field: &str, message: &str, max: usize) -> String {
    let value = form.get(field);
    if value.is_empty() {
        errors.add(field, message);
    } else if value.chars().count() > max {
        errors.add(field, format!("Keep this to {max} characters or fewer"));
    }
    value
}

fn optional_pounds(form: &FormData, errors: &mut FormErrors, field: &str) -> Option<i64> {
    let raw = form.get(field);
    if raw.is_empty() {
        return None;
    }
    parse_pounds(&raw).map_err(|e| errors.add(field, e)).ok()
}

/// Regrant types of the 360Giving codelist the network may use when it gives as a fiscal sponsor.
pub const REGRANT_TYPES: [(&str, &str); 3] =
    [("", "Not a regrant"), ("FRG010", "Common regrant (FRG010)"), ("FRG040", "Fiscal sponsorship (FRG040)")];

#[derive(Debug, Clone)]
pub struct ValidFund {
    pub name: String,
    pub purpose: String,
    pub budget_pence: i64,
    pub restricted: bool,
    pub applicant_type: ApplicantType,
    pub cap_pence: Option<i64>,
    pub donations_only: bool,
    pub regrant_type: Option<String>,
    /// (title, plain description), in the order published.
    pub criteria: Vec<(String, String)>,
}

/// Criteria typed one a line as "Title: what it means".
pub fn parse_criteria(text: &str) -> Result<Vec<(String, String)>, &'static str> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (title, description) =
            line.split_once(':').ok_or("Write each criterion as a title, a colon, then what it means")?;
        let (title, description) = (title.trim(), description.trim());
        if title.is_empty() || description.is_empty() || title.len() > 120 || description.len() > 500 {
            return Err("Write each criterion as a short title, a colon, then what it means");
        }
        out.push((title.to_string(), description.to_string()));
    }
    if out.is_empty() || out.len() > 8 {
        return Err("Give between one and eight criteria, one a line");
    }
    Ok(out)
}

pub fn validate_fund(form: &FormData) -> Result<ValidFund, FormErrors> {
    let mut errors = FormErrors::default();
    let name = required(form, &mut errors, "name", "Enter the fund's name", 120);
    let purpose = required(form, &mut errors, "purpose", "Say what the fund is for", 2000);
    let donations_only = form.checked("donations_only");
    let budget_pence = if donations_only && form.get("budget").is_empty() {
        0
    } else {
        parse_pounds(&form.get("budget")).map_err(|e| errors.add("budget", e)).unwrap_or(0)
    };
    let applicant_type = ApplicantType::parse(&form.get("applicant_type"));
    if applicant_type.is_none() {
        errors.add("applicant_type", "Choose who may apply");
    }
    let cap_pence = optional_pounds(form, &mut errors, "cap");
    if cap_pence == Some(0) {
        errors.add("cap", "A cap must be more than £0, or leave it blank");
    }
    let regrant = form.get("regrant_type");
    if !REGRANT_TYPES.iter().any(|(v, _)| *v == regrant) {
        errors.add("regrant_type", "Choose a regrant type from the list");
    }
    let criteria = parse_criteria(&form.get("criteria")).map_err(|e| errors.add("criteria", e)).unwrap_or_default();
    match applicant_type {
        Some(applicant_type) if errors.is_empty() => Ok(ValidFund {
            name,
            purpose,
            budget_pence,
            restricted: form.get("restricted") == "yes",
            applicant_type,
            cap_pence,
            donations_only,
            regrant_type: (!regrant.is_empty()).then_some(regrant),
            criteria,
        }),
        _ => Err(errors),
    }
}

#[derive(Debug, Clone)]
pub struct ValidRound {
    pub title: String,
    pub opens_on: Option<String>,
    pub closes_on: Option<String>,
    pub rolling: bool,
    pub budget_pence: i64,
    pub who_decides: String,
    pub help: String,
}

pub fn validate_round(form: &FormData) -> Result<ValidRound, FormErrors> {
    let mut errors = FormErrors::default();
    let title = required(form, &mut errors, "title", "Enter the round's title", 120);
    let rolling = form.get("timing") == "rolling";
    if !rolling && form.get("timing") != "dates" {
        errors.add("timing", "Choose whether the round has dates or is rolling");
    }
    let date = |errors: &mut FormErrors, field: &str| -> Option<String> {
        let raw = form.get(field);
        match parse_date(&raw) {
            Some(d) => Some(d.to_string()),
            None if raw.is_empty() && rolling => None,
            None => {
                errors.add(field, "Enter a real date, like 27 3 2026");
                None
            }
        }
    };
    let opens_on = date(&mut errors, "opens_on");
    let closes_on = date(&mut errors, "closes_on");
    if let (Some(o), Some(c)) = (&opens_on, &closes_on) {
        if c < o {
            errors.add("closes_on", "The closing date must be on or after the opening date");
        }
    }
    let budget_pence = parse_pounds(&form.get("budget")).map_err(|e| errors.add("budget", e)).unwrap_or(0);
    let who_decides = required(form, &mut errors, "who_decides", "Say who decides", 1000);
    let help = required(form, &mut errors, "help", "Say how people can get help applying", 1000);
    if errors.is_empty() {
        Ok(ValidRound { title, opens_on, closes_on, rolling, budget_pence, who_decides, help })
    } else {
        Err(errors)
    }
}

/// Whether a round takes applications on `today`.
pub fn round_open(
    published: bool,
    decided: bool,
    opens_on: Option<&str>,
    closes_on: Option<&str>,
    today: Date,
) -> bool {
    let on_or_after = |d: Option<&str>| d.and_then(parse_date).is_none_or(|d| today >= d);
    let on_or_before = |d: Option<&str>| d.and_then(parse_date).is_none_or(|d| today <= d);
    published && !decided && on_or_after(opens_on) && on_or_before(closes_on)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuestionKind {
    Short,
    Long,
    Amount,
    Choice,
    YesNo,
}

impl QuestionKind {
    pub const OPTIONS: [(&'static str, &'static str); 5] = [
        ("short", "Short text"),
        ("long", "Long text, with a word limit"),
        ("amount", "Amount in pounds"),
        ("choice", "Choose one of a list"),
        ("yesno", "Yes or no"),
    ];

    pub fn parse(s: &str) -> Option<QuestionKind> {
        Some(match s {
            "short" => QuestionKind::Short,
            "long" => QuestionKind::Long,
            "amount" => QuestionKind::Amount,
            "choice" => QuestionKind::Choice,
            "yesno" => QuestionKind::YesNo,
            _ => return None,
        })
    }
}

/// One question of a round's form, as stored.
#[derive(Clone, Debug)]
pub struct Question {
    pub id: i64,
    pub kind: String,
    pub label: String,
    pub hint: String,
    pub word_limit: Option<i64>,
    pub options: String,
    pub required: bool,
}

impl Question {
    pub fn field(&self) -> String {
        format!("q{}", self.id)
    }

    pub fn choices(&self) -> Vec<(String, String)> {
        match QuestionKind::parse(&self.kind) {
            Some(QuestionKind::YesNo) => vec![("yes".into(), "Yes".into()), ("no".into(), "No".into())],
            _ => self.options.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| (l.into(), l.into())).collect(),
        }
    }
}

/// A new question: (kind, label, hint, word limit, options).
pub struct NewQuestion {
    pub kind: QuestionKind,
    pub label: String,
    pub hint: String,
    pub word_limit: Option<i64>,
    pub options: String,
    pub required: bool,
}

impl QuestionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::Short => "short",
            QuestionKind::Long => "long",
            QuestionKind::Amount => "amount",
            QuestionKind::Choice => "choice",
            QuestionKind::YesNo => "yesno",
        }
    }
}

/// The form a new round starts with: four questions, kept short by design.
pub fn default_questions() -> Vec<NewQuestion> {
    let q = |kind, label: &str, hint: &str, word_limit| NewQuestion {
        kind,
        label: label.into(),
        hint: hint.into(),
        word_limit,
        options: String::new(),
        required: true,
    };
    vec![
        q(
            QuestionKind::Short,
            "In a sentence, what is the money for?",
            "For example: room hire for our weekly peer support group.",
            None,
        ),
        q(
            QuestionKind::Long,
            "What will you do, and who will it help?",
            "Plain words are best. You can also tell us by phone.",
            Some(200),
        ),
        q(QuestionKind::Amount, "How much are you asking for?", "In pounds.", None),
        q(QuestionKind::YesNo, "Are the people who run this led by their own lived experience?", "", None),
    ]
}

pub fn validate_question(form: &FormData) -> Result<NewQuestion, FormErrors> {
    let mut errors = FormErrors::default();
    let kind = QuestionKind::parse(&form.get("kind"));
    if kind.is_none() {
        errors.add("kind", "Choose what kind of answer the question takes");
    }
    let label = required(form, &mut errors, "label", "Enter the question", 300);
    let hint = form.get("hint");
    if hint.chars().count() > 500 {
        errors.add("hint", "Keep the hint to 500 characters or fewer");
    }
    let word_limit = match (kind, form.get("word_limit").as_str()) {
        (Some(QuestionKind::Long), raw) => match raw.parse::<i64>() {
            Ok(n) if (10..=2000).contains(&n) => Some(n),
            _ => {
                errors.add("word_limit", "Give a word limit between 10 and 2000");
                None
            }
        },
        _ => None,
    };
    let options = form.get("options");
    if kind == Some(QuestionKind::Choice) && options.lines().filter(|l| !l.trim().is_empty()).count() < 2 {
        errors.add("options", "Give at least two choices, one a line");
    }
    match kind {
        Some(kind) if errors.is_empty() => {
            Ok(NewQuestion { kind, label, hint, word_limit, options, required: form.checked("required") })
        }
        _ => Err(errors),
    }
}

pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Answers to a round's questions as typed. A draft keeps anything (so nothing is lost); a
/// submission must answer every required question within its limits.
#[derive(Debug, Default, Clone)]
pub struct Answers {
    pub values: Vec<(i64, String)>,
    /// The answer to the first amount question, in pence: what is asked for.
    pub amount_pence: Option<i64>,
}

pub const MAX_ANSWER: usize = 20_000;

pub fn read_answers(questions: &[Question], form: &FormData, submitting: bool) -> Result<Answers, FormErrors> {
    let mut errors = FormErrors::default();
    let mut answers = Answers::default();
    for q in questions {
        let field = q.field();
        let value = form.get(&field);
        if value.chars().count() > MAX_ANSWER {
            errors.add(&field, "This answer is too long to save");
            continue;
        }
        let kind = QuestionKind::parse(&q.kind);
        if kind == Some(QuestionKind::Amount) && !value.is_empty() {
            match parse_pounds(&value) {
                Ok(p) if answers.amount_pence.is_none() => answers.amount_pence = Some(p),
                Ok(_) => {}
                Err(e) if submitting => errors.add(&field, e),
                Err(_) => {}
            }
        }
        if submitting {
            if value.is_empty() && q.required {
                errors.add(&field, format!("Answer: {}", q.label));
            }
            if let Some(limit) = q.word_limit {
                let n = word_count(&value);
                if n as i64 > limit {
                    errors.add(&field, format!("Use {limit} words or fewer (you have {n})"));
                }
            }
            if matches!(kind, Some(QuestionKind::Choice | QuestionKind::YesNo))
                && !value.is_empty()
                && !q.choices().iter().any(|(v, _)| *v == value)
            {
                errors.add(&field, "Choose one of the options");
            }
        }
        answers.values.push((q.id, value));
    }
    if errors.is_empty() {
        Ok(answers)
    } else {
        Err(errors)
    }
}

/// Why an application cannot go in, in words for the applicant. Empty: eligible.
pub struct EligibilityFacts<'a> {
    pub member_active: bool,
    pub applicant_type: ApplicantType,
    pub as_group: bool,
    pub amount_pence: Option<i64>,
    pub cap_pence: Option<i64>,
    pub round_open: bool,
    pub fund_name: &'a str,
}

pub fn eligibility(f: &EligibilityFacts) -> Vec<String> {
    let mut reasons = Vec::new();
    if !f.member_active {
        reasons
            .push("Only members can apply. Your membership needs to be active first: the staff team can help.".into());
    }
    if !f.round_open {
        reasons.push("This round is not taking applications at the moment. The round page shows when it opens.".into());
    }
    if !f.applicant_type.allows(f.as_group) {
        reasons.push(match f.applicant_type {
            ApplicantType::Groups => format!("{} is for groups. Apply as a group you are a contact for.", f.fund_name),
            _ => format!("{} is for individual members. Apply for yourself rather than a group.", f.fund_name),
        });
    }
    match (f.amount_pence, f.cap_pence) {
        (None | Some(0), _) => reasons.push("Say how much you are asking for.".into()),
        (Some(a), Some(cap)) if a > cap => {
            reasons.push(format!("You asked for {}; this fund gives up to {} for each award.", pounds(a), pounds(cap)))
        }
        _ => {}
    }
    reasons
}

/// How panel members score each criterion: a small scale, with a note.
pub const SCALE: [(i64, &str); 4] = [(0, "0 – not shown"), (1, "1 – partly"), (2, "2 – clearly"), (3, "3 – strongly")];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Award,
    AwardDifferent,
    Decline,
}

impl Outcome {
    pub const OPTIONS: [(&'static str, &'static str); 3] = [
        ("award", "Award what they asked for"),
        ("award_different", "Award a different amount"),
        ("decline", "Decline"),
    ];

    pub fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "award" => Outcome::Award,
            "award_different" => Outcome::AwardDifferent,
            "decline" => Outcome::Decline,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Award => "award",
            Outcome::AwardDifferent => "award_different",
            Outcome::Decline => "decline",
        }
    }
}

pub struct ValidDecision {
    pub outcome: Outcome,
    /// What is awarded (None for a decline).
    pub amount_pence: Option<i64>,
    pub reason: String,
    pub other_help: String,
}

pub fn validate_decision(form: &FormData, asked_pence: Option<i64>) -> Result<ValidDecision, FormErrors> {
    let mut errors = FormErrors::default();
    let outcome = Outcome::parse(&form.get("outcome"));
    let amount_pence = match outcome {
        None => {
            errors.add("outcome", "Choose a decision");
            None
        }
        Some(Outcome::Decline) => None,
        Some(Outcome::Award) => asked_pence.filter(|a| *a > 0).or_else(|| {
            errors.add("outcome", "They did not say an amount: award a different amount instead");
            None
        }),
        Some(Outcome::AwardDifferent) => match parse_pounds(&form.get("amount")) {
            Ok(0) => {
                errors.add("amount", "An award must be more than £0");
                None
            }
            Ok(p) => Some(p),
            Err(e) => {
                errors.add("amount", e);
                None
            }
        },
    };
    let reason = required(form, &mut errors, "reason", "Write the reason the applicant will read", 3000);
    let other_help = form.get("other_help");
    if other_help.chars().count() > 1000 {
        errors.add("other_help", "Keep this to 1000 characters or fewer");
    }
    match outcome {
        Some(outcome) if errors.is_empty() => Ok(ValidDecision { outcome, amount_pence, reason, other_help }),
        _ => Err(errors),
    }
}

/// A Gift Aid declaration with the details HMRC requires.
#[derive(Debug, Clone)]
pub struct GiftAid {
    pub full_name: String,
    pub house: String,
    pub postcode: String,
    /// 'this' or 'all'
    pub covers: String,
}

/// The statement a donor agrees to, shown on the form and kept with the declaration.
pub const GIFT_AID_STATEMENT: &str = "I am a UK taxpayer and understand that if I pay less Income Tax and/or Capital Gains Tax in the current tax year than the amount of Gift Aid claimed on all my donations, it is my responsibility to pay any difference.";

pub const GIFT_AID_COVERS: [(&str, &str); 2] =
    [("this", "This gift only"), ("all", "This gift, gifts in the past 4 years, and all future gifts")];

/// How long a Gift Aid declaration is kept after the last gift it covers (HMRC: 6 years).
pub const GIFT_AID_KEEP_YEARS: i16 = 6;

pub fn keep_until(last_gift_on: Date) -> String {
    last_gift_on.saturating_add(jiff::Span::new().years(GIFT_AID_KEEP_YEARS)).to_string()
}

pub struct ValidDonation {
    pub amount_pence: i64,
    pub received_on: String,
    /// None: anonymous.
    pub donor_name: Option<String>,
    pub gift_aid: Option<GiftAid>,
}

pub fn validate_donation(form: &FormData) -> Result<ValidDonation, FormErrors> {
    let mut errors = FormErrors::default();
    let amount_pence = match parse_pounds(&form.get("amount")) {
        Ok(0) => {
            errors.add("amount", "A donation must be more than £0");
            0
        }
        Ok(p) => p,
        Err(e) => {
            errors.add("amount", e);
            0
        }
    };
    let received_on = parse_date(&form.get("received_on")).map(|d| d.to_string()).unwrap_or_else(|| {
        errors.add("received_on", "Enter the date it was received as a real date, like 27 3 2026");
        String::new()
    });
    let donor = form.get("donor_name");
    if donor.chars().count() > 120 {
        errors.add("donor_name", "Keep the name to 120 characters or fewer");
    }
    let gift_aid = form.checked("gift_aid").then(|| {
        let full_name = required(form, &mut errors, "ga_full_name", "Enter the donor's full name for Gift Aid", 120);
        let house = required(form, &mut errors, "ga_house", "Enter the house name or number", 120);
        let postcode = required(form, &mut errors, "ga_postcode", "Enter the postcode", 10).to_uppercase();
        let covers = form.get("ga_covers");
        if !GIFT_AID_COVERS.iter().any(|(v, _)| *v == covers) {
            errors.add("ga_covers", "Choose which gifts the declaration covers");
        }
        if !form.checked("ga_statement") {
            errors.add("ga_statement", "The donor must confirm the taxpayer statement for Gift Aid");
        }
        GiftAid { full_name, house, postcode, covers }
    });
    if errors.is_empty() {
        Ok(ValidDonation { amount_pence, received_on, donor_name: (!donor.is_empty()).then_some(donor), gift_aid })
    } else {
        Err(errors)
    }
}

/// One row of the fairness view as published: counts hidden by [`crate::core::disclosure`],
/// and the amount and success rate shown only beside a shown count of awards (either would
/// give that count away).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FairRow {
    pub dimension: String,
    pub value: String,
    pub applications: Figure,
    pub awards: Figure,
    pub amount_pence: Option<i64>,
    pub success_percent: Option<i64>,
}

impl FairRow {
    pub fn amount_text(&self) -> String {
        self.amount_pence.map(pounds).unwrap_or_else(|| HIDDEN_TEXT.into())
    }

    pub fn rate_text(&self) -> String {
        self.success_percent.map(|p| format!("{p}%")).unwrap_or_else(|| HIDDEN_TEXT.into())
    }
}

/// The share of applications funded, rounded to a whole percent.
pub fn success_percent(applications: i64, awards: i64) -> Option<i64> {
    (applications > 0).then(|| (awards * 100 + applications / 2) / applications)
}

pub const GROUP_SIZES: [(&str, &str); 5] = [
    ("", "Prefer not to say"),
    ("1", "Just me"),
    ("2-10", "2 to 10 people"),
    ("11-50", "11 to 50 people"),
    ("51+", "More than 50 people"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pounds_parse_and_print() {
        assert_eq!(parse_pounds("£1,250"), Ok(125_000));
        assert_eq!(parse_pounds("250.5"), Ok(25_050));
        assert_eq!(parse_pounds(" 0.07 "), Ok(7));
        for bad in ["", "abc", "1.234", "-5", "1e9", "£", "99999999999"] {
            assert!(parse_pounds(bad).is_err(), "{bad}");
        }
        assert_eq!(pounds(125_000), "£1,250");
        assert_eq!(pounds(100_050), "£1,000.50");
        assert_eq!(pounds(5), "£0.05");
        assert_eq!(decimal(125_005), "1250.05");
    }

    #[test]
    fn criteria_are_title_colon_description() {
        let c = parse_criteria(
            "Led by lived experience: people who run it have been there\n\nReach: reaches people others miss",
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].0, "Reach");
        assert!(parse_criteria("no colon").is_err());
        assert!(parse_criteria("").is_err());
    }

    #[test]
    fn a_round_is_open_between_its_dates_until_decided() {
        let d = |s: &str| parse_date(s).unwrap();
        assert!(round_open(true, false, Some("2026-01-01"), Some("2026-01-31"), d("2026-01-31")));
        assert!(!round_open(true, false, Some("2026-01-01"), Some("2026-01-31"), d("2026-02-01")));
        assert!(!round_open(false, false, None, None, d("2026-02-01")));
        assert!(round_open(true, false, None, None, d("2026-02-01")), "rolling");
        assert!(!round_open(true, true, None, None, d("2026-02-01")), "decided");
    }

    #[test]
    fn eligibility_gives_every_reason() {
        let reasons = eligibility(&EligibilityFacts {
            member_active: true,
            applicant_type: ApplicantType::Groups,
            as_group: false,
            amount_pence: Some(60_000),
            cap_pence: Some(50_000),
            round_open: false,
            fund_name: "Community Fund",
        });
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[2].contains("up to £500"));
    }

    #[test]
    fn word_limits_are_enforced_on_submission_only() {
        let q = Question {
            id: 7,
            kind: "long".into(),
            label: "Tell us".into(),
            hint: String::new(),
            word_limit: Some(3),
            options: String::new(),
            required: true,
        };
        let form = FormData::parse(b"q7=one+two+three+four").unwrap();
        assert!(read_answers(std::slice::from_ref(&q), &form, false).is_ok());
        let errors = read_answers(&[q], &form, true).unwrap_err();
        assert_eq!(errors.get("q7"), Some("Use 3 words or fewer (you have 4)"));
    }

    #[test]
    fn success_rates_round_to_whole_percents() {
        assert_eq!(success_percent(10, 5), Some(50));
        assert_eq!(success_percent(3, 2), Some(67));
        assert_eq!(success_percent(0, 0), None);
    }

    #[test]
    fn gift_aid_is_kept_six_years_after_the_last_gift() {
        assert_eq!(keep_until(parse_date("2026-04-05").unwrap()), "2032-04-05");
    }
}
