//! A small import checker for `src/`: finds every `crate::` and `super::` path in
//! a source file (use groups included), resolves it to the module it names, and
//! checks the module graph against a table of allowed imports and for cycles.
//!
//! It reads source text, not a compiler's view: comments and string literals are
//! blanked first; in-file `#[cfg(test)] mod NAME { .. }` blocks count as their
//! file's code, with `super::` meaning that file's module.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

/// One source file of the library.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its path, for messages (`src/engine/run.rs`).
    pub path: String,
    /// Its module path (`engine::run`; `engine` for `engine/mod.rs`).
    pub module: String,
    /// Its text.
    pub text: String,
}

/// An import of `to` by module `from`, seen in file `path`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// The importing module.
    pub from: String,
    /// The imported module.
    pub to: String,
    /// Where the import is.
    pub path: String,
}

/// Every `.rs` file under `src` that belongs to the library (the binary's
/// `main.rs` and the modules it declares, such as `cli.rs`, are left out).
pub fn read_sources(src: &Path) -> io::Result<Vec<Source>> {
    let mut out = Vec::new();
    let binary = binary_modules(&src.join("main.rs"))?;
    walk(src, src, &binary, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The files of the binary: `main.rs` and each `mod NAME;` it declares.
fn binary_modules(main: &Path) -> io::Result<Vec<String>> {
    let text = std::fs::read_to_string(main)?;
    let mut files = vec!["main.rs".to_string()];
    for line in text.lines() {
        if let Some(name) = line
            .trim()
            .strip_prefix("mod ")
            .and_then(|r| r.strip_suffix(';'))
        {
            files.push(format!("{}.rs", name.trim()));
        }
    }
    Ok(files)
}

fn walk(root: &Path, dir: &Path, binary: &[String], out: &mut Vec<Source>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(root, &path, binary, out)?;
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        if binary.contains(&rel) {
            continue;
        }
        let stem = rel.trim_end_matches(".rs");
        let module = match stem {
            "lib" => String::new(),
            s => s.trim_end_matches("/mod").replace('/', "::"),
        };
        out.push(Source {
            path: format!("src/{rel}"),
            module,
            text: std::fs::read_to_string(&path)?,
        });
    }
    Ok(())
}

/// Every import edge between two different modules.
pub fn edges(sources: &[Source]) -> Vec<Edge> {
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|s| segments(&s.module)).collect();
    let mut out = BTreeSet::new();
    for s in sources {
        let own = segments(&s.module);
        let (code, blocks) = split_test_blocks(&blank_comments_and_strings(&s.text));
        // An in-file test module's `super::` is its file's module; what it imports
        // counts as the file's import.
        let scopes =
            std::iter::once((own.clone(), code)).chain(blocks.into_iter().map(|(name, body)| {
                let mut inner = own.clone();
                inner.push(name);
                (inner, body)
            }));
        for (scope, code) in scopes {
            for path in paths_in(&code) {
                let Some(full) = resolve(&scope, &path) else {
                    continue;
                };
                let target = longest_module(&modules, &full);
                if target != own {
                    out.insert(Edge {
                        from: s.module.clone(),
                        to: target.join("::"),
                        path: s.path.clone(),
                    });
                }
            }
        }
    }
    out.into_iter().collect()
}

/// Module -> the modules it imports.
pub fn module_graph(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in sources.iter().filter(|s| !s.module.is_empty()) {
        g.entry(s.module.clone()).or_default();
    }
    for e in edges(sources) {
        g.entry(e.from).or_default().insert(e.to);
    }
    g
}

/// Every broken rule, one line each: imports the table does not allow, top-level
/// modules without a row, and import cycles among siblings at any level.
pub fn check(sources: &[Source], allowed: &[(&str, &[&str])]) -> Vec<String> {
    let mut problems = Vec::new();
    let all = edges(sources);
    for e in &all {
        let (from, to) = (top(&e.from), top(&e.to));
        if from.is_empty() || to.is_empty() || from == to {
            continue;
        }
        match allowed.iter().find(|(name, _)| *name == from) {
            None => problems.push(format!("{}: module {from} has no row in the table", e.path)),
            Some((_, ok)) if !ok.contains(&to) => problems.push(format!(
                "{}: {} imports {}, but {from} may import only {:?}",
                e.path, e.from, e.to, ok
            )),
            Some(_) => {}
        }
    }
    problems.extend(cycles(&all));
    problems.dedup();
    problems
}

/// The first segment of a module path.
fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or("")
}

fn segments(module: &str) -> Vec<String> {
    module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Sibling edges, grouped by parent: `a::x -> a::y` for an import of `a::y::z` by
/// `a::x::w`. A child and its ancestor are one unit, so those edges do not count.
fn cycles(all: &[Edge]) -> Vec<String> {
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for e in all {
        let (a, b) = (segments(&e.from), segments(&e.to));
        let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        if common >= a.len() || common >= b.len() {
            continue;
        }
        let from = a[..=common].join("::");
        let to = b[..=common].join("::");
        graph
            .entry(from)
            .or_default()
            .entry(to)
            .or_insert_with(|| e.path.clone());
    }
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        while let Some((node, trail)) = stack.pop() {
            for next in graph.get(&node).map(|m| m.keys()).into_iter().flatten() {
                if next == start {
                    // Name each cycle once, from its smallest member.
                    if trail.iter().all(|m| m >= start) {
                        let mut ring = trail.clone();
                        ring.push(start.clone());
                        let via: Vec<String> = ring
                            .windows(2)
                            .filter_map(|w| graph.get(&w[0]).and_then(|m| m.get(&w[1])))
                            .cloned()
                            .collect();
                        found.insert(format!(
                            "import cycle: {} (in {})",
                            ring.join(" -> "),
                            via.join(", ")
                        ));
                    }
                } else if !trail.contains(next) {
                    let mut t = trail.clone();
                    t.push(next.clone());
                    stack.push((next.clone(), t));
                }
            }
        }
    }
    found.into_iter().collect()
}

/// The longest prefix of `path` that is a module.
fn longest_module(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Vec<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
        .unwrap_or_default()
}

/// A path as written: where it starts and its segments after that.
struct Written {
    supers: usize,
    from_crate: bool,
    rest: Vec<String>,
}

/// The absolute module path `p` names from inside module `own`.
fn resolve(own: &[String], p: &Written) -> Option<Vec<String>> {
    let mut base = if p.from_crate {
        Vec::new()
    } else {
        own.get(..own.len().checked_sub(p.supers)?)?.to_vec()
    };
    base.extend(p.rest.iter().cloned());
    Some(base)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every `crate::...` and `super::...` path, use groups expanded.
fn paths_in(code: &str) -> Vec<Written> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':');
        if boundary && (starts(&chars, i, "crate::") || starts(&chars, i, "super::")) {
            let from_crate = starts(&chars, i, "crate::");
            let mut j = i;
            let mut supers = 0;
            if from_crate {
                j += "crate::".len();
            } else {
                while starts(&chars, j, "super::") {
                    supers += 1;
                    j += "super::".len();
                }
            }
            let mut tails = Vec::new();
            j = tree(&chars, j, Vec::new(), &mut tails);
            for rest in tails {
                out.push(Written {
                    supers,
                    from_crate,
                    rest,
                });
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn starts(chars: &[char], i: usize, s: &str) -> bool {
    s.chars()
        .enumerate()
        .all(|(k, c)| chars.get(i + k) == Some(&c))
}

fn skip_space(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

/// Reads a use tree at `i` (after a `::`), pushing each complete path onto `out`;
/// returns where it ended.
fn tree(chars: &[char], i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut i = skip_space(chars, i);
    if chars.get(i) == Some(&'{') {
        i += 1;
        loop {
            i = skip_space(chars, i);
            match chars.get(i) {
                None => return i,
                Some('}') => return i + 1,
                Some(',') => i += 1,
                Some(_) => {
                    let before = i;
                    i = tree(chars, i, prefix.clone(), out);
                    if i == before {
                        i += 1;
                    }
                }
            }
        }
    }
    let start = i;
    while chars.get(i).is_some_and(|c| is_ident(*c)) {
        i += 1;
    }
    let word: String = chars[start..i].iter().collect();
    let mut path = prefix;
    if !word.is_empty() && word != "self" {
        path.push(word);
    }
    if starts(chars, i, "::") {
        return tree(chars, i + 2, path, out);
    }
    out.push(path);
    i
}

/// The text with comments and string and char literals replaced by spaces
/// (newlines kept), so that only code is searched.
pub fn blank_comments_and_strings(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    while i < c.len() {
        if starts(&c, i, "//") {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if starts(&c, i, "/*") {
            let mut depth = 0;
            while i < c.len() {
                if starts(&c, i, "/*") {
                    depth += 1;
                    i += 2;
                } else if starts(&c, i, "*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (starts(&c, i + 1, "\"") || starts(&c, i + 1, "#"))
            && (i == 0 || !is_ident(c[i - 1]))
        {
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            j += 1;
            while j < c.len() && !starts(&c, j, &close) {
                blank(&mut out, c[j]);
                j += 1;
            }
            i = j + close.len();
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if let Some(ch) = c.get(i) {
                    blank(&mut out, *ch);
                }
                i += 1;
            }
            i += 1;
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            i += 2;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i += 3;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The code outside its in-file `#[cfg(test)] mod NAME { .. }` blocks, and each
/// block's name and body.
pub fn split_test_blocks(code: &str) -> (String, Vec<(String, String)>) {
    let mut out = String::new();
    let mut blocks = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let is_block = trimmed.starts_with("mod ")
            && trimmed
                .find(['{', ';'])
                .is_some_and(|k| trimmed.as_bytes()[k] == b'{');
        if !is_block {
            out.push_str("#[cfg(test)]");
            rest = after;
            continue;
        }
        let brace = trimmed.find('{').unwrap_or(0);
        let name = trimmed["mod ".len()..brace].trim().to_string();
        let open = after.len() - trimmed.len() + brace;
        let mut depth = 0;
        let mut end = after.len();
        for (k, ch) in after[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        blocks.push((name, after[open..end].to_string()));
        rest = &after[end..];
    }
    out.push_str(rest);
    (out, blocks)
}
