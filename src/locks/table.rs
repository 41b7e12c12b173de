//! An aligned text table whose every cell is made printable first (cells hold
//! store text: keys, owners, host names, command lines).

use std::io::{self, Write};

use ratatui::text::Span;

use crate::sanitize::printable;

/// Writes `header` and `rows` as columns two spaces apart, each as wide as its
/// widest cell (on screen, so wide characters count double); the last column is
/// not padded.
pub fn write_table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let clean = |cells: &[String]| -> Vec<String> {
        cells.iter().map(|c| printable(c).into_owned()).collect()
    };
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let lines: Vec<Vec<String>> = std::iter::once(head)
        .chain(rows.iter().map(|r| clean(r)))
        .collect();
    let mut widths = vec![0; header.len()];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(width(cell));
        }
    }
    for line in &lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i + 1 == line.len() {
                text.push_str(cell);
            } else {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(width(cell));
                text.push_str(cell);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        writeln!(out, "{}", text.trim_end())?;
    }
    Ok(())
}

/// The cells a string takes on a terminal.
fn width(s: &str) -> usize {
    Span::raw(s).width()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[Vec<String>]) -> String {
        let mut out = Vec::new();
        write_table(&mut out, &["key", "owner", "command"], rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn columns_line_up_under_their_headers() {
        let rows = vec![
            vec!["a".into(), "owner-1".into(), "sleep 1".into()],
            vec!["longer:key".into(), "-".into(), "-".into()],
        ];
        assert_eq!(
            table(&rows),
            "key         owner    command\n\
             a           owner-1  sleep 1\n\
             longer:key  -        -\n"
        );
    }

    #[test]
    fn control_characters_in_cells_are_escaped() {
        let rows = vec![vec!["k\u{1b}[2J".into(), "o\nx".into(), "c".into()]];
        let text = table(&rows);
        assert!(text.contains("k\\e[2J") && text.contains("o\\nx"), "{text}");
        assert_eq!(text.lines().count(), 2, "{text}");
    }
}
