//! Where to send someone after they sign in: only a path on this site, never another host
//! (an open redirect would let a phishing link borrow our name).

/// Where people go when no (acceptable) destination is given.
pub const DEFAULT: &str = "/account";

/// `candidate` if it is a same-origin relative path, otherwise [`DEFAULT`].
pub fn safe(candidate: Option<&str>) -> String {
    match candidate {
        Some(path) if is_local_path(path) => path.to_owned(),
        _ => DEFAULT.to_owned(),
    }
}

fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 512
        && !path.contains("://")
        && path.chars().all(|c| !c.is_control() && c != '\\')
}

/// Percent-encodes a path for use as the `return_to` query value.
pub fn encode(path: &str) -> String {
    url::form_urlencoded::byte_serialize(path.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe(Some("/account/password")), "/account/password");
        assert_eq!(
            safe(Some("/authorize?client_id=x&state=y")),
            "/authorize?client_id=x&state=y"
        );
        for hostile in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/ok\r\nSet-Cookie: x=y",
            "",
        ] {
            assert_eq!(safe(Some(hostile)), DEFAULT, "{hostile:?}");
        }
        assert_eq!(safe(None), DEFAULT);
    }
}
