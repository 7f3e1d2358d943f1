//! The rules for a group's details. No I/O.
use crate::{
    core::forms::{FormData, FormErrors},
    features::members::domain::parse_region,
};

pub const MAX_NAME: usize = 120;
pub const MAX_DESCRIPTION: usize = 2000;

#[derive(Clone, Debug, Default)]
pub struct GroupInput {
    pub name: String,
    pub description: String,
    pub region: String,
    pub lived_experience_led: String,
    pub visibility: String,
}

#[derive(Clone, Debug)]
pub struct ValidGroup {
    pub name: String,
    pub description: String,
    pub region: Option<String>,
    pub lived_experience_led: bool,
    pub visibility: &'static str,
}

impl GroupInput {
    pub fn from_form(form: &FormData) -> GroupInput {
        GroupInput {
            name: form.get("name"),
            description: form.get("description"),
            region: form.get("region"),
            lived_experience_led: form.get("lived_experience_led"),
            visibility: form.get("visibility"),
        }
    }

    pub fn validate(&self) -> Result<ValidGroup, FormErrors> {
        let mut errors = FormErrors::default();
        let name = self.name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            errors.add("name", "Enter the group's name");
        } else if name.chars().count() > MAX_NAME {
            errors.add("name", format!("Name must be {MAX_NAME} characters or fewer"));
        }
        if self.description.is_empty() {
            errors.add("description", "Say in a sentence or two what the group does");
        } else if self.description.chars().count() > MAX_DESCRIPTION {
            errors.add("description", format!("Description must be {MAX_DESCRIPTION} characters or fewer"));
        }
        let region = parse_region(&self.region).map_err(|e| errors.add("region", e)).ok().flatten();
        let led = match self.lived_experience_led.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => {
                errors.add("lived_experience_led", "Say whether the group is led by people with lived experience");
                None
            }
        };
        let visibility = match self.visibility.as_str() {
            "public" => Some("public"),
            "members" => Some("members"),
            _ => {
                errors.add("visibility", "Choose who can see the group");
                None
            }
        };
        match (led, visibility) {
            (Some(lived_experience_led), Some(visibility)) if errors.is_empty() => {
                Ok(ValidGroup { name, description: self.description.clone(), region, lived_experience_led, visibility })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_needs_name_description_and_a_lived_experience_answer() {
        let errors = GroupInput::default().validate().unwrap_err();
        for f in ["name", "description", "lived_experience_led", "visibility"] {
            assert!(errors.get(f).is_some(), "{f}");
        }
        let ok = GroupInput {
            name: " Tea  and Talk ".into(),
            description: "We meet on Tuesdays.".into(),
            lived_experience_led: "yes".into(),
            visibility: "public".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(ok.name, "Tea and Talk");
        assert!(ok.lived_experience_led);
    }
}
