//! `kiln show`: the first rows of a model, or of an inline query, as a table.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use kiln_adapter::Adapter;
use kiln_compile::RenderOptions;
use kiln_core::{Diagnostic, Diagnostics, ResourceType};

use crate::cli::ShowArgs;
use crate::printer::{Printer, table};
use crate::{session, target};

pub fn run(args: &ShowArgs, printer: &Printer) -> Result<ExitCode> {
    let session = session::load(&args.common, "show", Default::default(), printer)?;
    let mut parsed = session.parse(printer)?;
    let adapter = target::adapter(&session.project, &session.profile, printer)?;
    let connection = adapter
        .connect()
        .map_err(|e| Diagnostics::from(Diagnostic::error(e.full_message())))?;
    let shared = kiln_run::connection::SharedConnection::new(connection);
    session::show_logs(&parsed.env, printer);
    let sql = match (&args.select, &args.inline) {
        (Some(name), _) => {
            let selected = kiln_graph::select(&parsed.graph, std::slice::from_ref(name), &[])?;
            let models: Vec<String> = selected
                .into_iter()
                .filter(|id| {
                    parsed
                        .nodes
                        .get(id)
                        .is_some_and(|n| n.resource_type == ResourceType::Model)
                })
                .collect();
            let [id] = models.as_slice() else {
                return Err(Diagnostics::from(
                    Diagnostic::error(format!(
                        "`{name}` selects {} models; show takes one",
                        models.len()
                    ))
                    .help("name a single model: kiln show -s my_model"),
                )
                .into());
            };
            let selected = std::iter::once(id.clone()).collect();
            kiln_compile::compile(
                &mut parsed,
                &selected,
                RenderOptions {
                    empty: false,
                    incremental: false,
                    warehouse: Some(Arc::new(shared.clone())),
                    ..RenderOptions::default()
                },
            )?;
            parsed.nodes[id].compiled_code.clone().unwrap_or_default()
        }
        (None, Some(inline)) => {
            let options = RenderOptions {
                empty: false,
                incremental: false,
                warehouse: Some(Arc::new(shared.clone())),
                ..RenderOptions::default()
            };
            session::render_inline(&session.project, &parsed, inline, &options)?
        }
        (None, None) => {
            return Err(Diagnostics::from(
                Diagnostic::error("nothing to show")
                    .help("kiln show -s my_model, or kiln show --inline \"select ...\""),
            )
            .into());
        }
    };
    let query = format!(
        "select * from (\n{}\n) as kiln_show limit {}",
        sql.trim().trim_end_matches(';'),
        args.limit
    );
    let result = shared
        .lock()
        .query(&query)
        .map_err(|e| Diagnostics::from(Diagnostic::error(e.full_message())))?;
    let columns = if result.rows.is_empty() {
        shared.lock().columns_of(&query).unwrap_or_default()
    } else {
        result.columns
    };
    let rows = result.texts;
    for line in table(&columns, &rows) {
        printer.data(&line);
    }
    printer.info(&format!(
        "{} row{} shown (--limit {})",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        args.limit
    ));
    Ok(ExitCode::SUCCESS)
}
