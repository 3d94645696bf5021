//! `{% docs name %}...{% enddocs %}` blocks in Markdown files, for `doc('name')` in YAML.

use std::path::Path;

use kiln_core::diagnostic::{Diagnostic, Location};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocBlock {
    pub name: String,
    pub text: String,
    pub location: Location,
}

/// Finds every docs block in a Markdown file.
pub fn parse(file: &Path, text: &str) -> Result<Vec<DocBlock>, Diagnostic> {
    let mut blocks = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some((start, end, inner)) = next_tag(rest) {
        let words: Vec<&str> = inner.split_whitespace().collect();
        let line = text[..offset + start].matches('\n').count() + 1;
        match words.as_slice() {
            ["docs", name] => {
                let body_start = end;
                let Some((close_start, close_end)) = find_end(&rest[body_start..]) else {
                    return Err(Diagnostic::error(format!(
                        "docs block `{name}` has no `{{% enddocs %}}`"
                    ))
                    .at(Location::new(file, line)));
                };
                let body = &rest[body_start..body_start + close_start];
                blocks.push(DocBlock {
                    name: (*name).to_owned(),
                    text: body.trim().to_owned(),
                    location: Location::new(file, line),
                });
                let consumed = body_start + close_end;
                offset += consumed;
                rest = &rest[consumed..];
            }
            _ => {
                offset += end;
                rest = &rest[end..];
            }
        }
    }
    Ok(blocks)
}

/// The next `{% ... %}` tag: (start, end, inner text without `-` markers).
fn next_tag(text: &str) -> Option<(usize, usize, &str)> {
    let start = text.find("{%")?;
    let close = text[start..].find("%}")? + start;
    let inner = text[start + 2..close]
        .trim_start_matches('-')
        .trim_end_matches('-');
    Some((start, close + 2, inner))
}

fn find_end(text: &str) -> Option<(usize, usize)> {
    let mut search = 0;
    while let Some((start, end, inner)) = next_tag(&text[search..]) {
        if inner.trim() == "enddocs" {
            return Some((search + start, search + end));
        }
        search += end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_with_lines() {
        let text = "# Docs\n\n{% docs order_status %}\nOne of *placed*, *shipped*.\n{% enddocs %}\n{%- docs other -%}x{%- enddocs -%}\n";
        let blocks = parse(Path::new("models/docs.md"), text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].name, "order_status");
        assert_eq!(blocks[0].text, "One of *placed*, *shipped*.");
        assert_eq!(blocks[0].location.line, 3);
        assert_eq!(blocks[1].text, "x");
    }

    #[test]
    fn unclosed_block_is_an_error() {
        assert!(parse(Path::new("d.md"), "{% docs a %} text").is_err());
    }
}
