//! The messages Gatehouse sends and how each is rendered from its three templates under
//! `templates/mail/` (subject, plain text, HTML). A message carries no secret other than the
//! one link or code it exists to deliver.

use askama::Template;
use serde::{Deserialize, Serialize};

/// One message, with the values its templates need.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mail {
    /// A personal invitation: the activation link, valid for `expires_in` (the policy's
    /// invitation lifetime in words).
    Invitation {
        given_name: String,
        link: String,
        service: Option<String>,
        #[serde(default = "fourteen_days")]
        expires_in: String,
    },
    /// The link that lets someone choose a new password, valid for `expires_in`.
    PasswordReset {
        given_name: String,
        link: String,
        #[serde(default = "thirty_minutes")]
        expires_in: String,
    },
    /// Tells someone their password changed, with what to do if it was not them.
    PasswordChanged { given_name: String },
    /// Confirms an invitation was accepted.
    AccountActivated { given_name: String },
    /// The code that proves the new address works (sent to the new address).
    EmailChangeCode { given_name: String, code: String },
    /// Warns the old address that a change was asked for.
    EmailChangeNotice {
        given_name: String,
        new_email: String,
    },
    /// Tells someone their sign-in methods changed (a factor added, removed or turned off,
    /// recovery codes made or used), in one sentence.
    SecurityNotice { given_name: String, change: String },
    /// Tells an approver someone asked to join their organisation or use a service there;
    /// the link opens the request (it carries no secret).
    AccessRequested {
        given_name: String,
        requester: String,
        organisation: String,
        service: Option<String>,
        reason: String,
        link: String,
    },
    /// Tells the requester what an approver or the helpdesk decided, and why.
    AccessDecided {
        given_name: String,
        organisation: String,
        service: Option<String>,
        approved: bool,
        reason: String,
    },
    /// `gatehouse mail test`.
    Test,
}

/// The lifetimes before they became policy settings, for messages queued before then.
fn fourteen_days() -> String {
    "14 days".to_owned()
}

fn thirty_minutes() -> String {
    "30 minutes".to_owned()
}

/// A link's lifetime as a message says it: "14 days", "1 day", "30 minutes".
pub fn lifetime_in_words(lifetime: chrono::Duration) -> String {
    let (n, unit) = if lifetime.num_minutes() % (24 * 60) == 0 {
        (lifetime.num_days(), "day")
    } else if lifetime.num_minutes() % 60 == 0 {
        (lifetime.num_hours(), "hour")
    } else {
        (lifetime.num_minutes(), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A message ready for the transport.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What every template can use besides the message's own values.
#[derive(Debug, Clone)]
struct Common<'a> {
    /// The issuer, for "go to …" links that carry no secret.
    site: &'a str,
}

impl Mail {
    /// The name stored in the outbox and used in metrics and the audit trail.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Invitation { .. } => "invitation",
            Self::PasswordReset { .. } => "password_reset",
            Self::PasswordChanged { .. } => "password_changed",
            Self::AccountActivated { .. } => "account_activated",
            Self::EmailChangeCode { .. } => "email_change_code",
            Self::EmailChangeNotice { .. } => "email_change_notice",
            Self::SecurityNotice { .. } => "security_notice",
            Self::AccessRequested { .. } => "access_requested",
            Self::AccessDecided { .. } => "access_decided",
            Self::Test => "test",
        }
    }

    /// Renders subject, text and HTML; `site` is the issuer URL without a trailing slash.
    pub fn render(&self, site: &str) -> Result<Rendered, askama::Error> {
        let c = Common { site };
        let blank = View {
            site: c.site,
            given_name: "",
            link: "",
            service: "",
            code: "",
            new_email: "",
            change: "",
            requester: "",
            organisation: "",
            reason: "",
            expires_in: "",
            approved: false,
        };
        let v = match self {
            Self::Invitation {
                given_name,
                link,
                service,
                expires_in,
            } => View {
                given_name,
                link,
                service: service.as_deref().unwrap_or(""),
                expires_in,
                ..blank
            },
            Self::PasswordReset {
                given_name,
                link,
                expires_in,
            } => View {
                given_name,
                link,
                expires_in,
                ..blank
            },
            Self::PasswordChanged { given_name } | Self::AccountActivated { given_name } => View {
                given_name,
                ..blank
            },
            Self::EmailChangeCode { given_name, code } => View {
                given_name,
                code,
                ..blank
            },
            Self::EmailChangeNotice {
                given_name,
                new_email,
            } => View {
                given_name,
                new_email,
                ..blank
            },
            Self::SecurityNotice { given_name, change } => View {
                given_name,
                change,
                ..blank
            },
            Self::AccessRequested {
                given_name,
                requester,
                organisation,
                service,
                reason,
                link,
            } => View {
                given_name,
                requester,
                organisation,
                service: service.as_deref().unwrap_or(""),
                reason,
                link,
                ..blank
            },
            Self::AccessDecided {
                given_name,
                organisation,
                service,
                approved,
                reason,
            } => View {
                given_name,
                organisation,
                service: service.as_deref().unwrap_or(""),
                reason,
                approved: *approved,
                ..blank
            },
            Self::Test => blank,
        };
        let (subject, text, html) = match self {
            Self::Invitation { .. } => (
                InvitationSubject { v: &v }.render()?,
                InvitationText { v: &v }.render()?,
                InvitationHtml { v: &v }.render()?,
            ),
            Self::PasswordReset { .. } => (
                ResetSubject { v: &v }.render()?,
                ResetText { v: &v }.render()?,
                ResetHtml { v: &v }.render()?,
            ),
            Self::PasswordChanged { .. } => (
                ChangedSubject { v: &v }.render()?,
                ChangedText { v: &v }.render()?,
                ChangedHtml { v: &v }.render()?,
            ),
            Self::AccountActivated { .. } => (
                ActivatedSubject { v: &v }.render()?,
                ActivatedText { v: &v }.render()?,
                ActivatedHtml { v: &v }.render()?,
            ),
            Self::EmailChangeCode { .. } => (
                CodeSubject { v: &v }.render()?,
                CodeText { v: &v }.render()?,
                CodeHtml { v: &v }.render()?,
            ),
            Self::EmailChangeNotice { .. } => (
                NoticeSubject { v: &v }.render()?,
                NoticeText { v: &v }.render()?,
                NoticeHtml { v: &v }.render()?,
            ),
            Self::SecurityNotice { .. } => (
                SecuritySubject { v: &v }.render()?,
                SecurityText { v: &v }.render()?,
                SecurityHtml { v: &v }.render()?,
            ),
            Self::AccessRequested { .. } => (
                RequestedSubject { v: &v }.render()?,
                RequestedText { v: &v }.render()?,
                RequestedHtml { v: &v }.render()?,
            ),
            Self::AccessDecided { .. } => (
                DecidedSubject { v: &v }.render()?,
                DecidedText { v: &v }.render()?,
                DecidedHtml { v: &v }.render()?,
            ),
            Self::Test => (
                TestSubject { v: &v }.render()?,
                TestText { v: &v }.render()?,
                TestHtml { v: &v }.render()?,
            ),
        };
        Ok(Rendered {
            subject: subject.trim().to_owned(),
            text,
            html,
        })
    }
}

/// The values templates read (empty where a message has none).
#[derive(Debug)]
struct View<'a> {
    site: &'a str,
    given_name: &'a str,
    link: &'a str,
    service: &'a str,
    code: &'a str,
    new_email: &'a str,
    change: &'a str,
    requester: &'a str,
    organisation: &'a str,
    reason: &'a str,
    expires_in: &'a str,
    approved: bool,
}

macro_rules! mail_template {
    ($name:ident, $path:literal) => {
        // A subject line may use none of the values.
        #[allow(dead_code)]
        #[derive(Template)]
        #[template(path = $path)]
        struct $name<'a> {
            v: &'a View<'a>,
        }
    };
}

mail_template!(InvitationSubject, "mail/invitation.subject.txt");
mail_template!(InvitationText, "mail/invitation.txt");
mail_template!(InvitationHtml, "mail/invitation.html");
mail_template!(ResetSubject, "mail/password_reset.subject.txt");
mail_template!(ResetText, "mail/password_reset.txt");
mail_template!(ResetHtml, "mail/password_reset.html");
mail_template!(ChangedSubject, "mail/password_changed.subject.txt");
mail_template!(ChangedText, "mail/password_changed.txt");
mail_template!(ChangedHtml, "mail/password_changed.html");
mail_template!(ActivatedSubject, "mail/account_activated.subject.txt");
mail_template!(ActivatedText, "mail/account_activated.txt");
mail_template!(ActivatedHtml, "mail/account_activated.html");
mail_template!(CodeSubject, "mail/email_change_code.subject.txt");
mail_template!(CodeText, "mail/email_change_code.txt");
mail_template!(CodeHtml, "mail/email_change_code.html");
mail_template!(NoticeSubject, "mail/email_change_notice.subject.txt");
mail_template!(NoticeText, "mail/email_change_notice.txt");
mail_template!(NoticeHtml, "mail/email_change_notice.html");
mail_template!(SecuritySubject, "mail/security_notice.subject.txt");
mail_template!(SecurityText, "mail/security_notice.txt");
mail_template!(SecurityHtml, "mail/security_notice.html");
mail_template!(RequestedSubject, "mail/access_requested.subject.txt");
mail_template!(RequestedText, "mail/access_requested.txt");
mail_template!(RequestedHtml, "mail/access_requested.html");
mail_template!(DecidedSubject, "mail/access_decided.subject.txt");
mail_template!(DecidedText, "mail/access_decided.txt");
mail_template!(DecidedHtml, "mail/access_decided.html");
mail_template!(TestSubject, "mail/test.subject.txt");
mail_template!(TestText, "mail/test.txt");
mail_template!(TestHtml, "mail/test.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_said_in_the_largest_whole_unit() {
        use chrono::Duration;
        assert_eq!(lifetime_in_words(Duration::days(14)), "14 days");
        assert_eq!(lifetime_in_words(Duration::days(1)), "1 day");
        assert_eq!(lifetime_in_words(Duration::hours(2)), "2 hours");
        assert_eq!(lifetime_in_words(Duration::minutes(30)), "30 minutes");
    }

    #[test]
    fn every_message_renders_with_its_link_or_code_and_escapes_html() {
        let reset = Mail::PasswordReset {
            given_name: "Ana <b>".into(),
            link: "https://id.example/reset-password/abc".into(),
            expires_in: "30 minutes".into(),
        }
        .render("https://id.example")
        .unwrap();
        assert!(reset.text.contains("https://id.example/reset-password/abc"));
        assert!(reset.html.contains("https://id.example/reset-password/abc"));
        assert!(reset.html.contains("Ana &#60;b&#62;") || reset.html.contains("Ana &lt;b&gt;"));
        assert!(!reset.subject.contains('\n'));
        let code = Mail::EmailChangeCode {
            given_name: "Ana".into(),
            code: "K7RQ2M9X".into(),
        }
        .render("https://id.example")
        .unwrap();
        assert!(code.text.contains("K7RQ2M9X") && code.html.contains("K7RQ2M9X"));
        for mail in [
            Mail::Invitation {
                given_name: "Ana".into(),
                link: "l".into(),
                service: Some("School Census".into()),
                expires_in: lifetime_in_words(chrono::Duration::days(7)),
            },
            Mail::PasswordChanged {
                given_name: "Ana".into(),
            },
            Mail::AccountActivated {
                given_name: "Ana".into(),
            },
            Mail::EmailChangeNotice {
                given_name: "Ana".into(),
                new_email: "a@b.example".into(),
            },
            Mail::SecurityNotice {
                given_name: "Ana".into(),
                change: "A passkey called \u{201c}Laptop\u{201d} was added to your account.".into(),
            },
            Mail::AccessRequested {
                given_name: "Ana".into(),
                requester: "Ben Ode".into(),
                organisation: "Hill School".into(),
                service: Some("School Census".into()),
                reason: "I run the census".into(),
                link: "https://id.example/organisation/o1/requests/r1".into(),
            },
            Mail::AccessDecided {
                given_name: "Ben".into(),
                organisation: "Hill School".into(),
                service: None,
                approved: false,
                reason: "Not on our staff list".into(),
            },
            Mail::Test,
        ] {
            let r = mail.render("https://id.example").unwrap();
            assert!(!r.subject.is_empty() && !r.text.is_empty() && !r.html.is_empty());
        }
    }
}
