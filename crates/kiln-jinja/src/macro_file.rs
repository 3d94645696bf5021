//! Splitting macro files into one template per macro.
//!
//! dbt makes every macro callable from everywhere without an import. Kiln registers each
//! `{% macro %}` (and each `{% test %}`, as the macro `test_<name>`, which is what dbt does) as
//! a template of its own, named `<file>::<macro>` and padded with newlines so that line numbers
//! in errors are the file's. Calls between macros then always go through Kiln's global macro
//! functions, which is what makes `return()` and package resolution work.

use std::path::Path;

use kiln_core::{Diagnostic, Location};

/// What kind of block was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Macro,
    Test,
    Materialization,
}

/// One macro of a file, ready to be registered as a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroSource {
    pub name: String,
    pub kind: BlockKind,
    pub line: usize,
    /// The template text: newlines up to `line`, then the block (a `test` block rewritten to a
    /// `macro` block named `test_<name>`).
    pub template: String,
}

/// A `{% ... %}` tag: byte range and its words.
struct Tag<'a> {
    start: usize,
    end: usize,
    keyword: &'a str,
    rest: &'a str,
}

/// Scans for block tags, skipping comments and raw blocks.
fn tags(text: &str) -> impl Iterator<Item = Tag<'_>> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        loop {
            let start = pos + text[pos..].find('{')?;
            let next = text[start + 1..].chars().next()?;
            match next {
                '#' => {
                    pos = text[start..]
                        .find("#}")
                        .map_or(text.len(), |end| start + end + 2);
                }
                '%' => {
                    let close = start + text[start..].find("%}")?;
                    pos = close + 2;
                    let inner = text[start + 2..close]
                        .trim_start_matches(['-', '+'])
                        .trim_end_matches(['-', '+'])
                        .trim();
                    let (keyword, rest) =
                        inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
                    if keyword == "raw" {
                        // Skip to the end of the raw block.
                        let mut search = pos;
                        while let Some(open) = text[search..].find("{%") {
                            let open = search + open;
                            let Some(close) = text[open..].find("%}") else {
                                break;
                            };
                            let inner = text[open + 2..open + close].trim_matches(['-', '+', ' ']);
                            search = open + close + 2;
                            if inner == "endraw" {
                                break;
                            }
                        }
                        pos = search;
                        continue;
                    }
                    return Some(Tag {
                        start,
                        end: close + 2,
                        keyword,
                        rest: rest.trim(),
                    });
                }
                _ => pos = start + 1,
            }
        }
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// The macro name in `name(args...)`.
fn block_name(rest: &str) -> &str {
    rest.split(['(', ',', ' ']).next().unwrap_or("").trim()
}

/// The adapter of `{% materialization name, default %}` or
/// `{% materialization name, adapter='postgres', supported_languages=['sql'] %}`.
fn materialization_adapter(rest: &str) -> &str {
    for argument in rest.split(',').skip(1).map(str::trim) {
        if argument == "default" {
            return "default";
        }
        if let Some(value) = argument.strip_prefix("adapter") {
            let value = value.trim_start().trim_start_matches('=').trim();
            return value.trim_matches(['\'', '"']);
        }
    }
    "default"
}

/// Splits a macro file into its macros (a `materialization` block as the macro
/// `materialization_<name>_<adapter>`, as dbt names it).
pub fn split(file: &Path, text: &str) -> Result<Vec<MacroSource>, Diagnostic> {
    let mut macros = Vec::new();
    let mut open: Option<(Tag<'_>, BlockKind)> = None;
    let mut depth = 0;
    for tag in tags(text) {
        let kind = match tag.keyword {
            "macro" => Some(BlockKind::Macro),
            "test" => Some(BlockKind::Test),
            "materialization" => Some(BlockKind::Materialization),
            _ => None,
        };
        let end_kind = match tag.keyword {
            "endmacro" => Some(BlockKind::Macro),
            "endtest" => Some(BlockKind::Test),
            "endmaterialization" => Some(BlockKind::Materialization),
            _ => None,
        };
        if let Some(kind) = kind {
            if open.is_none() {
                open = Some((tag, kind));
            } else {
                depth += 1;
            }
        } else if let Some(end_kind) = end_kind {
            if depth > 0 {
                depth -= 1;
                continue;
            }
            let Some((start_tag, kind)) = open.take() else {
                return Err(Diagnostic::error(format!(
                    "`{{% {} %}}` without an opening block",
                    tag.keyword
                ))
                .at(Location::new(file, line_of(text, tag.start))));
            };
            if end_kind != kind {
                return Err(Diagnostic::error(format!(
                    "`{{% {} %}}` closes a `{}` block",
                    tag.keyword, start_tag.keyword
                ))
                .at(Location::new(file, line_of(text, tag.start))));
            }
            let mut name = block_name(start_tag.rest).to_owned();
            let line = line_of(text, start_tag.start);
            let body = &text[start_tag.end..tag.start];
            let mut template = "\n".repeat(line - 1);
            match kind {
                BlockKind::Macro => template.push_str(&text[start_tag.start..tag.end]),
                BlockKind::Test => {
                    template.push_str(&format!("{{% macro test_{} %}}", start_tag.rest));
                    template.push_str(body);
                    template.push_str("{% endmacro %}");
                }
                BlockKind::Materialization => {
                    // dbt's name for it: `materialization_<name>_<adapter>`.
                    name = format!(
                        "materialization_{name}_{}",
                        materialization_adapter(start_tag.rest)
                    );
                    template.push_str(&format!("{{% macro {name}() %}}"));
                    template.push_str(body);
                    template.push_str("{% endmacro %}");
                }
            }
            macros.push(MacroSource {
                name,
                kind,
                line,
                template,
            });
        }
    }
    if let Some((tag, _)) = open {
        return Err(Diagnostic::error(format!(
            "`{{% {} {} %}}` is never closed",
            tag.keyword,
            block_name(tag.rest)
        ))
        .at(Location::new(file, line_of(text, tag.start)))
        .help(format!(
            "add `{{% end{} %}}` at the end of the block",
            tag.keyword
        )));
    }
    Ok(macros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_macros_and_keeps_lines() {
        let text = "{# a comment with {% macro fake() %} #}\n{% macro a(x) %}{{ x }}{% endmacro %}\n\n{%- macro b() -%}\n{{ a(1) }}\n{%- endmacro %}\n";
        let macros = split(Path::new("m.sql"), text).unwrap();
        let names: Vec<_> = macros.iter().map(|m| (m.name.as_str(), m.line)).collect();
        assert_eq!(names, [("a", 2), ("b", 4)]);
        assert!(macros[1].template.starts_with("\n\n\n{%- macro b()"));
    }

    #[test]
    fn tests_become_test_prefixed_macros() {
        let text = "{% test positive(model, column_name) %}\nselect 1\n{% endtest %}";
        let macros = split(Path::new("t.sql"), text).unwrap();
        assert_eq!(macros[0].name, "positive");
        assert_eq!(macros[0].kind, BlockKind::Test);
        assert!(
            macros[0]
                .template
                .starts_with("{% macro test_positive(model, column_name) %}")
        );
        assert!(macros[0].template.ends_with("{% endmacro %}"));
    }

    #[test]
    fn materializations_become_macros_named_as_dbt_names_them() {
        let text = "{% materialization a, default %}x{% endmaterialization %}\n\
                    {%- materialization b, adapter='postgres', supported_languages=['sql'] -%}\n\
                    y{% endmaterialization %}";
        let macros = split(Path::new("m.sql"), text).unwrap();
        let names: Vec<_> = macros.iter().map(|m| (m.name.as_str(), m.line)).collect();
        assert_eq!(
            names,
            [
                ("materialization_a_default", 1),
                ("materialization_b_postgres", 2)
            ]
        );
        assert_eq!(
            macros[1].template,
            "\n{% macro materialization_b_postgres() %}\ny{% endmacro %}"
        );
    }

    #[test]
    fn unclosed_macro_names_its_line() {
        let error = split(Path::new("m.sql"), "\n{% macro a() %}\nselect 1\n").unwrap_err();
        assert_eq!(error.location.unwrap().line, 2);
        assert!(error.message.contains("never closed"), "{}", error.message);
    }

    #[test]
    fn raw_blocks_are_skipped() {
        let text = "{% raw %}{% macro no() %}{% endraw %}{% macro yes() %}1{% endmacro %}";
        let macros = split(Path::new("m.sql"), text).unwrap();
        assert_eq!(macros.len(), 1);
        assert_eq!(macros[0].name, "yes");
    }
}
