//! `{% snapshot name %} ... {% endsnapshot %}` blocks of the SQL files under the snapshot paths.

use std::path::PathBuf;
use std::sync::LazyLock;

use regex::Regex;

use kiln_core::diagnostic::{Diagnostic, Location};

/// One snapshot block.
#[derive(Debug, Clone)]
pub struct SnapshotBlock {
    /// The snapshot's name (the block's argument, not the file's name).
    pub name: String,
    /// The file, relative to the package.
    pub path: PathBuf,
    /// The file, relative to the root project.
    pub display: PathBuf,
    /// Folders between the snapshot path and the file.
    pub folders: Vec<String>,
    /// The line of the opening tag.
    pub line: usize,
    /// The block's body, preceded by as many newlines as there are lines before it in the file,
    /// so that an error in it points at the line of the file.
    pub text: String,
}

static OPENING: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)]
    Regex::new(r"\{%-?\s*snapshot\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%\}").unwrap()
});
static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)]
    Regex::new(r"\{%-?\s*endsnapshot\s*-?%\}").unwrap()
});

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// Every block of a file, in order. A file without a block gets a warning; an unclosed block
/// is an error at its opening line.
pub fn read(
    text: &str,
    path: PathBuf,
    display: PathBuf,
    folders: Vec<String>,
) -> Result<(Vec<SnapshotBlock>, Vec<Diagnostic>), Diagnostic> {
    let mut blocks = Vec::new();
    let mut at = 0;
    while let Some(open) = OPENING.captures_at(text, at) {
        let (Some(whole), Some(name)) = (open.get(0), open.get(1)) else {
            break;
        };
        let line = line_at(text, whole.start());
        let Some(close) = CLOSING.find_at(text, whole.end()) else {
            return Err(
                Diagnostic::error(format!("snapshot `{}` is never closed", name.as_str()))
                    .at(Location::new(&display, line))
                    .help("end the block with {% endsnapshot %}"),
            );
        };
        let body = &text[whole.end()..close.start()];
        let padding = "\n".repeat(line_at(text, whole.end()) - 1);
        blocks.push(SnapshotBlock {
            name: name.as_str().to_owned(),
            path: path.clone(),
            display: display.clone(),
            folders: folders.clone(),
            line,
            text: format!("{padding}{body}"),
        });
        at = close.end();
    }
    let mut warnings = Vec::new();
    if blocks.is_empty() && !text.trim().is_empty() {
        warnings.push(
            Diagnostic::warning("this file is under a snapshot path but holds no snapshot block; it is ignored")
                .at(Location::new(&display, 1))
                .help("wrap the query in {% snapshot name %} ... {% endsnapshot %}, or move the file to the models"),
        );
    }
    Ok((blocks, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_block_and_keeps_its_lines() {
        let text = "{% snapshot a %}\nselect 1\n{% endsnapshot %}\n\n{%- snapshot b -%}\n  select {{ x }}\n{%- endsnapshot %}\n";
        let (blocks, warnings) =
            read(text, "s.sql".into(), "snapshots/s.sql".into(), vec![]).unwrap();
        assert!(warnings.is_empty());
        let names: Vec<_> = blocks.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(blocks[1].line, 5);
        // `{{ x }}` stays on line 6 of the block's text, as in the file.
        assert_eq!(
            line_at(&blocks[1].text, blocks[1].text.find("{{").unwrap()),
            6
        );
    }

    #[test]
    fn an_unclosed_block_names_its_line() {
        let error = read(
            "\n{% snapshot a %}\nselect 1\n",
            "s.sql".into(),
            "s.sql".into(),
            vec![],
        )
        .unwrap_err();
        assert!(error.to_string().contains("never closed"), "{error}");
        assert_eq!(error.location.map(|l| l.line), Some(2));
    }
}
