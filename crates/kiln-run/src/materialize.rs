//! Materializations: how a model's `select` becomes a view or a table, safely.
//!
//! Every build happens in one transaction. A view or table is built under a temporary name,
//! then swapped in: the old relation is renamed away, the new one renamed in, the old one
//! dropped, all before `commit`. If anything fails, or the process is killed, PostgreSQL rolls
//! the transaction back and the previous relation is untouched. An advisory lock on the
//! relation's name makes two runs that build the same relation take turns at the swap.
//!
//! Views of other objects that depend on the old relation would be dropped with it (dbt drops
//! them silently with `cascade`). Kiln reads their definitions first and creates them again on
//! top of the new relation, in the same transaction; if one cannot be recreated and will not be
//! rebuilt later in the run, the build fails and says which view and why.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use kiln_adapter::catalog::{self, Column, RelationKind, ident, literal, qualified};
use kiln_adapter::{AdapterError, ExecResult};
use kiln_core::{BuiltinStrategy, IndexConfig, OnConfigurationChange, OnSchemaChange, Relation};

use crate::connection::SharedConnection;

/// A hook to run around the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub sql: String,
    /// Inside the build's transaction (dbt's default) or outside it.
    pub transaction: bool,
}

/// A node's post-hooks, rendered when they run, as dbt does: a hook that reads the relation
/// it follows (`{% do run_query('analyze ' ~ this) %}`) finds the one just built, in the
/// build's transaction.
#[derive(Clone, Copy)]
pub struct PostHooks<'a> {
    /// How many there are (none: nothing to render, no extra round trip).
    pub count: usize,
    pub render: &'a (dyn Fn() -> Result<Vec<Hook>, AdapterError> + 'a),
}

impl std::fmt::Debug for PostHooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostHooks({})", self.count)
    }
}

impl PostHooks<'_> {
    /// No post-hooks.
    pub const NONE: PostHooks<'static> = PostHooks {
        count: 0,
        render: &|| Ok(Vec::new()),
    };
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Build<'a> {
    pub relation: &'a Relation,
    /// The compiled `select`.
    pub sql: &'a str,
    pub pre_hooks: &'a [Hook],
    pub post_hooks: PostHooks<'a>,
    /// The `indexes` config: created on a table built from scratch, before it is swapped in.
    pub indexes: &'a [IndexConfig],
    /// The `persist_docs` config's comments, set on the relation before commit.
    pub docs: Docs,
    /// The `grants` config: privilege (`select`) to grantees, applied before commit.
    pub grants: Grants,
    /// Makes temporary names unique to this invocation.
    pub suffix: &'a str,
    /// Relations (`schema.name`) that this run rebuilds later: dependents that may be dropped.
    pub rebuilt_later: &'a BTreeSet<(String, String)>,
    /// The model's `statement_timeout` config (PostgreSQL's syntax: `30s`, `10min`, or
    /// milliseconds): no statement of the build may run longer.
    pub statement_timeout: Option<String>,
    /// The `sql_header` config (`set_sql_header`): statements sent just before the `create`
    /// of the relation or of an incremental run's new rows, in the same session and
    /// transaction (`set local ...`, a temporary function), as dbt-postgres sends them.
    pub sql_header: Option<String>,
    /// What the catalog said of the relation when the run started: `Some(None)` when it did not
    /// exist, `Some(Some((kind, has dependent views)))` when it did; `None` when unknown.
    pub known: Option<Option<(RelationKind, bool)>>,
    /// Statements of the transaction not sent yet: sent with the next statement that needs an
    /// answer, or with `commit` (a view without dependents is one round trip).
    pub(crate) pending: RefCell<Vec<String>>,
    /// Whether this attempt swapped on what `known` said, without asking the catalog.
    pub(crate) swapped_on_known: Cell<bool>,
    /// Cleared after an attempt that trusted `known` failed: the next asks the catalog.
    pub(crate) trust_known: Cell<bool>,
}

impl Build<'_> {
    /// `create` preceded by the `sql_header`, if any. dbt sends the header as written, so one
    /// without its closing `;` is a syntax error there; Kiln adds it.
    pub(crate) fn with_header(&self, create: String) -> String {
        match self.sql_header.as_deref().map(str::trim) {
            Some(header) if header.ends_with(';') => format!("{header}\n{create}"),
            Some(header) if !header.is_empty() => format!("{header};\n{create}"),
            _ => create,
        }
    }

    pub(crate) fn schema(&self) -> &str {
        self.relation.schema.as_deref().unwrap_or("public")
    }

    pub(crate) fn name(&self) -> &str {
        &self.relation.identifier
    }

    pub(crate) fn qualified(&self) -> String {
        qualified(self.schema(), self.name())
    }
}

/// dbt's `persist_docs`: the descriptions a build writes as PostgreSQL comments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Docs {
    /// The relation's description (`persist_docs: {relation: true}`, when it has one).
    pub relation: Option<String>,
    /// Documented columns: name, whether to quote it, description (`columns: true`). Those
    /// the relation does not have are left out, as in dbt.
    pub columns: Vec<(String, bool, String)>,
}

/// What a successful build did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// dbt's adapter message: `CREATE VIEW`, `SELECT 1204`, `INSERT 0 5`, `MERGE 3`.
    pub message: String,
    pub rows_affected: Option<u64>,
    /// Dependent views that were recreated on top of the new relation.
    pub recreated: Vec<String>,
}

/// Incremental settings of a model.
pub struct Incremental<'a> {
    pub strategy: Strategy<'a>,
    pub unique_key: Vec<String>,
    pub on_schema_change: OnSchemaChange,
    pub predicates: Vec<String>,
}

/// How an incremental run adds the new rows (held in a temporary table) to the model's table.
pub enum Strategy<'a> {
    /// Kiln's own statements, with dbt-postgres' SQL.
    Builtin(BuiltinStrategy),
    /// A macro writes the statements, as dbt's `get_incremental_<name>_sql(arg_dict)`: given
    /// the temporary table and the columns to insert, the SQL to run.
    Macro(&'a StrategyMacro<'a>),
}

/// Renders a strategy's macro: `(temporary table, columns to insert)` to SQL.
pub type StrategyMacro<'a> = dyn Fn(&str, &[catalog::Column]) -> Result<String, AdapterError> + 'a;

/// A name for a relation built by this invocation: `<name>__kiln_<tag>_<suffix>`, cut to
/// PostgreSQL's 63-byte identifier limit.
/// When the name must be cut, a hash of the whole name takes the place of its tail, so that
/// two long names with a common prefix never share temporary relations (nor their locks).
pub fn temp_name(name: &str, tag: &str, suffix: &str) -> String {
    let tail = format!("__kiln_{tag}_{suffix}");
    let room = kiln_core::MAX_IDENTIFIER_BYTES.saturating_sub(tail.len());
    if name.len() <= room {
        return format!("{name}{tail}");
    }
    let hash = format!("{:08x}", fnv1a(name.as_bytes()) as u32);
    let mut keep = room.saturating_sub(hash.len() + 1);
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}_{hash}{tail}", &name[..keep])
}

/// FNV-1a: a small, stable hash (the same name gives the same temporary name in every run).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(crate) fn exec(conn: &SharedConnection, sql: &str) -> Result<ExecResult, AdapterError> {
    conn.lock().execute(sql)
}

/// `create schema if not exists`, tolerating another run creating it at the same moment.
pub fn create_schema(conn: &SharedConnection, schema: &str) -> Result<(), AdapterError> {
    match exec(
        conn,
        &format!("create schema if not exists {}", ident(schema)),
    ) {
        Err(AdapterError::Database {
            code: Some(code), ..
        }) if code == "23505" || code == "42P06" => Ok(()),
        other => other.map(|_| ()),
    }
}

/// How many times a build whose transaction lost a race with another run is tried.
const ATTEMPTS: u32 = 8;

/// Whether an error means the transaction lost a race with another session (PostgreSQL chose
/// it as a deadlock's victim, or a relation it looked up was dropped meanwhile): rolled back,
/// nothing changed, and trying again is what the other session's commit allows.
fn lost_a_race(error: &AdapterError) -> bool {
    match error {
        AdapterError::Database {
            code: Some(code),
            message,
            ..
        } => {
            matches!(code.as_str(), "40P01" | "40001")
                || (code == "XX000"
                    && (message.starts_with("could not open relation with OID")
                        || message.contains("concurrently")))
        }
        _ => false,
    }
}

/// Whether an error of a swap made on what the catalog said at the start of the run means the
/// catalog changed since (another run created, dropped or built on the relation): the next
/// attempt asks the catalog.
fn catalog_changed(error: &AdapterError) -> bool {
    matches!(
        error,
        AdapterError::Database { code: Some(code), .. }
            if matches!(code.as_str(), "2BP01" | "42P01" | "42P07" | "42809")
    )
}

/// Sends the statements held back, with `sql` after them if given.
fn flush(
    conn: &SharedConnection,
    build: &Build<'_>,
    sql: Option<&str>,
) -> Result<(), AdapterError> {
    let mut statements = std::mem::take(&mut *build.pending.borrow_mut());
    statements.extend(sql.map(str::to_owned));
    if statements.is_empty() {
        return Ok(());
    }
    exec(conn, &statements.join(";\n")).map(|_| ())
}

/// Runs `body` in a transaction with the relation's advisory lock held; rolls back on error.
/// `opening` (if not empty) is sent with `begin`, the lock and the transactional pre-hooks in
/// one round trip; the transactional post-hooks go with `commit`. A transaction that loses a
/// race with a concurrent run (a deadlock between two swaps) is rolled back and tried again.
pub(crate) fn in_transaction<T>(
    conn: &SharedConnection,
    build: &Build<'_>,
    opening: &str,
    mut body: impl FnMut() -> Result<T, AdapterError>,
) -> Result<T, AdapterError> {
    for hook in build.pre_hooks.iter().filter(|h| !h.transaction) {
        exec(conn, &hook.sql)?;
    }
    let mut first = vec![
        "begin".to_owned(),
        format!(
            "select pg_advisory_xact_lock(hashtext({}))",
            literal(&build.qualified())
        ),
    ];
    if let Some(timeout) = &build.statement_timeout {
        first.push(format!(
            "set local statement_timeout = {}",
            literal(timeout)
        ));
    }
    first.extend(
        build
            .pre_hooks
            .iter()
            .filter(|h| h.transaction)
            .map(|h| h.sql.clone()),
    );
    if !opening.is_empty() {
        first.push(opening.to_owned());
    }
    let mut after_commit: Vec<Hook> = Vec::new();
    let mut attempt = 1;
    let result = loop {
        build.swapped_on_known.set(false);
        build.pending.borrow_mut().clear();
        let result = (|| {
            // A view's `create` needs no answer: it waits for the swap and the commit.
            if opening.is_empty() {
                exec(conn, &first.join(";\n"))?;
            } else {
                build.pending.borrow_mut().extend(first.iter().cloned());
            }
            let value = body()?;
            let mut last: Vec<String> = Vec::new();
            if build.post_hooks.count > 0 {
                // The hooks render against what the body built: send what waits first.
                flush(conn, build, None)?;
                let (inside, outside): (Vec<Hook>, Vec<Hook>) = (build.post_hooks.render)()?
                    .into_iter()
                    .partition(|h| h.transaction);
                last.extend(inside.into_iter().map(|h| h.sql));
                after_commit = outside;
            }
            last.push("commit".to_owned());
            flush(conn, build, Some(&last.join(";\n")))?;
            Ok(value)
        })();
        match result {
            Err(error) => {
                let _ = exec(conn, "rollback");
                if attempt < ATTEMPTS && build.swapped_on_known.get() && catalog_changed(&error) {
                    build.trust_known.set(false);
                    attempt += 1;
                    continue;
                }
                if attempt < ATTEMPTS && lost_a_race(&error) {
                    // The winner commits in milliseconds; a growing pause keeps two losers
                    // from meeting again at once.
                    std::thread::sleep(std::time::Duration::from_millis(
                        20 * u64::from(attempt) + u64::from(std::process::id() % 17),
                    ));
                    attempt += 1;
                    continue;
                }
                return Err(error);
            }
            Ok(value) => break value,
        }
    };
    for hook in &after_commit {
        exec(conn, &hook.sql)?;
    }
    Ok(result)
}

/// Puts the relation built as `temp` (of kind `kind`) in place of the build's relation.
fn swap(
    conn: &SharedConnection,
    build: &Build<'_>,
    temp: &str,
    kind: RelationKind,
) -> Result<Vec<String>, AdapterError> {
    let (schema, name) = (build.schema(), build.name());
    let rename_in = format!(
        "alter {} {} rename to {}",
        kind.keyword(),
        qualified(schema, temp),
        ident(name)
    );
    // What the catalog said at the start of the run, when no view depended on the relation:
    // no question to ask now, and the swap goes with the commit. Should that have changed
    // (another run at work), the statements fail (the old relation is dropped without
    // `cascade`) and the next attempt asks the catalog.
    if let (true, Some(known)) = (build.trust_known.get(), build.known) {
        let statements = match known {
            None => vec![rename_in.clone()],
            Some((_, true)) => Vec::new(),
            Some((existing, false)) => {
                let old = temp_name(name, "old", build.suffix);
                vec![
                    format!(
                        "alter {} {} rename to {}",
                        existing.keyword(),
                        qualified(schema, name),
                        ident(&old)
                    ),
                    rename_in.clone(),
                    format!("drop {} {}", existing.keyword(), qualified(schema, &old)),
                ]
            }
        };
        if !statements.is_empty() {
            build.swapped_on_known.set(true);
            build.pending.borrow_mut().extend(statements);
            return Ok(Vec::new());
        }
    }
    flush(conn, build, None)?;
    let existing = catalog::relation_has_dependents(conn.lock().as_mut(), schema, name)?;
    let state = match existing {
        Some((_, true)) => {
            // Two swaps can share a dependent view (a view joining two seeds loaded in
            // parallel): the second must read that view's definition after the first has
            // recreated it, or it recreates it from relations that no longer exist. Swaps with
            // dependents take turns; the lock is held until commit.
            exec(
                conn,
                "select pg_advisory_xact_lock(hashtext('kiln: swaps with dependent views'))",
            )?;
            catalog::relation_state(conn.lock().as_mut(), schema, name)?
        }
        Some((kind, false)) => Some((kind, Vec::new())),
        None => None,
    };
    let Some((existing, dependents)) = state else {
        exec(conn, &rename_in)?;
        return Ok(Vec::new());
    };
    let old = temp_name(name, "old", build.suffix);
    exec(
        conn,
        &format!(
            "alter {kind} {current} rename to {old}; {rename_in}; drop {kind} {old_qualified} cascade",
            kind = existing.keyword(),
            current = qualified(schema, name),
            old = ident(&old),
            old_qualified = qualified(schema, &old),
        ),
    )?;
    let mut recreated = Vec::new();
    for dependent in dependents {
        let target = qualified(&dependent.schema, &dependent.name);
        let create = format!(
            "create {} {target} as {}",
            dependent.kind.keyword(),
            dependent.definition
        );
        let will_rebuild = build
            .rebuilt_later
            .contains(&(dependent.schema.clone(), dependent.name.clone()));
        exec(conn, "savepoint kiln_dependent")?;
        match exec(conn, &create) {
            Ok(_) => {
                exec(conn, "release savepoint kiln_dependent")?;
                // Views this run rebuilds anyway are kept without a word.
                if !will_rebuild {
                    recreated.push(format!("{}.{}", dependent.schema, dependent.name));
                }
            }
            Err(_) if will_rebuild => {
                exec(conn, "rollback to savepoint kiln_dependent")?;
            }
            Err(error) => {
                return Err(AdapterError::Other(format!(
                    "view {}.{} depends on {schema}.{name} and cannot be recreated on the new version: {}\n  \
                     nothing was changed; rebuild both in one run (`-s {name}+`) or drop that view first",
                    dependent.schema,
                    dependent.name,
                    error.full_message()
                )));
            }
        }
    }
    Ok(recreated)
}

pub(crate) fn outcome(
    message: impl Into<String>,
    rows: Option<u64>,
    recreated: Vec<String>,
) -> Outcome {
    Outcome {
        message: message.into(),
        rows_affected: rows,
        recreated,
    }
}

/// A view, swapped in atomically.
pub fn view(conn: &SharedConnection, build: &Build<'_>) -> Result<Outcome, AdapterError> {
    let temp = temp_name(build.name(), "tmp", build.suffix);
    let create = build.with_header(format!(
        "create view {} as (\n{}\n)",
        qualified(build.schema(), &temp),
        build.sql
    ));
    in_transaction(conn, build, &create, || {
        let recreated = swap(conn, build, &temp, RelationKind::View)?;
        grant(build, &build.grants);
        persist_docs(conn, build, RelationKind::View)?;
        Ok(outcome("CREATE VIEW", None, recreated))
    })
}

/// A table, built under a temporary name and swapped in atomically.
pub fn table(conn: &SharedConnection, build: &Build<'_>) -> Result<Outcome, AdapterError> {
    create_and_swap(conn, build, RelationKind::Table)
}

/// A table or materialized view created under a temporary name with its indexes, then
/// swapped in atomically.
fn create_and_swap(
    conn: &SharedConnection,
    build: &Build<'_>,
    kind: RelationKind,
) -> Result<Outcome, AdapterError> {
    let temp = temp_name(build.name(), "tmp", build.suffix);
    in_transaction(conn, build, "", || {
        let created = exec(
            conn,
            &build.with_header(format!(
                "create {} {} as (\n{}\n)",
                kind.keyword(),
                qualified(build.schema(), &temp),
                build.sql
            )),
        )?;
        create_indexes(conn, build, &temp)?;
        let recreated = swap(conn, build, &temp, kind)?;
        grant(build, &build.grants);
        persist_docs(conn, build, kind)?;
        Ok(outcome(
            format!("SELECT {}", created.rows_affected),
            Some(created.rows_affected),
            recreated,
        ))
    })
}

/// dbt-postgres' materialized view. When one exists under the model's name and no full
/// refresh is asked for (`refresh`), it is refreshed, unless its indexes differ from the
/// configured ones: then [`OnConfigurationChange`] says whether it is built anew, left as it
/// is (`continue`, as dbt: not even refreshed) or the model fails. Otherwise it is created
/// under a temporary name with its indexes and swapped in, as a table is (dependent views
/// kept).
pub fn materialized_view(
    conn: &SharedConnection,
    build: &Build<'_>,
    refresh: bool,
    on_change: OnConfigurationChange,
) -> Result<Outcome, AdapterError> {
    let changed = refresh && !indexes_match(conn, build)?;
    if changed && on_change == OnConfigurationChange::Continue {
        // As dbt: neither changed nor refreshed.
        return Ok(outcome(
            "SKIP (its indexes differ from the config; on_configuration_change: continue)",
            None,
            Vec::new(),
        ));
    }
    if refresh && !changed {
        return in_transaction(conn, build, "", || {
            exec(
                conn,
                &format!("refresh materialized view {}", build.qualified()),
            )?;
            grant(build, &build.grants);
            persist_docs(conn, build, RelationKind::MaterializedView)?;
            Ok(outcome("REFRESH MATERIALIZED VIEW", None, Vec::new()))
        });
    }
    if changed && on_change == OnConfigurationChange::Fail {
        return Err(AdapterError::Other(format!(
            "the indexes of materialized view {} differ from its `indexes` config and \
             `on_configuration_change` is `fail`\n  nothing was changed; set it to `apply` \
             (or run with --full-refresh) to rebuild it with the configured indexes",
            build.qualified()
        )));
    }
    create_and_swap(conn, build, RelationKind::MaterializedView)
}

/// Whether the relation has exactly the configured indexes (columns, uniqueness, method), as
/// dbt-postgres compares them; their names do not matter.
fn indexes_match(conn: &SharedConnection, build: &Build<'_>) -> Result<bool, AdapterError> {
    let existing = catalog::indexes(conn.lock().as_mut(), build.schema(), build.name())?;
    let configured: BTreeSet<catalog::Index> = build
        .indexes
        .iter()
        .map(|index| catalog::Index {
            columns: index
                .columns
                .iter()
                .map(|c| c.trim().trim_matches('"').to_lowercase())
                .collect(),
            unique: index.unique,
            method: index
                .method
                .map_or_else(|| "btree".to_owned(), |m| m.as_str().to_owned()),
        })
        .collect();
    Ok(existing.into_iter().collect::<BTreeSet<_>>() == configured)
}

/// A table loaded from CSV data with `COPY`, swapped in atomically (seeds). `data` opens the
/// bytes to copy: once per attempt, as a deadlock retry copies them again.
pub fn copied_table<R: std::io::Read>(
    conn: &SharedConnection,
    build: &Build<'_>,
    columns: &[(String, String)],
    copy_options: &str,
    data: impl Fn() -> std::io::Result<R>,
) -> Result<Outcome, AdapterError> {
    let temp = temp_name(build.name(), "tmp", build.suffix);
    in_transaction(conn, build, "", || {
        let definitions: Vec<String> = columns
            .iter()
            .map(|(name, kind)| format!("{} {kind}", ident(name)))
            .collect();
        exec(
            conn,
            &format!(
                "create table {} ({})",
                qualified(build.schema(), &temp),
                definitions.join(", ")
            ),
        )?;
        let mut data = data().map_err(|error| {
            AdapterError::Other(format!("cannot read the data to copy: {error}"))
        })?;
        let rows = conn.lock().copy_in(
            &format!(
                "copy {} from stdin ({copy_options})",
                qualified(build.schema(), &temp)
            ),
            &mut data,
        )?;
        create_indexes(conn, build, &temp)?;
        let recreated = swap(conn, build, &temp, RelationKind::Table)?;
        grant(build, &build.grants);
        persist_docs(conn, build, RelationKind::Table)?;
        Ok(outcome(format!("INSERT {rows}"), Some(rows), recreated))
    })
}

/// A role as SQL names it: `public` is the keyword, any other role is quoted (role names in
/// [`Build::grants`] are as PostgreSQL stores them).
fn role(name: &str) -> String {
    if name == "public" {
        "public".to_owned()
    } else {
        ident(name)
    }
}

/// Privileges to roles (`select` → `reporter`, `"BI Team"`).
pub type Grants = BTreeMap<String, BTreeSet<String>>;

/// `grant <privilege> on <relation> to <roles>` for each privilege, as dbt-postgres does.
pub(crate) fn grant(build: &Build<'_>, grants: &Grants) {
    dcl(build, "grant", "to", grants);
}

/// One `grant ... to` or `revoke ... from` statement per privilege with roles, queued.
fn dcl(build: &Build<'_>, verb: &str, preposition: &str, grants: &Grants) {
    let target = build.qualified();
    let statements =
        grants
            .iter()
            .filter(|(_, roles)| !roles.is_empty())
            .map(|(privilege, roles)| {
                let roles: Vec<String> = roles.iter().map(|r| role(r)).collect();
                format!(
                    "{verb} {privilege} on {target} {preposition} {}",
                    roles.join(", ")
                )
            });
    build.pending.borrow_mut().extend(statements);
}

/// On a relation that stays (an incremental run), dbt's `apply_grants` with revocation: the
/// grants this role gave that the config no longer lists are revoked, the missing ones given.
pub(crate) fn reconcile_grants(
    conn: &SharedConnection,
    build: &Build<'_>,
) -> Result<(), AdapterError> {
    if build.grants.is_empty() {
        return Ok(());
    }
    flush(conn, build, None)?;
    let current = conn.lock().query(&format!(
        "select grantee::text, lower(privilege_type)::text from information_schema.role_table_grants \
         where grantor = current_role and grantee != current_role \
         and table_schema = {} and table_name = {}",
        literal(build.schema()),
        literal(build.name())
    ))?;
    let mut given = Grants::new();
    for row in &current.rows {
        let text = |i: usize| {
            row.get(i)
                .map(kiln_adapter::Table::cell_text)
                .unwrap_or_default()
        };
        let grantee = match text(0) {
            public if public == "PUBLIC" => "public".to_owned(),
            grantee => grantee,
        };
        given.entry(text(1)).or_default().insert(grantee);
    }
    // What `a` has that `b` does not, per privilege.
    let difference = |a: &Grants, b: &Grants| -> Grants {
        a.iter()
            .map(|(privilege, roles)| {
                let others = b.get(privilege);
                let missing = roles
                    .iter()
                    .filter(|r| !others.is_some_and(|o| o.contains(*r)))
                    .cloned()
                    .collect();
                (privilege.clone(), missing)
            })
            .collect()
    };
    dcl(build, "revoke", "from", &difference(&given, &build.grants));
    grant(build, &difference(&build.grants, &given));
    Ok(())
}

/// A comment as dbt-postgres quotes it (a dollar-quoted block, so that no character needs
/// escaping).
fn comment_literal(text: &str) -> Result<String, AdapterError> {
    const MAGIC: &str = "$dbt_comment_literal_block$";
    if text.contains(MAGIC) {
        return Err(AdapterError::Other(format!(
            "the string {MAGIC} is not allowed in a description persisted as a comment"
        )));
    }
    Ok(format!("{MAGIC}{text}{MAGIC}"))
}

/// Writes the build's `persist_docs` comments on the relation (of kind `kind`), in the build's
/// transaction, after the swap: as dbt-postgres does, on every build.
pub(crate) fn persist_docs(
    conn: &SharedConnection,
    build: &Build<'_>,
    kind: RelationKind,
) -> Result<(), AdapterError> {
    let target = build.qualified();
    let mut statements = Vec::new();
    if let Some(text) = &build.docs.relation {
        statements.push(format!(
            "comment on {} {target} is {}",
            kind.keyword(),
            comment_literal(text)?
        ));
    }
    if !build.docs.columns.is_empty() {
        // Only the columns the relation has: the swap must have happened to know them.
        flush(conn, build, None)?;
        let existing = catalog::columns(conn.lock().as_mut(), &target)?;
        for (name, quote, text) in &build.docs.columns {
            if existing.iter().any(|c| c.name == *name) {
                let column = if *quote { ident(name) } else { name.clone() };
                statements.push(format!(
                    "comment on column {target}.{column} is {}",
                    comment_literal(text)?
                ));
            }
        }
    }
    build.pending.borrow_mut().extend(statements);
    Ok(())
}

/// Creates the build's `indexes` on `table` (in the build's schema): a table about to take the
/// relation's place, or the relation itself on its first build.
pub(crate) fn create_indexes(
    conn: &SharedConnection,
    build: &Build<'_>,
    table: &str,
) -> Result<(), AdapterError> {
    for index in build.indexes {
        exec(conn, &create_index_sql(build, table, index))?;
    }
    Ok(())
}

/// dbt-postgres' `create index`: the name is an md5 of what the index is on, as dbt names it
/// (dbt adds the time where Kiln has the invocation's suffix: either way a rebuild never meets
/// the name of the index it replaces).
fn create_index_sql(build: &Build<'_>, table: &str, index: &IndexConfig) -> String {
    use md5::{Digest, Md5};
    let python_bool = if index.unique { "True" } else { "False" };
    let method = index.method.map_or("None", |m| m.as_str());
    let inputs = [
        index.columns.join("_"),
        build.qualified(),
        python_bool.to_owned(),
        method.to_owned(),
        build.suffix.to_owned(),
    ];
    let name = format!("{:x}", Md5::digest(inputs.join("_").as_bytes()));
    format!(
        "create {unique}index if not exists {name} on {table} {using}({columns})",
        unique = if index.unique { "unique " } else { "" },
        name = ident(&name),
        table = qualified(build.schema(), table),
        using = index
            .method
            .map(|m| format!("using {m} "))
            .unwrap_or_default(),
        columns = index.columns.join(", "),
    )
}

/// Adds `column` to `target` with the type dbt-postgres gives it.
pub(crate) fn add_column(
    conn: &SharedConnection,
    target: &str,
    column: &Column,
) -> Result<(), AdapterError> {
    exec(
        conn,
        &format!(
            "alter table {target} add column {} {}",
            ident(&column.name),
            column.dbt_data_type()
        ),
    )
    .map(|_| ())
}

fn names(columns: &[Column]) -> BTreeSet<&str> {
    columns.iter().map(|c| c.name.as_str()).collect()
}

/// Applies `on_schema_change` and returns the columns to insert.
fn reconcile_columns(
    conn: &SharedConnection,
    target: &str,
    existing: &[Column],
    incoming: &[Column],
    on_schema_change: OnSchemaChange,
) -> Result<Vec<String>, AdapterError> {
    let (have, new) = (names(existing), names(incoming));
    let added: Vec<&Column> = incoming
        .iter()
        .filter(|c| !have.contains(c.name.as_str()))
        .collect();
    let removed: Vec<&Column> = existing
        .iter()
        .filter(|c| !new.contains(c.name.as_str()))
        .collect();
    let changed: Vec<(&Column, &Column)> = incoming
        .iter()
        .filter_map(|c| {
            existing
                .iter()
                .find(|e| e.name == c.name && e.data_type != c.data_type)
                .map(|e| (e, c))
        })
        .collect();
    let in_sync = added.is_empty() && removed.is_empty() && changed.is_empty();
    match on_schema_change {
        OnSchemaChange::Fail if !in_sync => {
            let list = |cols: Vec<String>| {
                if cols.is_empty() {
                    "none".to_owned()
                } else {
                    cols.join(", ")
                }
            };
            return Err(AdapterError::Other(format!(
                "the model's columns no longer match its table (on_schema_change: fail): added: {}; removed: {}; changed type: {}\n  \
                 rebuild it with --full-refresh, or set on_schema_change to append_new_columns or sync_all_columns",
                list(added.iter().map(|c| c.name.clone()).collect()),
                list(removed.iter().map(|c| c.name.clone()).collect()),
                list(
                    changed
                        .iter()
                        .map(|(e, c)| format!("{} {} -> {}", c.name, e.data_type, c.data_type))
                        .collect()
                ),
            )));
        }
        OnSchemaChange::AppendNewColumns | OnSchemaChange::SyncAllColumns => {
            for column in &added {
                add_column(conn, target, column)?;
            }
            if on_schema_change == OnSchemaChange::SyncAllColumns {
                for column in &removed {
                    exec(
                        conn,
                        &format!("alter table {target} drop column {}", ident(&column.name)),
                    )?;
                }
                for (_, column) in &changed {
                    let name = ident(&column.name);
                    let data_type = column.dbt_data_type();
                    exec(
                        conn,
                        &format!(
                            "alter table {target} alter column {name} type {data_type} using {name}::{data_type}"
                        ),
                    )?;
                }
                return Ok(incoming.iter().map(|c| c.name.clone()).collect());
            }
            let now: BTreeSet<&str> = existing
                .iter()
                .map(|c| c.name.as_str())
                .chain(added.iter().map(|c| c.name.as_str()))
                .collect();
            return Ok(incoming
                .iter()
                .filter(|c| now.contains(c.name.as_str()))
                .map(|c| c.name.clone())
                .collect());
        }
        OnSchemaChange::Ignore | OnSchemaChange::Fail => {}
    }
    // ignore: the target's columns that the new rows have, in the target's order.
    Ok(existing
        .iter()
        .filter(|c| new.contains(c.name.as_str()))
        .map(|c| c.name.clone())
        .collect())
}

/// New rows into an existing table: `append`, `delete+insert` or `merge` on the unique key,
/// with dbt-postgres' SQL. The key is written as configured (a column or an expression, not
/// quoted, as dbt does); without a key every strategy only inserts, as in dbt.
pub fn incremental(
    conn: &SharedConnection,
    build: &Build<'_>,
    settings: &Incremental<'_>,
) -> Result<Outcome, AdapterError> {
    let target = build.qualified();
    let temp = temp_name(build.name(), "new", build.suffix);
    in_transaction(conn, build, "", || {
        exec(
            conn,
            &build.with_header(format!(
                "create temporary table {} on commit drop as (\n{}\n)",
                ident(&temp),
                build.sql
            )),
        )?;
        let existing = catalog::columns(conn.lock().as_mut(), &target)?;
        let incoming = catalog::columns(conn.lock().as_mut(), &ident(&temp))?;
        catalog::expand_string_columns(conn.lock().as_mut(), &target, &existing, &incoming)?;
        let columns = reconcile_columns(
            conn,
            &target,
            &existing,
            &incoming,
            settings.on_schema_change,
        )?;
        let list = columns
            .iter()
            .map(|c| ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let source = format!("{} as DBT_INTERNAL_SOURCE", ident(&temp));
        let keys = &settings.unique_key;
        let predicates: String = settings
            .predicates
            .iter()
            .map(|p| format!(" and ({p})"))
            .collect();
        let insert = format!(
            "insert into {target} ({list}) select {list} from {}",
            ident(&temp)
        );
        let inserted = |conn: &SharedConnection| -> Result<Outcome, AdapterError> {
            let inserted = exec(conn, &insert)?;
            Ok(outcome(
                format!("INSERT 0 {}", inserted.rows_affected),
                Some(inserted.rows_affected),
                Vec::new(),
            ))
        };
        let applied = match settings.strategy {
            Strategy::Macro(render) => {
                let dest: Vec<catalog::Column> = existing
                    .iter()
                    .filter(|c| columns.contains(&c.name))
                    .cloned()
                    .collect();
                let sql = render(&temp, &dest)?;
                let done = exec(conn, &sql)?;
                Ok(outcome(
                    command_tag(&sql, done.rows_affected),
                    Some(done.rows_affected),
                    Vec::new(),
                ))
            }
            Strategy::Builtin(BuiltinStrategy::Append) => inserted(conn),
            Strategy::Builtin(BuiltinStrategy::DeleteInsert) if keys.is_empty() => inserted(conn),
            Strategy::Builtin(BuiltinStrategy::DeleteInsert) => {
                let delete = match keys.as_slice() {
                    [key] => format!(
                        "delete from {target} as DBT_INTERNAL_DEST where ({key}) in (select ({key}) from {source}){predicates}"
                    ),
                    _ => format!(
                        "delete from {target} as DBT_INTERNAL_DEST using {source} where ({}{predicates})",
                        keys.iter()
                            .map(|k| format!("DBT_INTERNAL_SOURCE.{k} = DBT_INTERNAL_DEST.{k}"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                };
                exec(conn, &delete)?;
                inserted(conn)
            }
            Strategy::Builtin(BuiltinStrategy::Merge) => {
                let mut on: Vec<String> = settings
                    .predicates
                    .iter()
                    .map(|p| format!("({p})"))
                    .collect();
                if keys.is_empty() {
                    on.push("(FALSE)".to_owned());
                }
                on.extend(
                    keys.iter()
                        .map(|k| format!("(DBT_INTERNAL_SOURCE.{k} = DBT_INTERNAL_DEST.{k})")),
                );
                let updates: Vec<String> = columns
                    .iter()
                    .filter(|c| !keys.contains(c))
                    .map(|c| format!("{0} = DBT_INTERNAL_SOURCE.{0}", ident(c)))
                    .collect();
                let when_matched = if keys.is_empty() || updates.is_empty() {
                    String::new()
                } else {
                    format!("when matched then update set {} ", updates.join(", "))
                };
                let values = columns
                    .iter()
                    .map(|c| format!("DBT_INTERNAL_SOURCE.{}", ident(c)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let merged = exec(
                    conn,
                    &format!(
                        "merge into {target} as DBT_INTERNAL_DEST using {source} on {} {when_matched}\
                         when not matched then insert ({list}) values ({values})",
                        on.join(" and ")
                    ),
                )?;
                Ok(outcome(
                    format!("MERGE {}", merged.rows_affected),
                    Some(merged.rows_affected),
                    Vec::new(),
                ))
            }
        }?;
        reconcile_grants(conn, build)?;
        persist_docs(conn, build, RelationKind::Table)?;
        Ok(applied)
    })
}

/// A status like PostgreSQL's for SQL that a macro wrote (`INSERT 0 5`, `MERGE 3`): the verb of
/// its last statement, with the rows all of its statements affected.
pub(crate) fn command_tag(sql: &str, rows: u64) -> String {
    let last = sql
        .split(';')
        .map(|statement| statement[kiln_compile::leading_trivia_len(statement)..].trim())
        .rfind(|statement| !statement.is_empty())
        .unwrap_or_default();
    let words: Vec<String> = last
        .split_whitespace()
        .take(6)
        .map(str::to_ascii_uppercase)
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    // `create [or replace] [temporary] ...`: what is created.
    let created: Vec<&str> = words
        .iter()
        .skip(1)
        .copied()
        .filter(|w| !matches!(*w, "OR" | "REPLACE" | "TEMPORARY" | "TEMP" | "UNLOGGED"))
        .collect();
    match words.as_slice() {
        [] => format!("SUCCESS {rows}"),
        ["INSERT", ..] => format!("INSERT 0 {rows}"),
        [
            verb @ ("UPDATE" | "DELETE" | "MERGE" | "SELECT" | "WITH" | "COPY"),
            ..,
        ] => {
            let verb = if *verb == "WITH" { "SELECT" } else { verb };
            format!("{verb} {rows}")
        }
        // `create table ... as` / `create materialized view ... as`: PostgreSQL's `SELECT n`.
        ["CREATE", ..]
            if matches!(created.first(), Some(&"TABLE" | &"MATERIALIZED"))
                && last.to_ascii_lowercase().contains(" as ") =>
        {
            format!("SELECT {rows}")
        }
        ["CREATE", ..] | ["ALTER" | "DROP" | "REFRESH", ..] => {
            let verb = words[0];
            let object: Vec<&str> = if verb == "CREATE" {
                created
            } else {
                words[1..].to_vec()
            };
            match object.as_slice() {
                ["MATERIALIZED", "VIEW", ..] => format!("{verb} MATERIALIZED VIEW"),
                ["UNIQUE", "INDEX", ..] => format!("{verb} INDEX"),
                [what, ..] => format!("{verb} {what}"),
                [] => verb.to_owned(),
            }
        }
        [verb, ..] => (*verb).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_macro_strategy_is_reported_by_its_last_statement() {
        let merge = "-- back compat for old kwarg name\n  merge into t using s on (FALSE)";
        assert_eq!(command_tag(merge, 3), "MERGE 3");
        assert_eq!(
            command_tag(
                "delete from t where k in (1);\ninsert into t select 1;\n",
                2
            ),
            "INSERT 0 2"
        );
        assert_eq!(command_tag("  ", 0), "SUCCESS 0");
    }

    #[test]
    fn statements_are_tagged_as_postgresql_tags_them() {
        let cases = [
            ("create table s.t as (select 1)", "SELECT 4"),
            ("create temporary table t as select 1", "SELECT 4"),
            (
                "/* meta */ create materialized view v as select 1",
                "SELECT 4",
            ),
            ("create or replace view v as select 1", "CREATE VIEW"),
            (
                "create unique index if not exists i on t (a)",
                "CREATE INDEX",
            ),
            ("refresh materialized view v", "REFRESH MATERIALIZED VIEW"),
            ("alter table t rename to u", "ALTER TABLE"),
            ("drop view if exists v cascade", "DROP VIEW"),
            ("grant select on t to r", "GRANT"),
            ("with x as (select 1) select * from x", "SELECT 4"),
            ("update t set a = 1", "UPDATE 4"),
        ];
        for (sql, tag) in cases {
            assert_eq!(command_tag(sql, 4), tag, "{sql}");
        }
    }

    #[test]
    fn temp_names_fit_postgres_identifiers() {
        assert_eq!(
            temp_name("orders", "tmp", "1a2b3c4d"),
            "orders__kiln_tmp_1a2b3c4d"
        );
        let long = "x".repeat(80);
        assert_eq!(temp_name(&long, "old", "1a2b3c4d").len(), 63);
        let accented = "é".repeat(40);
        assert!(temp_name(&accented, "tmp", "1a2b3c4d").len() <= 63);
        // Long names with a common prefix get different temporary names.
        let a = format!("{}_a", "x".repeat(60));
        let b = format!("{}_b", "x".repeat(60));
        assert_ne!(
            temp_name(&a, "tmp", "1a2b3c4d"),
            temp_name(&b, "tmp", "1a2b3c4d")
        );
    }
}
