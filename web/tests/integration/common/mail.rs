//! Mail captured by the SMTP sink of `scripts/services.sh`.

/// The Maildir the SMTP sink of `scripts/services.sh` writes to.
pub fn maildir() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("TEST_MAILDIR").unwrap_or_else(|_| "/var/tmp/app-mail".into())).join("new")
}

/// Undoes quoted-printable encoding (soft line breaks and `=XX`), enough to read links in captured mail.
pub fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Captured messages addressed to `to`, decoded, oldest first.
pub fn mail_to(to: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir()) else { return Vec::new() };
    let mut found: Vec<(std::time::SystemTime, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let raw = std::fs::read_to_string(entry.path()).ok()?;
            let headers_end = raw.find("\r\n\r\n").or_else(|| raw.find("\n\n")).unwrap_or(raw.len());
            let addressed =
                raw[..headers_end].lines().any(|line| line.to_lowercase().starts_with("to:") && line.contains(to));
            addressed.then(|| {
                (
                    entry.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH),
                    decode_quoted_printable(&raw),
                )
            })
        })
        .collect();
    found.sort_by_key(|(modified, _)| *modified);
    found.into_iter().map(|(_, text)| text).collect()
}

/// The first `http(s)://...` link in `text` containing `marker`.
pub fn link_in(text: &str, marker: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .find(|word| word.starts_with("http") && word.contains(marker))
        .map(|word| word.replace("&amp;", "&"))
}

/// A unique address for this test's mail.
pub fn unique_email(label: &str) -> String {
    format!("{label}-{}@example.com", uuid::Uuid::new_v4().simple())
}
