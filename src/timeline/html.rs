//! The picture as a self-contained HTML page: the SVG inline, so its `<title>`
//! children are native hover tooltips, and a little CSS that shows what is hovered.

use super::model::Timeline;
use super::xml::esc;

const STYLE: &str = "\
body{font:14px system-ui,sans-serif;margin:16px;color:#222;background:#fff}\
h1{font-size:18px;margin:0 0 4px}\
p.hint{color:#666;margin:0 0 12px}\
figure{margin:0;overflow-x:auto}\
svg .hold:hover,svg .dead:hover,svg .stale:hover{stroke:#111;stroke-width:1.5}\
svg .wait:hover{stroke:#111;stroke-width:3}\
svg .mark:hover{stroke:#111;stroke-width:2.5}";

/// An HTML page around `svg`, the picture of `tl`.
pub(super) fn page(tl: &Timeline, svg: &str) -> String {
    let title = match &tl.title {
        Some(t) => format!("joblock timeline: {t}"),
        None => "joblock timeline".to_string(),
    };
    let title = esc(&title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<p class=\"hint\">Hover a bar, a line or a mark: job, fence, from and to, how long it waited, how it ended.</p>\n<figure>\n{svg}</figure>\n</body>\n</html>\n"
    )
}
