//! Input checks shared by the admin API: each failure is a 400 with a stable code and a
//! message naming the field.

use crate::error::{ApiError, ApiResult};
use url::Url;

/// An absolute http(s) URL with a host, as the `url` crate normalises it. Anything else
/// (`javascript:`, `data:`, relative paths…) → `invalid_url`.
pub fn checked_url(field: &str, value: &str) -> ApiResult<String> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_url",
            format!("{field} must be an absolute http:// or https:// URL"),
        )
    };
    let url = Url::parse(value.trim()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    if url.as_str().len() > 2048 {
        return Err(ApiError::bad_request(
            "invalid_url",
            format!("{field} is longer than 2048 characters"),
        ));
    }
    Ok(url.into())
}

/// An optional URL: blank counts as none.
pub fn checked_optional_url(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    match value.map(str::trim).filter(|value| !value.is_empty()) {
        Some(value) => checked_url(field, value).map(Some),
        None => Ok(None),
    }
}

/// A web origin `scheme://host[:port]` (http or https, nothing after the host), normalised
/// the way browsers send it in `Origin` (lowercase host, no default port).
pub fn checked_origin(value: &str) -> ApiResult<String> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_origin",
            format!("`{value}` is not an origin: use scheme://host[:port], e.g. https://www.example.com"),
        )
    };
    let trimmed = value.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|_| invalid())?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        // `https://a.com/?` parses to the same URL as `https://a.com`: refuse what was typed.
        && !trimmed.contains(['?', '#', '@'])
        && trimmed.matches('/').count() == 2;
    if !bare {
        return Err(invalid());
    }
    Ok(url.origin().ascii_serialization())
}

/// `#rrggbb`, stored lowercase.
pub fn checked_color(field: &str, value: &str) -> ApiResult<String> {
    let value = value.trim();
    let hex = value.strip_prefix('#').unwrap_or("");
    if hex.len() == 6 && hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(ApiError::bad_request(
            "invalid_color",
            format!("{field} must be a colour like #1f6feb"),
        ))
    }
}

/// Trimmed text of 1..=max characters; else `code`.
pub fn checked_text(code: &'static str, field: &str, value: &str, max: usize) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::bad_request(
            code,
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_or_https() {
        assert_eq!(
            checked_url("logo_url", " https://cdn.example.com/logo.png ").unwrap(),
            "https://cdn.example.com/logo.png"
        );
        for bad in [
            "javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,hi",
            "/relative.png",
            "ftp://example.com/a",
            "https://",
            "",
        ] {
            assert_eq!(
                checked_url("logo_url", bad).unwrap_err().code(),
                "invalid_url",
                "{bad}"
            );
        }
    }

    #[test]
    fn origins_are_bare_and_normalised() {
        assert_eq!(
            checked_origin("https://Shop.Example.com/").unwrap(),
            "https://shop.example.com"
        );
        assert_eq!(
            checked_origin("https://example.com:443").unwrap(),
            "https://example.com"
        );
        assert_eq!(
            checked_origin("http://localhost:3000").unwrap(),
            "http://localhost:3000"
        );
        for bad in [
            "example.com",
            "https://example.com/path",
            "https://example.com?x",
            "https://user@example.com",
            "ftp://example.com",
            "*",
            "null",
        ] {
            assert_eq!(
                checked_origin(bad).unwrap_err().code(),
                "invalid_origin",
                "{bad}"
            );
        }
    }

    #[test]
    fn colors_are_six_hex_digits() {
        assert_eq!(checked_color("brand_color", "#1F6FEB").unwrap(), "#1f6feb");
        for bad in ["1f6feb", "#fff", "#12345g", "red", "#1f6feb; x"] {
            assert_eq!(
                checked_color("brand_color", bad).unwrap_err().code(),
                "invalid_color"
            );
        }
    }
}
