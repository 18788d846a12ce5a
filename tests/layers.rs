//! The layering check: no module imports from a layer above its own, no two top-level
//! modules of one layer import each other, directly or round a cycle, and no two
//! submodules of one of the [`FOLDERS`] do either.
//!
//! [`LAYERS`] is the layout, leaves first; ARCHITECTURE.md describes each layer.
//! The checker reads every `.rs` file under `src/` and resolves each `use crate::…`,
//! `crate::…` path, `super::…` path and `mod` declaration to the top-level module it
//! points into. `src/lib.rs`'s `mod` declarations must each name a module of the table,
//! so a new top-level module cannot slip in without a layer.
//!
//! Unit tests (`#[cfg(test)] mod tests`) are held to the same rule as the code beside
//! them: a test that imports upward pins its module to the layer above just as firmly
//! (the lower layer no longer builds or tests without it), and a test that needs the
//! layers above belongs with them or in `tests/`.
//!
//! Plain Rust on purpose: a small lexer (comments, strings and char literals are
//! skipped, so `crate::` in a doc comment is not an import) is all the check needs, and
//! it adds no dependency.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;

/// The layers, leaves first, each with the top-level modules (files or folders under
/// `src/`) it holds. A module may import from its own layer and the layers before it;
/// ARCHITECTURE.md says what each holds and why it sits where it does. `main` is the
/// binary (`src/main.rs`), which reaches the library as `tickpipe::`.
const LAYERS: &[(&str, &[&str])] = &[
    ("msg", &["msg"]),
    ("sys", &["sys"]),
    (
        "base",
        &["clock", "config", "escape", "universe", "latency", "merge"],
    ),
    ("codec", &["codec"]),
    ("tools", &["tools"]),
    ("stages", &["stages"]),
    ("io", &["source", "venue", "journal"]),
    ("runtime", &["runtime"]),
    ("app", &["app", "main"]),
];

/// The folders whose submodules (`stages::risk`, `runtime::pipeline`, …) may not import
/// each other round a cycle either, so that each folder reads as a stack of parts too:
/// the two where circles grew unseen (risk, the journal's seam and the coordinator
/// through the reject codes; seven files of the runtime round the pipeline). A
/// path to the folder's own `mod.rs` (`crate::stages::Control`, or a name it re-exports,
/// as `crate::stages::ShardReport`) is not an import of a submodule: the parent is what
/// its submodules stand on. Files inside one submodule (`risk/mod.rs` and `risk/stats.rs`)
/// are one part.
const FOLDERS: &[&str] = &["stages", "runtime"];

/// The library's name, by which the binary imports it.
const CRATE_NAME: &str = "tickpipe";

/// The tree under `src/` against [`LAYERS`]: prints every violation, then fails if any.
#[test]
fn src_respects_the_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_tree(&root, &root, &mut files);
    let violations = check(&files, LAYERS, FOLDERS);
    for v in &violations {
        println!("{v}");
    }
    assert!(
        violations.is_empty(),
        "{} layering violations (listed above; the layer table is in tests/layers.rs)",
        violations.len()
    );
}

#[test]
fn the_table_names_each_module_once() {
    let mut seen = BTreeSet::new();
    for (_, modules) in LAYERS {
        for m in *modules {
            assert!(seen.insert(*m), "'{m}' is in two layers");
        }
    }
}

/// One source file: its path relative to `src/` (with `/`), and its text.
struct SourceFile {
    path: String,
    text: String,
}

fn read_tree(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_tree(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src/");
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy());
            out.push(SourceFile {
                path: rel.collect::<Vec<_>>().join("/"),
                text: std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            });
        }
    }
}

/// Every violation in `files` against `layers` and `folders`, one line each, in file and
/// line order.
fn check(files: &[SourceFile], layers: &[(&str, &[&str])], folders: &[&str]) -> Vec<String> {
    let layer_of: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, (_, modules))| modules.iter().map(move |m| (*m, i)))
        .collect();
    // Every submodule of a folder, as `folder::name`: the second segment of a file's
    // module path.
    let submodules: BTreeSet<String> = files
        .iter()
        .map(|f| module_path(&f.path))
        .filter(|m| m.len() >= 2 && folders.contains(&m[0].as_str()))
        .map(|m| format!("{}::{}", m[0], m[1]))
        .collect();
    let mut out = Vec::new();
    // Imports between distinct modules of one layer, and between distinct submodules of
    // one folder, for the cycle checks: (file, the reference, its module, the module it
    // imports).
    let mut same_layer: Vec<Import> = Vec::new();
    let mut same_folder: Vec<Import> = Vec::new();
    for file in files {
        let module = module_path(&file.path);
        for r in references(&module, &file.text) {
            if let (Some(from), Some(to)) = (module.get(..2), r.target.get(..2))
                && from[0] == to[0]
                && from[1] != to[1]
            {
                let (from, to) = (from.join("::"), to.join("::"));
                if submodules.contains(&from) && submodules.contains(&to) {
                    same_folder.push((&file.path, r.clone(), from, to));
                }
            }
            let Some(to) = r.target.first().cloned() else {
                continue;
            };
            let Some(from) = module.first().cloned() else {
                // The crate root: its `mod` declarations are the top-level modules.
                if r.is_mod && !layer_of.contains_key(to.as_str()) {
                    out.push(format!(
                        "src/{}:{}: {} — module '{to}' is in no layer",
                        file.path, r.line, r.text
                    ));
                }
                continue;
            };
            if from == to {
                continue;
            }
            // A module outside the table is reported once, at its declaration.
            let (Some(&lf), Some(&lt)) = (layer_of.get(from.as_str()), layer_of.get(to.as_str()))
            else {
                continue;
            };
            if lt > lf {
                out.push(format!(
                    "src/{}:{}: {} — layer '{}' imports layer '{}' above it",
                    file.path, r.line, r.text, layers[lf].0, layers[lt].0
                ));
            } else if lt == lf {
                same_layer.push((&file.path, r, from, to));
            }
        }
    }
    for ((path, r, from, to), cycle) in closing_a_cycle(&same_layer) {
        out.push(format!(
            "src/{path}:{}: {} — '{from}' and '{to}' import each other in layer '{}' ({cycle})",
            r.line,
            r.text,
            layers[layer_of[from.as_str()]].0
        ));
    }
    for ((path, r, from, to), cycle) in closing_a_cycle(&same_folder) {
        let folder = from.split("::").next().unwrap_or("");
        out.push(format!(
            "src/{path}:{}: {} — '{from}' and '{to}' import each other inside '{folder}' ({cycle})",
            r.line, r.text,
        ));
    }
    out.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    out
}

/// An import between two modules: (file, the reference, its module, the module it
/// imports).
type Import<'a> = (&'a str, Reference, String, String);

/// Each of `imports` whose target leads back to its module over `imports`, with that
/// cycle written `from → to → … → from`.
fn closing_a_cycle<'a, 'b>(imports: &'b [Import<'a>]) -> Vec<(&'b Import<'a>, String)> {
    let edges: BTreeSet<(&str, &str)> = imports
        .iter()
        .map(|(_, _, f, t)| (f.as_str(), t.as_str()))
        .collect();
    let mut out = Vec::new();
    for import in imports {
        let (_, _, from, to) = import;
        if let Some(back) = shortest_path(&edges, to, from) {
            let mut cycle = from.clone();
            for m in back {
                write!(cycle, " → {m}").expect("writing to a String");
            }
            out.push((import, cycle));
        }
    }
    out
}

/// Orders `src/a.rs:12: …` lines by file, then numerically by line.
fn sort_key(line: &str) -> (&str, usize) {
    let mut parts = line.splitn(3, ':');
    let file = parts.next().unwrap_or("");
    let n = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    (file, n)
}

/// The modules `from` reaches `to` through, both included, over `edges`.
fn shortest_path<'a>(
    edges: &BTreeSet<(&'a str, &'a str)>,
    from: &'a str,
    to: &'a str,
) -> Option<Vec<&'a str>> {
    let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(m) = queue.pop_front() {
        if m == to {
            let mut path = vec![to];
            let mut at = to;
            while at != from {
                at = prev[at];
                path.push(at);
            }
            path.reverse();
            return Some(path);
        }
        for &(a, b) in edges {
            if a == m && b != from && !prev.contains_key(b) {
                prev.insert(b, a);
                queue.push_back(b);
            }
        }
    }
    None
}

/// The module a file defines: `stages/risk/mod.rs` → `stages::risk`; `lib.rs` → the
/// root; `main.rs` → `main`, the binary, whose own `crate::` stays inside it.
fn module_path(path: &str) -> Vec<String> {
    let path = path.strip_suffix(".rs").unwrap_or(path);
    let mut segments: Vec<String> = path.split('/').map(str::to_string).collect();
    match segments.last().map(String::as_str) {
        Some("lib") if segments.len() == 1 => Vec::new(),
        Some("mod") => {
            segments.pop();
            segments
        }
        _ => segments,
    }
}

/// A path or `mod` declaration found in a file.
#[derive(Clone, Debug)]
struct Reference {
    line: usize,
    /// As written: `use crate::x::Y` (one leaf of a `use` tree), `crate::x::f`,
    /// `mod x`.
    text: String,
    /// The absolute module path it resolves to (empty: the crate root itself).
    target: Vec<String>,
    is_mod: bool,
}

/// Every reference in `text`, a file defining `module`, that leaves the module: paths
/// through `crate`, `super` or the library's name, and `mod` declarations.
fn references(module: &[String], text: &str) -> Vec<Reference> {
    let toks = lex(text);
    let crate_root: Vec<String> = if module.first().is_some_and(|m| m == "main") {
        vec!["main".to_string()]
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    // Inline modules (`mod tests { … }`) open at a brace depth; `super` counts them.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut pending_mod: Option<String> = None;
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let here = |inline: &[(String, usize)]| -> Vec<String> {
            module
                .iter()
                .cloned()
                .chain(inline.iter().map(|(m, _)| m.clone()))
                .collect()
        };
        let t = &toks[i];
        match t.text.as_str() {
            "{" => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    inline.push((name, depth));
                }
            }
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "mod" if t.ident => {
                if let Some(name) = toks.get(i + 1).filter(|n| n.ident) {
                    match toks.get(i + 2).map(|n| n.text.as_str()) {
                        Some("{") => pending_mod = Some(name.text.clone()),
                        Some(";") => {
                            let mut target = here(&inline);
                            target.push(name.text.clone());
                            out.push(Reference {
                                line: t.line,
                                text: format!("mod {}", name.text),
                                target,
                                is_mod: true,
                            });
                        }
                        _ => {}
                    }
                    i += 2;
                    continue;
                }
            }
            "use"
                if t.ident
                    && toks
                        .get(i + 1)
                        .is_some_and(|n| n.ident || n.text == "::" || n.text == "{") =>
            {
                let mut pos = i + 1;
                let mut paths = Vec::new();
                use_tree(&toks, &mut pos, Vec::new(), &mut paths);
                let cur = here(&inline);
                for p in paths {
                    if let Some(target) = resolve(&p, &cur, &crate_root) {
                        out.push(Reference {
                            line: t.line,
                            text: format!("use {}", p.join("::")),
                            target,
                            is_mod: false,
                        });
                    }
                }
                i = pos;
                continue;
            }
            "crate" | "super" | CRATE_NAME
                if t.ident && toks.get(i + 1).is_some_and(|n| n.text == "::") =>
            {
                let mut p = vec![t.text.clone()];
                let mut pos = i + 1;
                while toks.get(pos).is_some_and(|n| n.text == "::")
                    && toks.get(pos + 1).is_some_and(|n| n.ident)
                {
                    p.push(toks[pos + 1].text.clone());
                    pos += 2;
                }
                if let Some(target) = resolve(&p, &here(&inline), &crate_root) {
                    out.push(Reference {
                        line: t.line,
                        text: p.join("::"),
                        target,
                        is_mod: false,
                    });
                }
                i = pos;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Expands one `use` tree from `toks[*pos]` into its leaf paths, each prefixed by
/// `prefix`; leaves `*pos` after the tree.
fn use_tree(toks: &[Token], pos: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    while let Some(t) = toks.get(*pos) {
        match t.text.as_str() {
            "::" => *pos += 1,
            "*" => {
                path.push("*".to_string());
                *pos += 1;
                break;
            }
            "{" => {
                *pos += 1;
                while let Some(t) = toks.get(*pos) {
                    match t.text.as_str() {
                        "}" => {
                            *pos += 1;
                            break;
                        }
                        "," => *pos += 1,
                        _ => use_tree(toks, pos, path.clone(), out),
                    }
                }
                return;
            }
            "as" if t.ident => break,
            _ if t.ident => {
                path.push(t.text.clone());
                *pos += 1;
                if toks.get(*pos).is_none_or(|n| n.text != "::") {
                    break;
                }
            }
            _ => break,
        }
    }
    if toks.get(*pos).is_some_and(|t| t.text == "as") {
        *pos += 2;
    }
    out.push(path);
}

/// The absolute module path `path`, written in module `cur`, points to; `None` for
/// paths that do not start at the crate (`std::…`, a local name, `self::…`).
fn resolve(path: &[String], cur: &[String], crate_root: &[String]) -> Option<Vec<String>> {
    let rest = |from: usize| {
        path[from..]
            .iter()
            .filter(|s| *s != "self" && *s != "*")
            .cloned()
    };
    match path.first()?.as_str() {
        "crate" => Some(crate_root.iter().cloned().chain(rest(1)).collect()),
        CRATE_NAME => Some(rest(1).collect()),
        "super" => {
            let mut base = cur.to_vec();
            let ups = path.iter().take_while(|s| *s == "super").count();
            for _ in 0..ups {
                base.pop()?;
            }
            // From the root of the binary, `super` cannot climb into the library.
            if base.is_empty() && !crate_root.is_empty() {
                return Some(crate_root.to_vec());
            }
            Some(base.into_iter().chain(rest(ups)).collect())
        }
        _ => None,
    }
}

/// A token: an identifier or keyword, or one punctuation mark (`::` counts as one).
#[derive(Debug)]
struct Token {
    text: String,
    line: usize,
    ident: bool,
}

/// Tokens of `src`, without comments, string, byte-string, raw-string and char
/// literals; lifetimes lose their quote.
fn lex(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skips a quoted literal opening at `c[i]` (`"` or `'`), escapes honoured.
    let skip_quoted = |i: &mut usize, line: &mut usize, quote: char| {
        *i += 1;
        while *i < c.len() && c[*i] != quote {
            if c[*i] == '\\' {
                *i += 1;
            }
            if c.get(*i) == Some(&'\n') {
                *line += 1;
            }
            *i += 1;
        }
        *i += 1;
    };
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let mut nest = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    nest += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    nest -= 1;
                    i += 2;
                    if nest == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            skip_quoted(&mut i, &mut line, '"');
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if c.get(i + 1) == Some(&'\\') || c.get(i + 2) == Some(&'\'') {
                skip_quoted(&mut i, &mut line, '\'');
            } else {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            // Raw strings: r"…", r#"…"#, br#"…"#, cr"…" (a raw identifier r#x is not one).
            if matches!(word.as_str(), "r" | "br" | "cr") {
                let hashes = c[i..].iter().take_while(|&&h| h == '#').count();
                if c.get(i + hashes) == Some(&'"') {
                    i += hashes + 1;
                    let close: Vec<char> = std::iter::once('"')
                        .chain(std::iter::repeat_n('#', hashes))
                        .collect();
                    while i < c.len() && !c[i..].starts_with(&close) {
                        if c[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    i += close.len();
                    continue;
                }
            }
            toks.push(Token {
                text: word,
                line,
                ident: true,
            });
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            toks.push(Token {
                text: "::".to_string(),
                line,
                ident: false,
            });
            i += 2;
        } else {
            toks.push(Token {
                text: ch.to_string(),
                line,
                ident: false,
            });
            i += 1;
        }
    }
    toks
}

#[cfg(test)]
mod checker {
    use super::*;

    const TABLE: &[(&str, &[&str])] = &[
        ("low", &["msg", "sys"]),
        ("mid", &["stages", "codec"]),
        ("high", &["runtime"]),
    ];

    const FOLDERS: &[&str] = &["stages"];

    fn run(files: &[(&str, &str)]) -> Vec<String> {
        let files: Vec<SourceFile> = files
            .iter()
            .map(|(path, text)| SourceFile {
                path: path.to_string(),
                text: text.to_string(),
            })
            .collect();
        check(&files, TABLE, FOLDERS)
    }

    #[test]
    fn an_upward_import_is_caught_with_file_line_and_layers() {
        let v = run(&[(
            "stages/risk.rs",
            "//! Risk.\n\nuse crate::runtime::edge::EdgeOut;\n",
        )]);
        assert_eq!(
            v,
            [
                "src/stages/risk.rs:3: use crate::runtime::edge::EdgeOut — layer 'mid' imports layer 'high' above it"
            ]
        );
    }

    #[test]
    fn each_leaf_of_a_use_tree_is_checked() {
        let v = run(&[(
            "stages/mod.rs",
            "use crate::{msg::Tick, runtime::{edge::{EdgeOut, EdgeIn as In}, BATCH}};",
        )]);
        assert_eq!(
            v,
            [
                "src/stages/mod.rs:1: use crate::runtime::edge::EdgeOut — layer 'mid' imports layer 'high' above it",
                "src/stages/mod.rs:1: use crate::runtime::edge::EdgeIn — layer 'mid' imports layer 'high' above it",
                "src/stages/mod.rs:1: use crate::runtime::BATCH — layer 'mid' imports layer 'high' above it",
            ]
        );
    }

    #[test]
    fn a_path_in_code_is_an_import() {
        let v = run(&[("sys/mod.rs", "fn f() { let n = crate::stages::BATCH * 2; }")]);
        assert_eq!(
            v,
            ["src/sys/mod.rs:1: crate::stages::BATCH — layer 'low' imports layer 'mid' above it"]
        );
    }

    #[test]
    fn downward_and_same_module_imports_pass() {
        let v = run(&[
            (
                "runtime/pipeline.rs",
                "use crate::stages::Emit;\nuse crate::msg::*;\nuse super::edge;",
            ),
            (
                "stages/risk/mod.rs",
                "use crate::stages::decode::Decoder;\nuse super::Emit;",
            ),
            ("msg/mod.rs", "use std::fmt;\nuse self::ids::Id;\nmod ids;"),
        ]);
        assert_eq!(v, Vec::<String>::new());
    }

    #[test]
    fn super_is_resolved_from_the_file_and_its_inline_modules() {
        // `super` from a top-level file climbs to the root and into a sibling module.
        let v = run(&[
            ("stages.rs", "use super::runtime::Runner;"),
            (
                "msg/ids.rs",
                "mod inner { use super::super::super::runtime::X; }",
            ),
            (
                "stages/risk/mod.rs",
                "use super::super::runtime::Y;\nmod t { use super::super::Ok; }",
            ),
        ]);
        assert_eq!(
            v,
            [
                "src/msg/ids.rs:1: use super::super::super::runtime::X — layer 'low' imports layer 'high' above it",
                "src/stages.rs:1: use super::runtime::Runner — layer 'mid' imports layer 'high' above it",
                "src/stages/risk/mod.rs:1: use super::super::runtime::Y — layer 'mid' imports layer 'high' above it",
            ]
        );
    }

    #[test]
    fn unit_tests_may_not_import_upward() {
        let v = run(&[(
            "stages/decode.rs",
            "fn f() {}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use crate::runtime::pipeline::Pipeline;\n}\n",
        )]);
        assert_eq!(
            v,
            [
                "src/stages/decode.rs:6: use crate::runtime::pipeline::Pipeline — layer 'mid' imports layer 'high' above it"
            ]
        );
    }

    #[test]
    fn comments_strings_and_chars_are_not_imports() {
        let src = r####"
//! See [`crate::runtime::Pipeline`].
/* use crate::runtime::A; /* nested crate::runtime::B */ crate::runtime::C */
/// Calls `crate::runtime::run`.
fn f<'a>(x: &'a str) -> &'a str {
    let _ = "use crate::runtime::D; \" crate::runtime::E";
    let _ = r#"crate::runtime::F "quoted" "#;
    let _ = b"crate::runtime::G";
    let _ = ('"', '\'', "crate::runtime::H");
    x
}
"####;
        assert_eq!(run(&[("stages/mod.rs", src)]), Vec::<String>::new());
    }

    #[test]
    fn a_path_after_a_string_still_counts_on_its_own_line() {
        let src = "fn f() {\n    let _ = \"a\nb\";\n    crate::runtime::go();\n}\n";
        assert_eq!(
            run(&[("stages/mod.rs", src)]),
            ["src/stages/mod.rs:4: crate::runtime::go — layer 'mid' imports layer 'high' above it"]
        );
    }

    #[test]
    fn a_cycle_within_a_layer_is_caught_on_every_edge() {
        let v = run(&[
            ("stages/mod.rs", "use crate::codec::itch::Message;"),
            ("codec/itch.rs", "\nuse crate::stages::Emit;"),
            ("msg/mod.rs", "use crate::sys::Latch;"),
        ]);
        assert_eq!(
            v,
            [
                "src/codec/itch.rs:2: use crate::stages::Emit — 'codec' and 'stages' import each other in layer 'mid' (codec → stages → codec)",
                "src/stages/mod.rs:1: use crate::codec::itch::Message — 'stages' and 'codec' import each other in layer 'mid' (stages → codec → stages)",
            ]
        );
    }

    #[test]
    fn a_cycle_among_a_folders_submodules_is_caught_on_every_edge() {
        let v = run(&[
            (
                "stages/mod.rs",
                "pub mod coordinator;\npub mod risk;\npub use self::risk::Risk;",
            ),
            (
                "stages/risk/mod.rs",
                "mod checks;\nuse crate::stages::coordinator::Plan;",
            ),
            ("stages/risk/checks.rs", "use super::super::Control;"),
            (
                "stages/coordinator/dca.rs",
                "use crate::msg::Side;\n\nuse crate::stages::risk::RejectCode;",
            ),
        ]);
        assert_eq!(
            v,
            [
                "src/stages/coordinator/dca.rs:3: use crate::stages::risk::RejectCode — 'stages::coordinator' and 'stages::risk' import each other inside 'stages' (stages::coordinator → stages::risk → stages::coordinator)",
                "src/stages/risk/mod.rs:2: use crate::stages::coordinator::Plan — 'stages::risk' and 'stages::coordinator' import each other inside 'stages' (stages::risk → stages::coordinator → stages::risk)",
            ]
        );
    }

    #[test]
    fn submodules_in_a_chain_and_the_parents_own_names_pass() {
        // risk → coordinator → reject is no cycle; `Control` and a re-export are the
        // parent's (`stages/mod.rs`); `codec` is no folder of the check.
        let v = run(&[
            (
                "stages/mod.rs",
                "pub use self::risk::Risk;\nuse crate::stages::risk::X;",
            ),
            (
                "stages/risk/mod.rs",
                "use crate::stages::coordinator::Plan;\nuse crate::stages::reject::RejectCode;\nuse crate::stages::{Control, Risk};",
            ),
            (
                "stages/coordinator/dca.rs",
                "use super::super::reject::RejectCode;\nuse crate::stages::Control;",
            ),
            ("stages/reject.rs", "use crate::msg::Side;"),
            ("codec/itch/mod.rs", "use crate::codec::mold::Packet;"),
            ("codec/mold/mod.rs", "use crate::codec::itch::Message;"),
        ]);
        assert_eq!(v, Vec::<String>::new());
    }

    #[test]
    fn a_top_level_module_outside_the_table_is_named_at_its_declaration() {
        let v = run(&[
            (
                "lib.rs",
                "pub mod msg;\npub mod feed;\n#[allow(unsafe_code)]\npub mod sys;",
            ),
            ("feed/mod.rs", "use crate::runtime::X;\npub mod itch;"),
        ]);
        assert_eq!(v, ["src/lib.rs:2: mod feed — module 'feed' is in no layer"]);
    }

    #[test]
    fn the_binary_reaches_the_library_by_its_name_and_its_own_items_by_crate() {
        let table: &[(&str, &[&str])] = &[("low", &["msg"]), ("app", &["main"])];
        let files = [SourceFile {
            path: "main.rs".to_string(),
            text: "use tickpipe::msg::X;\nfn f() { crate::helper(); }".to_string(),
        }];
        assert_eq!(check(&files, table, &[]), Vec::<String>::new());
        let files = [SourceFile {
            path: "msg/mod.rs".to_string(),
            text: "use tickpipe::main::Cli;".to_string(),
        }];
        assert_eq!(
            check(&files, table, &[]),
            [
                "src/msg/mod.rs:1: use tickpipe::main::Cli — layer 'low' imports layer 'app' above it"
            ]
        );
    }
}
