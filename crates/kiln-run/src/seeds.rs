//! Running a seed: read the CSV file once for its column types, then stream it to `COPY` into
//! a table swapped in atomically.

use kiln_core::{Node, quote_literal};

use crate::connection::SharedConnection;
use crate::error::RunError;
use crate::materialize::{self, Outcome};
use crate::runner::Executor;
use crate::seed_csv;

impl Executor<'_> {
    pub(crate) fn run_seed(
        &self,
        node: &Node,
        conn: &SharedConnection,
    ) -> Result<Outcome, RunError> {
        let package = self
            .project
            .package(&node.package)
            .ok_or_else(|| RunError::PackageNotLoaded(node.package.clone()))?;
        let path = package.dir.join(&node.original_file_path);
        let delimiter = node
            .config
            .other
            .get("delimiter")
            .and_then(|d| d.as_str())
            .and_then(|d| d.bytes().next())
            .unwrap_or(b',');
        let seed = seed_csv::inspect(
            &path,
            &node.config.column_types,
            node.config.quote_columns.unwrap_or(false),
            delimiter,
        )
        .map_err(|error| error.shown_as(&node.display_path))?;
        let options = self.render_options(conn, false);
        let pre_hooks = self.pre_hooks(node, &options)?;
        let render_post = self.post_hooks_renderer(node, &options);
        let build = self.build(conn, node, "", &pre_hooks, render_post.hooks());
        let delimiter = quote_literal(&(delimiter as char).to_string());
        let copy_options = format!("format csv, header true, delimiter {delimiter}");
        self.ensure_schema(conn, &node.relation)?;
        Ok(materialize::copied_table(
            conn,
            &build,
            &seed.columns,
            &copy_options,
            || seed.open(),
        )?)
    }
}
