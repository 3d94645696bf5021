//! `{{ doc('name') }}` in YAML descriptions, resolved from the project's `{% docs %}` blocks.

use std::collections::BTreeMap;

use kiln_core::{Diagnostic, Location, diagnostic::closest};
use kiln_project::Project;
use minijinja::{Environment, Error, ErrorKind};

/// Renders descriptions that use `doc()`.
pub struct Docs {
    env: Environment<'static>,
}

impl Docs {
    pub fn new(project: &Project) -> Self {
        let blocks: BTreeMap<String, String> = project
            .packages
            .iter()
            .flat_map(|p| p.docs.iter().map(|d| (d.name.clone(), d.text.clone())))
            .collect();
        let mut env = Environment::new();
        env.add_function(
            "doc",
            move |name: String, second: Option<String>| -> Result<String, Error> {
                let name = second.unwrap_or(name);
                blocks.get(&name).cloned().ok_or_else(|| {
                    let hint = closest(&name, blocks.keys().map(String::as_str))
                        .map(|c| format!("; did you mean `{c}`?"))
                        .unwrap_or_default();
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("no docs block named `{name}`{hint}"),
                    )
                })
            },
        );
        Docs { env }
    }

    /// The description with `doc()` calls replaced; text without Jinja is returned as is.
    pub fn render(&self, text: &str, location: &Location) -> Result<String, Diagnostic> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(text.to_owned());
        }
        self.env.render_str(text, ()).map_err(|error| {
            let detail = error.detail().unwrap_or("cannot render this description");
            let help = if detail.starts_with("no docs block") {
                "declare the block in a .md file: {% docs name %}...{% enddocs %}"
            } else {
                "descriptions are Jinja with only `doc()` defined; to show `{{` as text, \
                 wrap it in {% raw %}...{% endraw %}"
            };
            Diagnostic::error(detail.to_owned())
                .at(location.clone())
                .help(help)
        })
    }
}
