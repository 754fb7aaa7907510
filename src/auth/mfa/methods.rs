//! How a sign-in was proved, as the `amr` values of RFC 8176 §2, and the second-step methods
//! a person may choose from.

/// A way to finish a sign-in after the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// "Security code" from an authenticator app.
    Code,
    /// "Use a security key or passkey".
    Key,
    /// "Use a recovery code".
    Recovery,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Key => "key",
            Self::Recovery => "recovery",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "code" => Some(Self::Code),
            "key" => Some(Self::Key),
            "recovery" => Some(Self::Recovery),
            _ => None,
        }
    }
}

/// Authentication method references, in the order they were proved, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Amr(Vec<String>);

impl Amr {
    /// Reads a stored JSON array; anything unreadable counts as nothing proved.
    pub fn from_json(json: &str) -> Self {
        Self(serde_json::from_str(json).unwrap_or_default())
    }

    pub fn to_json(&self) -> String {
        serde_json::Value::from(self.0.clone()).to_string()
    }

    pub fn password() -> Self {
        Self(vec!["pwd".to_owned()])
    }

    /// Adds what a further step proved, and `mfa` since it is now more than one factor
    /// (a passkey with user verification is two on its own).
    pub fn with_factor(mut self, methods: &[&str]) -> Self {
        for method in methods.iter().copied().chain(std::iter::once("mfa")) {
            if !self.0.iter().any(|m| m == method) {
                self.0.push(method.to_owned());
            }
        }
        // `mfa` reads best last.
        self.0.sort_by_key(|m| m == "mfa");
        self
    }

    pub fn is_mfa(&self) -> bool {
        self.0.iter().any(|m| m == "mfa")
    }

    /// Whether a security key or passkey was used: a factor a phishing site cannot replay.
    pub fn is_phishing_resistant(&self) -> bool {
        self.0.iter().any(|m| m == "hwk" || m == "swk")
    }

    pub fn values(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_factor_adds_its_method_and_mfa_once() {
        let amr = Amr::password().with_factor(&["otp"]);
        assert_eq!(amr.values(), ["pwd", "otp", "mfa"]);
        let again = amr.clone().with_factor(&["hwk", "user"]);
        assert_eq!(again.values(), ["pwd", "otp", "hwk", "user", "mfa"]);
        assert!(again.is_mfa() && !Amr::password().is_mfa());
        assert_eq!(Amr::from_json(&again.to_json()), again);
        assert_eq!(Amr::from_json("not json"), Amr::default());
    }
}
