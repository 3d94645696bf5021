//! Snapshots: the history of a mutable source (slowly changing dimensions, type 2), built with
//! the same SQL as dbt-core 1.11's snapshot materialization on PostgreSQL, so that the table
//! holds the same rows, values and types as dbt's.
//!
//! The first run creates the table from the query, every row valid from its `updated_at`.
//! Later runs stage the changes in a temporary table (new rows and new versions to insert,
//! current versions to close, deleted rows to invalidate or record) and apply them. Everything
//! happens in one transaction under the relation's lock: a killed run leaves the previous
//! history as it was.

use kiln_adapter::AdapterError;
use kiln_adapter::catalog::{self, Column, RelationKind, ident};
use kiln_core::{CheckCols, HardDeletes, SnapshotConfig, Strategy};

use crate::connection::SharedConnection;
use crate::materialize::{Build, Outcome, add_column, exec, in_transaction, outcome, temp_name};

/// dbt-postgres' `snapshot_get_time()`: the transaction's start, without time zone.
const NOW: &str = "now()::timestamp without time zone";

/// Columns of the staging table that only steer the merge.
fn is_staging_only(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "dbt_change_type"
        || lower == "dbt_unique_key"
        || lower
            .strip_prefix("dbt_unique_key_")
            .is_some_and(|n| n.parse::<u32>().is_ok())
}

/// dbt's `snapshot_hash_arguments`: an md5 of the arguments joined with `|`.
fn hash_arguments(args: &[&str]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|arg| format!("coalesce(cast({arg} as varchar ), '')"))
        .collect();
    format!("md5({})", parts.join(" || '|' || "))
}

/// What the strategy compares and stamps, as SQL.
struct Plan<'a> {
    settings: &'a SnapshotConfig,
    /// The expression that stamps new versions (`updated_at`, or the run's time).
    updated_at: String,
    /// Whether `snapshotted_data` and `source_data` differ (dbt's `row_changed`).
    row_changed: String,
    scd_id: String,
}

impl<'a> Plan<'a> {
    /// `check_columns`: for the check strategy, the columns to compare and whether the query
    /// has a column that the table lacks (then every current row counts as changed).
    fn new(settings: &'a SnapshotConfig, check_columns: (bool, Vec<String>)) -> Plan<'a> {
        let (updated_at, row_changed) = match &settings.strategy {
            Strategy::Timestamp { updated_at } => (
                updated_at.clone(),
                format!(
                    "(snapshotted_data.{} < source_data.{updated_at})",
                    settings.columns.dbt_valid_from
                ),
            ),
            Strategy::Check { updated_at, .. } => {
                let (column_added, columns) = check_columns;
                let changed = if column_added {
                    "TRUE".to_owned()
                } else {
                    columns
                        .iter()
                        .map(|c| {
                            format!(
                                "snapshotted_data.{c} != source_data.{c}\n        or\n        (\n            \
                                 ((snapshotted_data.{c} is null) and not (source_data.{c} is null))\n            \
                                 or\n            ((not snapshotted_data.{c} is null) and (source_data.{c} is null))\n        )"
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(" or ")
                };
                (
                    updated_at.clone().unwrap_or_else(|| NOW.to_owned()),
                    format!("({changed})"),
                )
            }
        };
        let mut args: Vec<&str> = settings.unique_key.iter().map(String::as_str).collect();
        args.push(&updated_at);
        let scd_id = hash_arguments(&args);
        Plan {
            settings,
            updated_at,
            row_changed,
            scd_id,
        }
    }

    fn valid_to_current(&self) -> String {
        format!(
            "coalesce(nullif({u}, {u}), {})\n  as {}",
            self.settings.valid_to_current.as_deref().unwrap_or("null"),
            self.settings.columns.dbt_valid_to,
            u = self.updated_at
        )
    }

    fn new_record(&self) -> bool {
        self.settings.hard_deletes == HardDeletes::NewRecord
    }

    /// dbt's `build_snapshot_table`: the first version of every row.
    fn first_build(&self, sql: &str) -> String {
        let c = &self.settings.columns;
        let is_deleted = if self.new_record() {
            format!(", 'False' as {}", c.dbt_is_deleted)
        } else {
            String::new()
        };
        format!(
            "select *,\n    {scd} as {scd_col},\n    {u} as {updated_col},\n    {u} as {from_col},\n    {to}{is_deleted}\nfrom (\n{sql}\n) sbq",
            scd = self.scd_id,
            scd_col = c.dbt_scd_id,
            u = self.updated_at,
            updated_col = c.dbt_updated_at,
            from_col = c.dbt_valid_from,
            to = self.valid_to_current(),
        )
    }

    fn unique_key_fields(&self) -> String {
        self.settings
            .unique_key
            .iter()
            .enumerate()
            .map(|(i, key)| format!("{key} as dbt_unique_key_{}", i + 1))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn join_on(&self, left: &str, right: &str) -> String {
        (1..=self.settings.unique_key.len())
            .map(|i| format!("{left}.dbt_unique_key_{i} = {right}.dbt_unique_key_{i}"))
            .collect::<Vec<_>>()
            .join(" and ")
    }

    /// Whether the version `alias.<valid_to>` is the current one.
    fn is_current(&self, alias: &str) -> String {
        let valid_to = format!("{alias}{}", self.settings.columns.dbt_valid_to);
        match &self.settings.valid_to_current {
            Some(current) => format!("({valid_to} = {current} or {valid_to} is null)"),
            None => format!("{valid_to} is null"),
        }
    }

    /// dbt's `snapshot_staging_table`: every change, tagged `insert`, `update` or `delete`.
    /// `source_columns` are the query's columns, `target_columns` the table's (for
    /// `hard_deletes: new_record`).
    fn staging(
        &self,
        sql: &str,
        target: &str,
        source_columns: &[String],
        target_columns: &[Column],
    ) -> String {
        let c = &self.settings.columns;
        let keys = self.unique_key_fields();
        let join = self.join_on("snapshotted_data", "source_data");
        let deletes = matches!(
            self.settings.hard_deletes,
            HardDeletes::Invalidate | HardDeletes::NewRecord
        );
        let (or_deleted, is_deleted_col) = if self.new_record() {
            (
                format!(" or snapshotted_data.{} = 'True'", c.dbt_is_deleted),
                format!(", snapshotted_data.{}", c.dbt_is_deleted),
            )
        } else {
            (String::new(), String::new())
        };
        let mut out = format!(
            "with snapshot_query as (\n\n{sql}\n\n),\n\n\
             snapshotted_data as (\n    select *, {keys}\n    from {target}\n    where {current}\n),\n\n\
             insertions_source_data as (\n    select *, {keys},\n        {u} as {updated_col},\n        {u} as {from_col},\n        {to},\n        {scd} as {scd_col}\n    from snapshot_query\n),\n\n\
             updates_source_data as (\n    select *, {keys},\n        {u} as {updated_col},\n        {u} as {from_col},\n        {u} as {to_col}\n    from snapshot_query\n),\n",
            current = self.is_current(""),
            u = self.updated_at,
            updated_col = c.dbt_updated_at,
            from_col = c.dbt_valid_from,
            to_col = c.dbt_valid_to,
            to = self.valid_to_current(),
            scd = self.scd_id,
            scd_col = c.dbt_scd_id,
        );
        if deletes {
            out.push_str(&format!(
                "\ndeletes_source_data as (\n    select *, {keys}\n    from snapshot_query\n),\n"
            ));
        }
        let first_key_null = |alias: &str| format!("{alias}.dbt_unique_key_1 is null");
        let first_key_not_null = |alias: &str| format!("{alias}.dbt_unique_key_1 is not null");
        out.push_str(&format!(
            "\ninsertions as (\n    select 'insert' as dbt_change_type, source_data.*{new_flag}\n    \
             from insertions_source_data as source_data\n    left outer join snapshotted_data on {join}\n    \
             where {null_target}\n    or ({not_null_target} and ({changed}{or_deleted}))\n),\n\n\
             updates as (\n    select 'update' as dbt_change_type, source_data.*, snapshotted_data.{scd_col}{is_deleted_col}\n    \
             from updates_source_data as source_data\n    join snapshotted_data on {join}\n    \
             where ({changed}{or_deleted})\n)",
            new_flag = if self.new_record() {
                format!(", 'False' as {}", c.dbt_is_deleted)
            } else {
                String::new()
            },
            null_target = first_key_null("snapshotted_data"),
            not_null_target = first_key_not_null("snapshotted_data"),
            changed = self.row_changed,
            scd_col = c.dbt_scd_id,
        ));
        // A row already recorded as deleted is not deleted again.
        let not_already_deleted = format!(
            "not (snapshotted_data.{} = 'True' and {})",
            c.dbt_is_deleted,
            match &self.settings.valid_to_current {
                Some(current) => format!("snapshotted_data.{} = {current}", c.dbt_valid_to),
                None => format!("snapshotted_data.{} is null", c.dbt_valid_to),
            }
        );
        if deletes {
            out.push_str(&format!(
                ",\n\ndeletes as (\n    select 'delete' as dbt_change_type, source_data.*,\n        \
                 {NOW} as {from_col},\n        {NOW} as {updated_col},\n        {NOW} as {to_col},\n        \
                 snapshotted_data.{scd_col}{is_deleted_col}\n    from snapshotted_data\n    \
                 left join deletes_source_data as source_data on {join}\n    where {null_source}{guard}\n)",
                from_col = c.dbt_valid_from,
                updated_col = c.dbt_updated_at,
                to_col = c.dbt_valid_to,
                scd_col = c.dbt_scd_id,
                null_source = first_key_null("source_data"),
                guard = if self.new_record() {
                    format!("\n    and {not_already_deleted}")
                } else {
                    String::new()
                },
            ));
        }
        if self.new_record() {
            let in_target = |name: &str| target_columns.iter().any(|t| t.name == name);
            let mut select: Vec<String> = source_columns
                .iter()
                .map(|name| {
                    let side = if in_target(name) {
                        "snapshotted_data"
                    } else {
                        "source_data"
                    };
                    format!("{side}.{}", ident(name))
                })
                .collect();
            select.extend((1..=self.settings.unique_key.len()).map(|i| {
                format!("snapshotted_data.{} as dbt_unique_key_{i}", {
                    &self.settings.unique_key[i - 1]
                })
            }));
            let new_scd_id = hash_arguments(&[&c.dbt_scd_id, NOW]);
            out.push_str(&format!(
                ",\n\ndeletion_records as (\n    select 'insert' as dbt_change_type, {select},\n        \
                 {NOW} as {from_col},\n        {NOW} as {updated_col},\n        snapshotted_data.{to_col} as {to_col},\n        \
                 {new_scd_id} as {scd_col},\n        'True' as {deleted_col}\n    from snapshotted_data\n    \
                 left join deletes_source_data as source_data on {join}\n    where {null_source}\n    and {not_already_deleted}\n)",
                select = select.join(", "),
                from_col = c.dbt_valid_from,
                updated_col = c.dbt_updated_at,
                to_col = c.dbt_valid_to,
                scd_col = c.dbt_scd_id,
                deleted_col = c.dbt_is_deleted,
                null_source = first_key_null("source_data"),
            ));
        }
        out.push_str("\n\nselect * from insertions\nunion all\nselect * from updates");
        if deletes {
            out.push_str("\nunion all\nselect * from deletes");
        }
        if self.new_record() {
            out.push_str("\nunion all\nselect * from deletion_records");
        }
        out
    }
}

/// The check strategy's columns: every column of the query or the configured ones, those the
/// table has (quoted), and whether the query has one the table lacks (dbt's
/// `snapshot_check_all_get_existing_columns`).
fn check_columns(
    conn: &SharedConnection,
    settings: &SnapshotConfig,
    sql: &str,
    existing: &[Column],
) -> Result<(bool, Vec<String>), AdapterError> {
    let Strategy::Check { columns, .. } = &settings.strategy else {
        return Ok((false, Vec::new()));
    };
    let query_columns = match columns {
        CheckCols::All => conn.lock().columns_of(sql)?,
        CheckCols::Only(list) => conn
            .lock()
            .columns_of(&format!("select {} from (\n{sql}\n) subq", list.join(", ")))?,
    };
    let mut added = false;
    let mut compared = Vec::new();
    for column in query_columns {
        if existing.iter().any(|e| e.name == column) {
            compared.push(ident(&column));
        } else {
            added = true;
        }
    }
    Ok((added, compared))
}

/// Builds or updates the snapshot table of `build`.
pub fn snapshot(
    conn: &SharedConnection,
    build: &Build<'_>,
    settings: &SnapshotConfig,
) -> Result<Outcome, AdapterError> {
    let target = build.qualified();
    in_transaction(conn, build, "", || {
        let kind = catalog::relation_kind(conn.lock().as_mut(), build.schema(), build.name())?;
        match kind {
            None => {
                let plan = Plan::new(settings, (false, Vec::new()));
                let created = exec(
                    conn,
                    &format!(
                        "create table {target} as (\n{}\n)",
                        plan.first_build(build.sql)
                    ),
                )?;
                crate::materialize::create_indexes(conn, build, build.name())?;
                crate::materialize::grant(build, &build.grants);
                crate::materialize::persist_docs(conn, build, RelationKind::Table)?;
                Ok(outcome(
                    format!("SELECT {}", created.rows_affected),
                    Some(created.rows_affected),
                    Vec::new(),
                ))
            }
            Some(RelationKind::Table) => {
                let updated = update(conn, build, settings, &target)?;
                crate::materialize::reconcile_grants(conn, build)?;
                crate::materialize::persist_docs(conn, build, RelationKind::Table)?;
                Ok(updated)
            }
            Some(other) => Err(AdapterError::Other(format!(
                "{target} is a {}, not the table of a snapshot; nothing was changed\n  \
                 drop it (or rename it) and run the snapshot again to start its history",
                other.dbt_name()
            ))),
        }
    })
}

/// A later run: stage the changes, widen and add columns, close old versions, insert new ones.
fn update(
    conn: &SharedConnection,
    build: &Build<'_>,
    settings: &SnapshotConfig,
    target: &str,
) -> Result<Outcome, AdapterError> {
    let c = &settings.columns;
    let existing = catalog::columns(conn.lock().as_mut(), target)?;
    let plan = Plan::new(
        settings,
        check_columns(conn, settings, build.sql, &existing)?,
    );
    let source_columns = if plan.new_record() {
        conn.lock().columns_of(build.sql)?
    } else {
        Vec::new()
    };
    let staging = temp_name(build.name(), "snap", build.suffix);
    exec(
        conn,
        &format!(
            "create temporary table {} on commit drop as (\n{}\n)",
            ident(&staging),
            plan.staging(build.sql, target, &source_columns, &existing)
        ),
    )?;
    let staged = catalog::columns(conn.lock().as_mut(), &ident(&staging))?;
    catalog::expand_string_columns(conn.lock().as_mut(), target, &existing, &staged)?;
    let kept: Vec<&Column> = staged
        .iter()
        .filter(|column| !is_staging_only(&column.name))
        .collect();
    for column in &kept {
        if !existing.iter().any(|e| e.name == column.name) {
            add_column(conn, target, column)?;
        }
    }
    let staging = ident(&staging);
    exec(
        conn,
        &format!(
            "update {target}\n    set {to} = DBT_INTERNAL_SOURCE.{to}\n    from {staging} as DBT_INTERNAL_SOURCE\n    \
             where DBT_INTERNAL_SOURCE.{scd}::text = {target}.{scd}::text\n      \
             and DBT_INTERNAL_SOURCE.dbt_change_type::text in ('update'::text, 'delete'::text)\n      and {current}",
            to = c.dbt_valid_to,
            scd = c.dbt_scd_id,
            current = plan.is_current(&format!("{target}.")),
        ),
    )?;
    let list = kept
        .iter()
        .map(|column| ident(&column.name))
        .collect::<Vec<_>>();
    let inserted = exec(
        conn,
        &format!(
            "insert into {target} ({})\n    select {}\n    from {staging} as DBT_INTERNAL_SOURCE\n    \
             where DBT_INTERNAL_SOURCE.dbt_change_type::text = 'insert'::text",
            list.join(", "),
            list.iter()
                .map(|column| format!("DBT_INTERNAL_SOURCE.{column}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )?;
    Ok(outcome(
        format!("INSERT 0 {}", inserted.rows_affected),
        Some(inserted.rows_affected),
        Vec::new(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_as_dbt() {
        assert_eq!(
            hash_arguments(&["id", "updated_at"]),
            "md5(coalesce(cast(id as varchar ), '') || '|' || coalesce(cast(updated_at as varchar ), ''))"
        );
    }

    #[test]
    fn staging_only_columns_are_the_merge_markers() {
        assert!(is_staging_only("dbt_change_type"));
        assert!(is_staging_only("DBT_UNIQUE_KEY_2"));
        assert!(!is_staging_only("dbt_unique_key_x"));
        assert!(!is_staging_only("dbt_valid_to"));
    }
}
