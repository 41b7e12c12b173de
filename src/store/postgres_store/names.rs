//! SQL identifiers and literals: quoting, and the per-namespace names of the table,
//! the NOTIFY channel and the trigger function (cut to PostgreSQL's identifier
//! length), the table and function qualified by their schema.

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
fn channel_name(namespace: &str) -> String {
    truncate_ident(format!("joblock_{namespace}"))
}

/// The trigger function of a namespace. One per namespace, so that namespaces share
/// no database object and creating one never contends with creating another.
fn notify_function_name(namespace: &str) -> String {
    truncate_ident(format!("joblock_notify_{namespace}"))
}

/// The name of the change-notification trigger on every namespace's table. A
/// trigger belongs to its table, so it is never schema-qualified.
pub(super) const TRIGGER_NAME: &str = "joblock_notify";

/// Every server-side name of one namespace, fixed when the store is opened.
///
/// The schema is the one the first connection's `current_schema()` resolved to:
/// where an unqualified `CREATE TABLE` would have put the table, so tables made by
/// older versions (which sent unqualified names) are found again, and a role whose
/// search_path starts at its own schema keeps working. Every statement then names
/// the table and the function with that schema, so nothing a search_path does later
/// (another schema earlier on the path, a table of the same name elsewhere, a
/// session's `SET search_path`) can point a statement at another table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Names {
    /// The schema, unquoted.
    pub(super) schema: String,
    /// The namespace as written: the table's unquoted name.
    pub(super) namespace: String,
    /// `"schema"."namespace"`, for SQL text.
    pub(super) table: String,
    /// The trigger function's unquoted name.
    pub(super) function_name: String,
    /// `"schema"."joblock_notify_<namespace>"`, for SQL text.
    pub(super) function: String,
    /// The NOTIFY channel (unquoted; channels are per database, not per schema).
    pub(super) channel: String,
}

impl Names {
    /// The names of `namespace` in `schema`.
    pub(super) fn new(schema: &str, namespace: &str) -> Names {
        let function_name = notify_function_name(namespace);
        Names {
            schema: schema.to_string(),
            namespace: namespace.to_string(),
            table: format!("{}.{}", quote_ident(schema), quote_ident(namespace)),
            function: format!("{}.{}", quote_ident(schema), quote_ident(&function_name)),
            function_name,
            channel: channel_name(namespace),
        }
    }

    /// `schema.namespace` as people read it, for messages.
    pub(super) fn shown(&self) -> String {
        format!("{}.{}", self.schema, self.namespace)
    }
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
    fn names_are_qualified_by_their_schema_and_quoted() {
        let names = Names::new("app", "jobs");
        assert_eq!(names.table, "\"app\".\"jobs\"");
        assert_eq!(names.function, "\"app\".\"joblock_notify_jobs\"");
        assert_eq!(names.function_name, "joblock_notify_jobs");
        assert_eq!(names.channel, "joblock_jobs");
        assert_eq!(names.shown(), "app.jobs");
        // A schema name with a quote cannot end its identifier early.
        assert_eq!(Names::new("a\"b", "jobs").table, "\"a\"\"b\".\"jobs\"");
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
