//! The command line's own errors: arguments parsed without styles, and clap's
//! refusals as one plain line with exit 2 (help and version print in full).

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use joblock::sanitize::printable;

use crate::USAGE;
use crate::cli::Cli;

/// The arguments, parsed without styles: a styled error is text with escape
/// sequences in it, and stripping them would strip those a user typed too (an
/// argument `\e[2J` would vanish from the line that refuses it).
pub(crate) fn parse() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command()
        .styles(clap::builder::Styles::plain())
        .try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

/// Help and version print in full (styled); every other parse error is one line,
/// exit 2.
pub(crate) fn usage_error(e: &clap::Error) -> ExitCode {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        // Parsed again with the usual styles, for the help's headings.
        match Cli::try_parse() {
            Err(styled) => {
                let _ = styled.print();
            }
            Ok(_) => {
                let _ = e.print();
            }
        }
        return ExitCode::SUCCESS;
    }
    eprintln!("{}", printable(&one_line(e)));
    ExitCode::from(USAGE)
}

/// clap's message as one line: its first paragraph (a list of missing arguments
/// joined on), then its tips in brackets (`a similar argument exists: '--lease'`).
fn one_line(e: &clap::Error) -> String {
    use clap::error::ContextValue;
    let mut text = e.render().ansi().to_string();
    let mut typed: Vec<&str> = Vec::new();
    for (_, value) in e.context() {
        match value {
            ContextValue::String(s) => typed.push(s),
            ContextValue::Strings(v) => typed.extend(v.iter().map(String::as_str)),
            _ => {}
        }
    }
    // clap quotes what was typed as it was typed: a line break in it would end the
    // line before the flag is named, so it is escaped first (longest first, so a
    // value inside another is not escaped twice). One of nothing but line breaks
    // and blanks is escaped where clap quotes it only.
    typed.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in typed {
        let shown = printable(s);
        if shown == s {
            continue;
        }
        text = if s.chars().any(|c| !c.is_whitespace() && !c.is_control()) {
            text.replace(s, &shown)
        } else {
            text.replace(&format!("'{s}'"), &format!("'{shown}'"))
        };
    }
    let mut paragraphs = text.split("\n\n");
    let mut line: Vec<String> = paragraphs
        .next()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if line.is_empty() {
        line.push("error: bad arguments".to_string());
    }
    let tips = paragraphs.flat_map(str::lines).map(str::trim);
    line.extend(
        tips.filter(|l| l.starts_with("tip:"))
            .map(|t| format!("({t})")),
    );
    line.join(" ")
}
