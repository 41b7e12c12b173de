//! SQL identifiers and literals: quoting, and the per-namespace names of the NOTIFY
//! channel and the trigger function (cut to PostgreSQL's identifier length).

/// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1); `pg_notify` refuses
/// a longer channel name instead of truncating it as `LISTEN` would.
const MAX_IDENT_BYTES: usize = 63;

/// Quotes a name as an SQL identifier (doubling any `"`), so even a name that
/// skipped namespace validation cannot change the statement.
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string as an SQL literal for statements that cannot take parameters
/// (DDL). The `E'...'` form with `\` and `'` doubled means the same whatever
/// `standard_conforming_strings` is set to.
pub(super) fn quote_literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// `name` cut to at most [`MAX_IDENT_BYTES`] bytes (at a character boundary).
fn truncate_ident(mut name: String) -> String {
    if name.len() > MAX_IDENT_BYTES {
        let mut end = MAX_IDENT_BYTES;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

/// The NOTIFY channel for a namespace: `joblock_<namespace>`, at most 63 bytes.
/// (A validated namespace is at most 48 bytes, so in practice nothing is cut.)
pub(super) fn channel_name(namespace: &str) -> String {
    truncate_ident(format!("joblock_{namespace}"))
}

/// The trigger function of a namespace. One per namespace, so that namespaces share
/// no database object and creating one never contends with creating another.
pub(super) fn notify_function_name(namespace: &str) -> String {
    truncate_ident(format!("joblock_notify_{namespace}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_ident_doubles_quotes() {
        assert_eq!(quote_ident("jobs"), "\"jobs\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn quote_literal_escapes_quotes_and_backslashes() {
        assert_eq!(quote_literal("joblock_jobs"), "E'joblock_jobs'");
        assert_eq!(quote_literal("a'b\\c"), "E'a''b\\\\c'");
    }

    #[test]
    fn channel_and_function_names_fit_in_an_identifier() {
        assert_eq!(channel_name("jobs"), "joblock_jobs");
        assert_eq!(notify_function_name("jobs"), "joblock_notify_jobs");
        let longest = "n".repeat(48);
        assert_eq!(channel_name(&longest).len(), 56);
        assert_eq!(notify_function_name(&longest).len(), 63);
        assert_eq!(channel_name(&"n".repeat(100)).len(), MAX_IDENT_BYTES);
        // Cut at a character boundary, never inside one.
        assert_eq!(truncate_ident("é".repeat(40)), "é".repeat(31));
    }
}
