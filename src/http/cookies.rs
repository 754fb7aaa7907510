//! The cookies: the session (who you are), the CSRF secret (that a form came from us), a
//! sign-in waiting for its second factor, and the handle of an opened email link. Over https both carry the `__Host-` prefix with `Secure`, so no other site or
//! subdomain can set them; on plain-http localhost they work without, for development.

use axum_extra::extract::cookie::{Cookie, SameSite};

/// Names and flags, decided once from whether the issuer is https.
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    pub fn session_name(self) -> &'static str {
        if self.secure {
            "__Host-gatehouse_session"
        } else {
            "gatehouse_session"
        }
    }

    pub fn csrf_name(self) -> &'static str {
        if self.secure {
            "__Host-gatehouse_csrf"
        } else {
            "gatehouse_csrf"
        }
    }

    pub fn link_name(self) -> &'static str {
        if self.secure {
            "__Host-gatehouse_link"
        } else {
            "gatehouse_link"
        }
    }

    pub fn pending_name(self) -> &'static str {
        if self.secure {
            "__Host-gatehouse_pending"
        } else {
            "gatehouse_pending"
        }
    }

    /// A sign-in waiting for its second factor: strict, since only our own pages use it.
    pub fn pending(self, value: String) -> Cookie<'static> {
        self.build(self.pending_name(), value, SameSite::Strict)
    }

    /// The handle that replaces an emailed link's secret once it is opened: strict, and
    /// gone when the browser closes (the server decides expiry).
    pub fn link(self, value: String) -> Cookie<'static> {
        self.build(self.link_name(), value, SameSite::Strict)
    }

    /// The session cookie: a browser-session cookie, since the server decides expiry.
    pub fn session(self, value: String) -> Cookie<'static> {
        self.build(self.session_name(), value, SameSite::Lax)
    }

    /// The CSRF cookie: strict, only ever sent back by our own pages.
    pub fn csrf(self, value: String) -> Cookie<'static> {
        self.build(self.csrf_name(), value, SameSite::Strict)
    }

    /// A cookie that tells the browser to forget `name`.
    pub fn removal(self, name: &'static str) -> Cookie<'static> {
        let mut cookie = self.build(name, String::new(), SameSite::Lax);
        cookie.make_removal();
        cookie
    }

    fn build(self, name: &'static str, value: String, same_site: SameSite) -> Cookie<'static> {
        Cookie::build((name, value))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(same_site)
            .build()
    }
}
