//! The module graph has no cycles: each file-module may use the ones below it, never one that
//! (directly or not) uses it back. Read from the sources the way a newcomer reads them: every
//! `crate::a::b` path, every `super::` path and every re-export of a child module is an edge.
//! Test code (from `#[cfg(test)]` to the end of a file) is left out: tests may look anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `src/a/b.rs` -> `a::b`, `src/a/mod.rs` -> `a`; `lib.rs` and `main.rs` are the roots, not nodes.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] || parts.is_empty() {
        return None;
    }
    Some(parts.join("::"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its tests and without comment lines.
fn non_test_code(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    code.lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("//") || t.starts_with("/*") || t.starts_with('*'))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The longest known module that `path` (a `::`-separated path) starts with.
fn resolve(modules: &BTreeSet<String>, path: &[&str]) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// The module paths written after `prefix` (`crate::`, `super::`), with one level of
/// `use a::{b, c::d}` groups expanded to `a::b` and `a::c::d`.
fn idents_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let is_path_char = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let is_module = |p: &&str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_lowercase() || c == '_' || c.is_ascii_digit())
    };
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let written = rest.split(|c: char| !is_path_char(c)).next().unwrap_or("");
        let base: Vec<String> = written
            .split("::")
            .take_while(is_module)
            .map(str::to_string)
            .collect();
        let after = &rest[written.len()..];
        if written.ends_with("::") && after.starts_with('{') {
            let group = &after[1..after.find('}').unwrap_or(after.len())];
            for item in group.split(',') {
                let item = item
                    .trim()
                    .split(|c: char| !is_path_char(c))
                    .next()
                    .unwrap_or("");
                let mut path = base.clone();
                path.extend(item.split("::").take_while(is_module).map(str::to_string));
                out.push(path);
            }
        }
        out.push(base);
    }
    out
}

fn edges(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let by_module: Vec<(String, String)> = files
        .iter()
        .filter_map(|f| {
            let m = module_of(src, f)?;
            Some((
                m,
                non_test_code(&std::fs::read_to_string(f).expect("read source")),
            ))
        })
        .collect();
    let modules: BTreeSet<String> = by_module.iter().map(|(m, _)| m.clone()).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &by_module {
        let parent: Vec<&str> = module.split("::").collect();
        let parent = &parent[..parent.len() - 1];
        let mut targets = BTreeSet::new();
        for path in idents_after(code, "crate::") {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            targets.extend(resolve(&modules, &path));
        }
        for path in idents_after(code, "super::") {
            let full: Vec<&str> = parent
                .iter()
                .copied()
                .chain(path.iter().map(String::as_str))
                .collect();
            targets.extend(resolve(&modules, &full));
        }
        // `pub use child::Item` in a parent module.
        for line in code.lines() {
            let t = line.trim_start();
            let t = t.strip_prefix("pub ").unwrap_or(t);
            if let Some(rest) = t.strip_prefix("use ") {
                let rest = rest.strip_prefix("self::").unwrap_or(rest);
                let first = rest.split("::").next().unwrap_or("");
                let child = format!("{module}::{first}");
                if modules.contains(&child) {
                    targets.insert(child);
                }
            }
        }
        targets.remove(module);
        graph.insert(module.clone(), targets);
    }
    graph
}

/// Every cycle's members (strongly connected components of more than one module).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Reachability is enough at this size (~100 modules): a and b are in one cycle when each
    // reaches the other.
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for m in graph.keys() {
        if done.contains(m) || !reaches[m].contains(m) {
            continue;
        }
        let members: Vec<String> = reaches[m]
            .iter()
            .filter(|o| reaches.get(o).is_some_and(|r| r.contains(m)))
            .cloned()
            .collect();
        done.extend(members.iter().cloned());
        out.push(members);
    }
    out
}

#[test]
fn the_module_graph_has_no_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = edges(&src);
    assert!(
        graph.len() > 50,
        "the walk found the modules: {}",
        graph.len()
    );
    assert!(
        graph["commands::cut_rc"].contains("release::rc"),
        "the walk sees edges: {:?}",
        graph["commands::cut_rc"]
    );
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "import cycles (each line: modules that use each other, directly or not):\n{}",
        found
            .iter()
            .map(|c| c.join(" <-> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_checker_sees_a_cycle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    graph.insert("d".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
}

/// The placeholders hints use, as a person would fill them in.
const PLACEHOLDERS: &[(&str, &str)] = &[
    ("{env}", "prod"),
    ("{e}", "prod"),
    ("ENV", "prod"),
    ("{role}", "idp"),
    ("{r}", "idp"),
    ("{target}", "idp"),
    ("ROLE", "idp"),
    ("{n}", "1"),
    ("{pr}", "1"),
    ("N", "1"),
    ("TEXT", "why"),
    ("{again}", ""),
    ("{0}", ""),
];

/// Splits a command as a shell would (words, and `\"...\"` as one word).
fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = command.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix("\\\"") {
            let end = quoted.find("\\\"").expect("a closed quote");
            words.push(quoted[..end].to_string());
            rest = quoted[end + 2..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    words
}

/// Every `login-release ...` command quoted in a message is one the binary accepts: a hint
/// whose own command is refused (`ls-servers prod` for `ls-servers -e prod`) sends the reader
/// from one error to another. Commands built from positional `{}` are left out: what fills them
/// is not known here.
#[test]
fn commands_quoted_in_messages_parse() {
    use clap::Parser as _;
    let mut files = Vec::new();
    rust_files(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut checked = 0;
    let mut refused = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for quoted in text.split('`').skip(1).step_by(2) {
            for command in quoted.split(" && ") {
                let Some(args) = command.strip_prefix("login-release ") else {
                    continue;
                };
                // A doc comment's quote may wrap; only messages are checked.
                if args.contains('\n') {
                    continue;
                }
                if args.contains("{}") || args.contains("...") || args.starts_with('{') {
                    continue;
                }
                let mut filled = args.to_string();
                for (placeholder, value) in PLACEHOLDERS {
                    filled = filled.replace(placeholder, value);
                }
                let words =
                    std::iter::once("login-release".to_string()).chain(shell_words(&filled));
                match login_release::cli::Cli::try_parse_from(words) {
                    Ok(_) => {}
                    Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {}
                    Err(e) => refused.push(format!(
                        "{}: `login-release {args}`: {}",
                        f.display(),
                        e.to_string().lines().next().unwrap_or_default()
                    )),
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "only {checked} quoted commands found");
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}
