//! The warehouse of `kiln compile`: connected the first time a template asks it something.
//!
//! dbt's compile renders with `execute` true, so `run_query`, `dbt_utils.get_column_values`,
//! `date_spine`'s bounds and the like read the warehouse and the compiled SQL is the SQL that
//! runs. Kiln does the same, but opens the connection (starting the managed instance if the
//! target is one) only when a template needs it: a project that never asks compiles without a
//! server, as fast as before.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};

use kiln_core::Relation;
use kiln_jinja::{QueryFailed, QueryResult, Warehouse};
use kiln_project::profiles::Profile;
use kiln_run::connection::SharedConnection;

pub struct LazyWarehouse {
    /// The managed instance's directory (used when the target is managed).
    local_dir: PathBuf,
    profile: Profile,
    /// What connecting had to say (the managed instance starting), shown after the renders so
    /// that the output does not depend on which render asked first.
    messages: Mutex<Vec<String>>,
    connection: OnceLock<Result<SharedConnection, String>>,
}

impl LazyWarehouse {
    pub fn new(local_dir: PathBuf, profile: Profile) -> LazyWarehouse {
        LazyWarehouse {
            local_dir,
            profile,
            messages: Mutex::default(),
            connection: OnceLock::new(),
        }
    }

    /// What connecting had to say, once.
    pub fn take_messages(&self) -> Vec<String> {
        std::mem::take(&mut self.messages.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn connect(&self) -> Result<SharedConnection, String> {
        let say = |message: &str| {
            self.messages
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(message.to_owned());
        };
        let adapter = crate::target::adapter_at(&self.local_dir, &self.profile, &say)
            .map_err(|error| error.to_string())?;
        let connection =
            kiln_adapter::Adapter::connect(&adapter).map_err(|error| error.full_message())?;
        Ok(SharedConnection::new(connection))
    }

    /// The connection, opened on first use; a failure to connect is the answer to every
    /// question after it too (one attempt per compile).
    fn get(&self) -> Result<&SharedConnection, QueryFailed> {
        match self.connection.get_or_init(|| self.connect()) {
            Ok(connection) => Ok(connection),
            Err(message) => Err(QueryFailed {
                message: format!(
                    "this model reads the warehouse while it compiles (as in dbt, `execute` is true), and the warehouse cannot be reached: {message}; `kiln compile --no-connect` compiles without it"
                ),
            }),
        }
    }
}

impl Warehouse for LazyWarehouse {
    fn query(&self, sql: &str) -> Result<QueryResult, QueryFailed> {
        self.get()?.query(sql)
    }

    fn columns(&self, relation: &Relation) -> Result<Vec<(String, String)>, QueryFailed> {
        self.get()?.columns(relation)
    }

    fn get_relation(
        &self,
        database: Option<&str>,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<Relation>, QueryFailed> {
        self.get()?.get_relation(database, schema, identifier)
    }
}
