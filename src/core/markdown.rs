//! User-written markdown to safe HTML: pulldown-cmark renders, ammonia sanitises.
use pulldown_cmark::{html, Options, Parser};

pub fn to_safe_html(source: &str) -> String {
    let mut raw = String::new();
    html::push_html(&mut raw, Parser::new_ext(source, Options::ENABLE_STRIKETHROUGH));
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        // No images: a remote image in user text would be a third-party request.
        .rm_tags(&["img"])
        .clean(&raw)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::to_safe_html;

    #[test]
    fn scripts_and_remote_images_are_removed_but_formatting_kept() {
        let html =
            to_safe_html("**Hello** <script>alert(1)</script> ![x](https://evil.example/p.png) [a](https://ok.org)");
        assert!(html.contains("<strong>Hello</strong>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""));
    }
}
