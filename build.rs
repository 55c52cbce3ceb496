//! Minifies `style/widget.css` into the build: the stylesheet travels inside the WASM, so its
//! comments and indentation would be bytes every visitor downloads.

use std::{env, fs, path::Path};

fn main() {
    println!("cargo::rerun-if-changed=style/widget.css");
    let css = fs::read_to_string("style/widget.css").expect("style/widget.css");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("widget.min.css");
    fs::write(out, minify_css(&css)).expect("write the minified CSS");
}

/// Drops comments and the white space that CSS syntax doesn't need. Only space next to `{ } ; , >`
/// and after `:` goes: a space before `:` can be a descendant combinator (`.a :hover`), and
/// inside values (`calc(a - b)`, `0 0 4px`) spaces are syntax.
fn minify_css(css: &str) -> String {
    let mut without_comments = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        without_comments.push_str(&rest[..start]);
        let end = rest[start + 2..].find("*/").expect("unclosed CSS comment");
        rest = &rest[start + 2 + end + 2..];
    }
    without_comments.push_str(rest);

    let mut out = String::with_capacity(without_comments.len());
    for word in without_comments.split_whitespace() {
        let glues_left = word.starts_with(['{', '}', ';', ',', '>']);
        let glues_right = out.ends_with(['{', '}', ';', ',', '>', ':']);
        if !out.is_empty() && !glues_left && !glues_right {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.replace(";}", "}")
}
