//! Just enough HTML reading for the probes: the attributes of tags, the forms of a page and its links. The pages are
//! the project's own askama templates (double-quoted attributes, escaped values), so a small scanner does.

use std::collections::BTreeMap;

/// `&amp;` and friends back to their characters (askama escapes these five).
fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The attributes of the tag whose text (after `<name`) starts `rest`, up to its `>`.
fn attributes(rest: &str) -> BTreeMap<String, String> {
    let end = rest.find('>').unwrap_or(rest.len());
    let mut text = &rest[..end];
    let mut found = BTreeMap::new();
    loop {
        text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let name_end = text.find(|c: char| c.is_whitespace() || c == '=' || c == '/').unwrap_or(text.len());
        if name_end == 0 {
            break;
        }
        let name = text[..name_end].to_ascii_lowercase();
        text = &text[name_end..];
        let value = if let Some(after) = text.trim_start().strip_prefix('=') {
            let after = after.trim_start();
            if let Some(quoted) = after.strip_prefix('"') {
                let close = quoted.find('"').unwrap_or(quoted.len());
                text = quoted.get(close + 1..).unwrap_or("");
                unescape(&quoted[..close])
            } else {
                let close = after.find(char::is_whitespace).unwrap_or(after.len());
                text = &after[close..];
                unescape(&after[..close])
            }
        } else {
            String::new()
        };
        found.insert(name, value);
    }
    found
}

/// Each `<name ...>` tag of `html` (lower-case tags): its offset and attributes.
pub fn tags(html: &str, name: &str) -> Vec<(usize, BTreeMap<String, String>)> {
    let open = format!("<{name}");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = html[from..].find(&open).map(|i| from + i) {
        let rest = &html[at + open.len()..];
        from = at + open.len();
        if rest.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
            found.push((at, attributes(rest)));
        }
    }
    found
}

/// A form of a page: where it goes, how, and its fields with the values the page gave them.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub method: String,
    pub multipart: bool,
    /// Name and value; a file field has the value `<file>`.
    pub fields: Vec<(String, String)>,
}

/// The forms of `html`; a form without `action` posts to `here`.
pub fn forms(html: &str, here: &str) -> Vec<Form> {
    let mut found = Vec::new();
    for (at, attrs) in tags(html, "form") {
        let end = html[at..].find("</form>").map_or(html.len(), |i| at + i);
        let body = &html[at..end];
        let mut fields = Vec::new();
        for tag in ["input", "textarea", "select"] {
            for (_, field) in tags(body, tag) {
                let Some(name) = field.get("name").filter(|n| !n.is_empty()) else { continue };
                let value = match field.get("type").map(String::as_str) {
                    Some("file") => "<file>".to_string(),
                    Some("checkbox") => "on".to_string(),
                    _ => field.get("value").cloned().unwrap_or_default(),
                };
                fields.push((name.clone(), value));
            }
        }
        found.push(Form {
            action: attrs.get("action").filter(|a| !a.is_empty()).cloned().unwrap_or_else(|| here.to_string()),
            method: attrs.get("method").map_or("get".into(), |m| m.to_ascii_lowercase()),
            multipart: attrs.get("enctype").is_some_and(|e| e.contains("multipart")),
            fields,
        });
    }
    found
}

/// The site's own links of `html` (paths starting with one `/`).
pub fn links(html: &str) -> Vec<String> {
    tags(html, "a")
        .into_iter()
        .filter_map(|(_, attrs)| attrs.get("href").cloned())
        .filter(|href| href.starts_with('/') && !href.starts_with("//"))
        .collect()
}

/// What a 4xx page must show: the site's error page, a form's error, or a problem alert (nginx's own answers for
/// what never reaches the application: its error page title with the status, and the sign-in limit's page).
pub fn shows_an_error(html: &str, status: u16) -> bool {
    html.contains("class=\"error-page\"")
        || html.contains("role=\"alert\"")
        || html.contains("aria-invalid=\"true\"")
        || html.contains(&format!("<title>{status} "))
        || html.contains("<h1>Too many attempts</h1>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_fields_are_read() {
        let html = r#"<form method="post" action="/notes/1/edit"><input type="hidden" name="csrf_token" value="a&amp;b">
            <input id="t" name="title" value="x"><textarea name="body">y</textarea><input type="file" name="file">
            <button type="submit">Save</button></form><a href="/notes">n</a><a href="https://x">x</a><a href="//e">e</a>"#;
        let forms = forms(html, "/here");
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].action, "/notes/1/edit");
        assert_eq!(forms[0].method, "post");
        let names: Vec<_> = forms[0].fields.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(names, ["csrf_token=a&b", "title=x", "file=<file>", "body="]);
        assert_eq!(links(html), ["/notes"]);
    }
}
