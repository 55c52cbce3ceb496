//! Strings put together without `core::fmt` or std's generic `join`: each is one small
//! function here instead of formatting machinery and per-type `Display` code in the widget's
//! WASM (docs/benchmarks.md, issue 12 part 7).

/// The parts, one after another (`[a, b].concat()`).
pub fn concat(parts: &[&str]) -> String {
    let mut joined = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    for part in parts {
        joined.push_str(part);
    }
    joined
}

/// `number` in decimal digits, at least `width` of them (zero-padded: `decimal(7, 2)` is
/// `"07"`).
pub fn decimal(number: u64, width: usize) -> String {
    let mut digits = Vec::with_capacity(20);
    let mut rest = number;
    loop {
        digits.push(b'0' + (rest % 10) as u8);
        rest /= 10;
        if rest == 0 && digits.len() >= width {
            break;
        }
    }
    digits.reverse();
    // Only ASCII digits went in.
    String::from_utf8(digits).unwrap_or_default()
}

/// `template` with its first `placeholder` replaced by `value` (the texts' `{name}`, `{n}`).
pub fn fill(template: &str, placeholder: &str, value: &str) -> String {
    match find(template, placeholder) {
        Some(at) => concat(&[&template[..at], value, &template[at + placeholder.len()..]]),
        None => template.to_string(),
    }
}

/// Where `needle` first starts in `text`: a plain scan, where `str::find` with a string
/// pattern brings core's two-way searcher (1.7 KB of WASM) for these few short texts.
pub fn find(text: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    if needle.is_empty() {
        return Some(0);
    }
    text.as_bytes()
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_joins_in_order() {
        assert_eq!(concat(&[]), "");
        assert_eq!(concat(&["a", "", "bc"]), "abc");
    }

    #[test]
    fn fill_replaces_the_first_placeholder_only() {
        assert_eq!(fill("Hi {name}!", "{name}", "Ada"), "Hi Ada!");
        assert_eq!(fill("{n} unread", "{n}", "12"), "12 unread");
        assert_eq!(fill("no tag", "{n}", "1"), "no tag");
        assert_eq!(fill("{n}{n}", "{n}", "1"), "1{n}");
        assert_eq!(fill("مرحبا {name}", "{name}", "Ada"), "مرحبا Ada");
    }

    #[test]
    fn find_agrees_with_str_find() {
        for (text, needle) in [
            ("abc", "c"),
            ("abc", "d"),
            ("", "a"),
            ("a{{b}}", "}}"),
            ("é{{", "{{"),
        ] {
            assert_eq!(find(text, needle), text.find(needle));
        }
        assert_eq!(find("abc", ""), Some(0));
    }

    #[test]
    fn decimal_writes_what_display_writes() {
        for number in [0, 7, 10, 99, 100, 4_294_967_295, u64::MAX] {
            assert_eq!(decimal(number, 0), number.to_string());
            assert_eq!(decimal(number, 1), number.to_string());
        }
        assert_eq!(decimal(7, 2), "07");
        assert_eq!(decimal(0, 2), "00");
        assert_eq!(decimal(59, 2), "59");
        assert_eq!(decimal(123, 2), "123");
    }
}
