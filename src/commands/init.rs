//! `kiln init [dir]`: a new project that `kiln build` builds right away, on the managed local
//! PostgreSQL instance: raw data as seeds, a staging layer, a mart, a macro and tests.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kiln_core::{Diagnostic, Diagnostics};
use kiln_project::project_file;

use crate::cli::InitArgs;
use crate::printer::Printer;

const FILES: &[(&str, &str)] = &[
    (
        "project.yml",
        r#"name: {name}
profile: {name}

models:
  {name}:
    staging:
      +materialized: view
    marts:
      +materialized: table

seeds:
  {name}:
    +schema: raw
"#,
    ),
    (
        "profiles.yml",
        r#"{name}:
  target: dev
  outputs:
    # Kiln's own PostgreSQL, started under target/postgres/ when needed: nothing to set up.
    dev:
      type: postgres
      managed: true
      schema: analytics
      threads: 4
    # An existing server: kiln build --target prod
    prod:
      type: postgres
      host: "{{ env_var('PGHOST', 'localhost') }}"
      port: "{{ env_var('PGPORT', '5432') | as_number }}"
      user: "{{ env_var('PGUSER', 'postgres') }}"
      password: "{{ env_var('PGPASSWORD', '') }}"
      dbname: "{{ env_var('PGDATABASE', 'analytics') }}"
      schema: analytics
      threads: 4
"#,
    ),
    (".gitignore", "target/\ndbt_packages/\n"),
    (
        "seeds/raw_customers.csv",
        "id,first_name,last_name,signed_up_at\n1,Ada,Lovelace,2024-01-03 09:12:00\n2,Alan,Turing,2024-01-05 17:40:00\n3,Grace,Hopper,2024-02-11 08:03:00\n",
    ),
    (
        "seeds/raw_orders.csv",
        "id,customer_id,ordered_at,status,amount_cents\n1,1,2024-01-04,completed,1250\n2,1,2024-02-01,completed,3400\n3,2,2024-02-02,returned,990\n4,3,2024-02-12,placed,4599\n",
    ),
    (
        "macros/cents_to_dollars.sql",
        "{% macro cents_to_dollars(column_name) -%}\n    ({{ column_name }} / 100.0)::numeric(16, 2)\n{%- endmacro %}\n",
    ),
    (
        "models/staging/stg_customers.sql",
        "select\n    id as customer_id,\n    first_name,\n    last_name,\n    signed_up_at\nfrom {{ ref('raw_customers') }}\n",
    ),
    (
        "models/staging/stg_orders.sql",
        "select\n    id as order_id,\n    customer_id,\n    ordered_at::date as order_date,\n    status,\n    {{ cents_to_dollars('amount_cents') }} as amount\nfrom {{ ref('raw_orders') }}\n",
    ),
    (
        "models/marts/customer_orders.sql",
        r#"with customers as (
    select customer_id, first_name, last_name from {{ ref('stg_customers') }}
),

orders as (
    select customer_id, order_id, amount from {{ ref('stg_orders') }}
    where status = 'completed'
)

select
    customers.customer_id,
    customers.first_name,
    customers.last_name,
    count(orders.order_id) as completed_orders,
    coalesce(sum(orders.amount), 0) as lifetime_value
from customers
left join orders using (customer_id)
group by 1, 2, 3
"#,
    ),
    (
        "models/schema.yml",
        r#"version: 2

models:
  - name: stg_orders
    description: One row per order, amounts in dollars.
    columns:
      - name: order_id
        data_tests: [unique, not_null]
      - name: status
        data_tests:
          - accepted_values:
              arguments:
                values: ['placed', 'completed', 'returned']
      - name: customer_id
        data_tests:
          - relationships:
              to: ref('stg_customers')
              field: customer_id
  - name: customer_orders
    description: One row per customer with their completed orders.
    columns:
      - name: customer_id
        data_tests: [unique, not_null]
"#,
    ),
];

pub fn run(args: &InitArgs, printer: &Printer) -> Result<ExitCode> {
    let dir = &args.dir;
    if project_file::find(dir).is_some() {
        return Err(Diagnostics::from(
            Diagnostic::error(format!("{} already holds a project", dir.display()))
                .help("run kiln init with a new directory: kiln init my_project"),
        )
        .into());
    }
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(dir),
    };
    if !project_file::is_identifier(&name) {
        return Err(Diagnostics::from(
            Diagnostic::error(format!("`{name}` is not a valid project name")).help(
                "use letters, digits and underscores: kiln init my_project --name my_project",
            ),
        )
        .into());
    }
    for (path, content) in FILES {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, content.replace("{name}", &name))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    printer.success(&format!("Created project `{name}` in {}", dir.display()));
    printer.info(&format!(
        "Next: cd {} && kiln build && kiln show -s customer_orders",
        dir.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// The directory's name, made into an identifier.
fn default_name(dir: &Path) -> String {
    let absolute = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let raw = absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "kiln_");
    }
    name
}
