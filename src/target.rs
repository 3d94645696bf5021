//! The warehouse a profile points at: an existing server, or the managed local instance.

use std::path::{Path, PathBuf};

use anyhow::Result;
use kiln_adapter::local::LocalInstance;
use kiln_adapter::{Adapter, PgSettings, PostgresAdapter};
use kiln_core::{Diagnostic, Diagnostics};
use kiln_project::{Profile, Project};

use crate::printer::Printer;

/// Where the managed instance of a project lives: the target's `data_dir`, or
/// `<target-path>/postgres`.
pub fn local_dir(project: &Project, profile: &Profile) -> PathBuf {
    match &profile.target.data_dir {
        Some(dir) if Path::new(dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => project.root.join(dir),
        None => project.target_dir().join("postgres"),
    }
}

/// Connects the profile's target; starts the managed instance when the target asks for one.
pub fn adapter(project: &Project, profile: &Profile, printer: &Printer) -> Result<PostgresAdapter> {
    adapter_at(&local_dir(project, profile), profile, &|message| {
        printer.info(message)
    })
}

/// [`adapter`], with the managed instance's directory already known.
/// [`adapter`], with the managed instance's directory already known; `say` tells the user
/// that the instance is starting.
pub fn adapter_at(dir: &Path, profile: &Profile, say: &dyn Fn(&str)) -> Result<PostgresAdapter> {
    let fail = |message: String| -> anyhow::Error {
        Diagnostics::from(Diagnostic::error(message).help(format!(
            "check the `{}` target of profile `{}` in {}",
            profile.target_name,
            profile.profile_name,
            profile.file.display()
        )))
        .into()
    };
    if profile.target.managed && profile.target.host.is_none() {
        // The local instance's errors carry their own help (how to install PostgreSQL...).
        let local = |e: kiln_adapter::local::LocalError| -> anyhow::Error {
            Diagnostics::from(Diagnostic::error(e.to_string())).into()
        };
        let instance = LocalInstance::new(dir).map_err(local)?;
        if !matches!(
            instance.status(),
            kiln_adapter::local::Status::Running { .. }
                | kiln_adapter::local::Status::RunningWithoutPidFile { .. }
        ) {
            say(&format!(
                "Starting the local PostgreSQL instance in {}",
                dir.display()
            ));
        }
        let mut settings: PgSettings = instance.ensure_running().map_err(local)?;
        let database = profile.database();
        if database != settings.dbname {
            let mut conn = PostgresAdapter::new(settings.clone())
                .connect()
                .map_err(|e| fail(e.to_string()))?;
            let exists = conn
                .query(&format!(
                    "select 1 from pg_database where datname = {}",
                    kiln_adapter::catalog::literal(database)
                ))
                .map_err(|e| fail(e.full_message()))?;
            if exists.rows.is_empty() {
                conn.execute(&format!(
                    "create database {}",
                    kiln_adapter::catalog::ident(database)
                ))
                .map_err(|e| fail(e.full_message()))?;
            }
            settings.dbname = database.to_owned();
        }
        // What the profile sets for every session applies to the managed instance too.
        if let Ok(configured) = PgSettings::from_profile(profile) {
            settings.search_path = configured.search_path;
            settings.statement_timeout = configured.statement_timeout;
        }
        return Ok(PostgresAdapter::new(settings));
    }
    let settings = PgSettings::from_profile(profile).map_err(|e| fail(e.to_string()))?;
    Ok(PostgresAdapter::new(settings))
}
