//! What a new password must be (PRODUCT.md "Policies", NIST SP 800-63B-4 §3.1.1.2): long
//! enough, not common or breached, not built from the person's own details or the service's
//! name. No composition rules and no expiry.

use super::input::Password;

/// Words no password here may be built from: this service and the one it replaces.
const SERVICE_WORDS: &[&str] = &["gatehouse", "authentix"];

/// Words that appear in so many organisation names that they identify nobody's.
const GENERIC_ORGANISATION_WORDS: &[&str] = &[
    "school",
    "schools",
    "primary",
    "secondary",
    "junior",
    "infant",
    "infants",
    "nursery",
    "academy",
    "college",
    "council",
    "trust",
    "church",
    "catholic",
    "community",
    "high",
    "federation",
    "special",
    "centre",
    "education",
    "learning",
];

/// zxcvbn scores below this mean "guessable with fewer than 10^8 tries" (Score::Three).
const MIN_SCORE: u8 = 3;

/// Only this many leading characters go to the dictionary check, which grows quickly with
/// length; a weak start is what makes a long password guessable anyway.
const DICTIONARY_PREFIX: usize = 100;

/// What the person's password must not be built from.
#[derive(Debug, Clone, Default)]
pub struct PersonalDetails<'a> {
    pub email: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub organisations: &'a [&'a str],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("Password must be {min} characters or more")]
    TooShort { min: usize },
    #[error("Password must not include your name, email address or organisation")]
    Personal,
    #[error("Password must not include the name of this service")]
    ServiceName,
    #[error(
        "Password is too easy to guess: it is a common password or made of common words. \
         Try three or four unrelated words"
    )]
    Common,
}

/// Checks a new password against the policy: at least `min` characters (the administrator's
/// setting, lower for people with 2-step verification; see `crate::policy`).
pub fn check_new_password(
    password: &Password,
    min: usize,
    details: &PersonalDetails<'_>,
) -> Result<(), PolicyViolation> {
    let text = password.expose();
    if text.chars().count() < min {
        return Err(PolicyViolation::TooShort { min });
    }
    let folded = fold(text);
    if SERVICE_WORDS.iter().any(|w| folded.contains(w)) {
        return Err(PolicyViolation::ServiceName);
    }
    let personal = personal_words(details);
    if personal.iter().any(|w| folded.contains(w.as_str())) {
        return Err(PolicyViolation::Personal);
    }
    let prefix: String = text.chars().take(DICTIONARY_PREFIX).collect();
    let inputs: Vec<&str> = personal
        .iter()
        .map(String::as_str)
        .chain(SERVICE_WORDS.iter().copied())
        .collect();
    let estimate = zxcvbn::zxcvbn(&prefix, &inputs);
    if (estimate.score() as u8) < MIN_SCORE {
        return Err(PolicyViolation::Common);
    }
    Ok(())
}

/// Lower case with spaces, digits and punctuation removed, so "Thorn-bury 2024" still
/// contains "thornbury".
fn fold(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The distinctive words in someone's details (three letters or more).
fn personal_words(details: &PersonalDetails<'_>) -> Vec<String> {
    let (local, domain) = details
        .email
        .rsplit_once('@')
        .unwrap_or((details.email, ""));
    let mut words: Vec<String> = Vec::new();
    let mut add = |word: &str| {
        let folded = fold(word);
        if folded.chars().count() >= 3 && !words.contains(&folded) {
            words.push(folded);
        }
    };
    for part in [details.given_name, details.family_name] {
        part.split_whitespace().for_each(&mut add);
    }
    local.split(['.', '_', '-', '+']).for_each(&mut add);
    add(local);
    // The organisation's own part of the domain ("school100000" in school100000.example.org).
    if let Some(label) = domain.split('.').next() {
        add(label);
    }
    for organisation in details.organisations {
        organisation
            .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
            .filter(|w| !GENERIC_ORGANISATION_WORDS.contains(&fold(w).as_str()))
            .filter(|w| fold(w).chars().count() >= 5)
            .for_each(&mut add);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str, has_mfa: bool) -> Result<(), PolicyViolation> {
        let details = PersonalDetails {
            email: "siobhan.quinn10@school100011.example.org",
            given_name: "Siobhán",
            family_name: "Quinn",
            organisations: &["St Bede’s Junior School, Oakhurst"],
        };
        let min = crate::policy::Policy::default().password_min(has_mfa);
        check_new_password(&Password::from_input(password).unwrap(), min, &details)
    }

    #[test]
    fn long_unrelated_phrases_are_accepted() {
        assert_eq!(check("marble kettle orbit saxophone", false), Ok(()));
        assert_eq!(
            check("Vq7#pL2!xR", true),
            Ok(()),
            "8+ characters is enough with MFA"
        );
    }

    #[test]
    fn length_depends_on_mfa_and_counts_characters_not_bytes() {
        assert_eq!(
            check("Vq7#pL2!xR", false),
            Err(PolicyViolation::TooShort { min: 15 })
        );
        assert_eq!(
            check("Vq7#pL2", true),
            Err(PolicyViolation::TooShort { min: 8 })
        );
        // 15 characters, 30 bytes.
        assert_eq!(check("ÿŋđħĸłæßðƒ€þœøπ", false), Ok(()));
    }

    #[test]
    fn common_and_dictionary_passwords_are_refused() {
        for weak in [
            "passwordpassword",
            "password1234567890",
            "qwertyuiopasdfgh",
            "iloveyouiloveyou",
        ] {
            assert_eq!(check(weak, false), Err(PolicyViolation::Common), "{weak}");
        }
    }

    #[test]
    fn personal_details_and_service_names_are_refused() {
        for personal in [
            "siobhan-is-the-best-2024",
            "Quinn family holidays!",
            "oakhurst rules forever",
            "SCHOOL100011 secure pass",
        ] {
            assert_eq!(
                check(personal, false),
                Err(PolicyViolation::Personal),
                "{personal}"
            );
        }
        assert_eq!(
            check("my gatehouse password!", false),
            Err(PolicyViolation::ServiceName)
        );
        assert_eq!(
            check("Authentix was better 99", false),
            Err(PolicyViolation::ServiceName)
        );
    }

    #[test]
    fn generic_organisation_words_are_not_personal() {
        assert_eq!(check("junior kettle marble orbit", false), Ok(()));
    }

    #[test]
    fn every_refusal_reads_as_plain_english() {
        assert_eq!(
            PolicyViolation::TooShort { min: 15 }.to_string(),
            "Password must be 15 characters or more"
        );
    }
}
