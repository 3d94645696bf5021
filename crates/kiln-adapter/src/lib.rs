//! The warehouse: the only door to the database.
//!
//! The runner talks to an [`Adapter`], which opens [`Connection`]s; the PostgreSQL
//! implementation ([`postgres::PostgresAdapter`]) uses sqlx. The API is synchronous because
//! Kiln renders Jinja and schedules nodes on plain threads: a connection drives its queries on
//! a shared tokio runtime and blocks the calling thread until they finish. Queries can be
//! cancelled from another thread ([`Canceller`]), which is how `--fail-fast` and Ctrl-C stop
//! work in flight on the server.

pub mod catalog;
pub mod local;
pub mod postgres;

use std::fmt;

use serde_json::Value as Json;

pub use postgres::{PgSettings, PostgresAdapter};

/// What went wrong talking to the warehouse. Messages never contain the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The server could not be reached or refused the login.
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    /// The server ran the SQL and reported an error.
    #[error("{message}")]
    Database {
        message: String,
        /// SQLSTATE, e.g. `42P01` for an undefined table.
        code: Option<String>,
        detail: Option<String>,
        hint: Option<String>,
    },
    /// The query was cancelled (fail-fast, Ctrl-C).
    #[error("query cancelled")]
    Cancelled,
    /// Anything else (a broken connection, a protocol error).
    #[error("{0}")]
    Other(String),
}

impl AdapterError {
    /// What to do about a failed connection, from what the failure says.
    pub fn connection_help(&self) -> &'static str {
        let message = self.to_string().to_lowercase();
        if message.contains("server does not support tls") {
            "the server does not accept TLS: set `sslmode: disable` (or `prefer`) in the target, or turn on `ssl` in the server's postgresql.conf"
        } else if message.contains("tls") || message.contains("certificate") {
            "the TLS handshake failed: check `sslmode` and the certificates (`sslrootcert` for verify-ca / verify-full)"
        } else if message.contains("sslmode") {
            "set `sslmode` in the target to disable, allow, prefer, require, verify-ca or verify-full"
        } else if message.contains("password authentication failed")
            || message.contains("no password")
            || (message.contains("role \"") && message.contains("does not exist"))
        {
            "check the target's `user` and `password` (an `env_var()` that is not set gives an empty one)"
        } else if message.contains("database \"") && message.contains("does not exist") {
            "check the target's `dbname`, or create the database"
        } else if message.contains("refused") || message.contains("timed out") {
            "no server answers at the target's `host` and `port`: is it running, and listening there?"
        } else {
            "check the target's host, port, user, password and dbname (`kiln debug` checks them one by one)"
        }
    }

    /// The message with the server's detail and hint, for users.
    pub fn full_message(&self) -> String {
        match self {
            AdapterError::Database {
                message,
                detail,
                hint,
                ..
            } => {
                let mut text = message.clone();
                if let Some(detail) = detail {
                    text.push_str(&format!("\n  detail: {detail}"));
                }
                if let Some(hint) = hint {
                    text.push_str(&format!("\n  hint: {hint}"));
                }
                text
            }
            other => other.to_string(),
        }
    }
}

/// The rows of a query: column names and one JSON value per cell (numbers, strings, booleans,
/// nested JSON; timestamps and other types as their text), and each cell exactly as the server
/// wrote it (`46.50`, not the float `46.5`), for display.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Json>>,
    pub texts: Vec<Vec<String>>,
}

impl Table {
    /// A cell as display text (`null` for SQL NULL).
    pub fn cell_text(value: &Json) -> String {
        match value {
            Json::Null => "null".to_owned(),
            Json::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// The result of a statement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecResult {
    pub rows_affected: u64,
}

/// Stops the queries of one connection from another thread.
pub trait Canceller: Send + Sync + fmt::Debug {
    fn cancel(&self);
}

/// One session with the warehouse.
pub trait Connection: Send {
    /// Runs one or more statements (DDL, DML) and returns the rows they affected.
    fn execute(&mut self, sql: &str) -> Result<ExecResult, AdapterError>;
    /// Runs a query and returns its rows. With no rows, `columns` is empty (see
    /// [`Connection::columns_of`]).
    fn query(&mut self, sql: &str) -> Result<Table, AdapterError>;
    /// The column names a query would return, without running it.
    fn columns_of(&mut self, sql: &str) -> Result<Vec<String>, AdapterError>;
    /// The type names (`TIMESTAMP`, `TEXT`...) of the columns a query would return, without
    /// running it.
    fn column_types_of(&mut self, sql: &str) -> Result<Vec<String>, AdapterError>;
    /// `COPY ... FROM STDIN` with the bytes `data` yields, sent as they are read (a seed of
    /// any size in bounded memory); returns the rows copied.
    fn copy_in(
        &mut self,
        statement: &str,
        data: &mut dyn std::io::Read,
    ) -> Result<u64, AdapterError>;
    /// A handle that cancels whatever this connection is running.
    fn canceller(&self) -> Box<dyn Canceller>;
}

/// A warehouse Kiln can run on.
pub trait Adapter: Send + Sync {
    /// `postgres`: the prefix of dispatched macros (`postgres__dateadd`).
    fn kind(&self) -> &str;
    /// Where it connects to, for messages (no password).
    fn describe(&self) -> String;
    fn connect(&self) -> Result<Box<dyn Connection>, AdapterError>;
}

#[cfg(test)]
mod connection_help_tests {
    use super::AdapterError;

    fn help(message: &str) -> &'static str {
        AdapterError::Connect {
            target: "kiln@db:5432/warehouse".to_owned(),
            message: message.to_owned(),
        }
        .connection_help()
    }

    #[test]
    fn each_connection_failure_gets_its_own_advice() {
        assert!(help("error occurred while attempting to establish a TLS connection: server does not support TLS").contains("sslmode: disable"));
        assert!(
            help("error returned from database: role \"nobody\" does not exist").contains("`user`")
        );
        assert!(
            help("error returned from database: database \"wh\" does not exist")
                .contains("`dbname`")
        );
        assert!(
            help("error communicating with database: Connection refused (os error 111)")
                .contains("`host` and `port`")
        );
        assert!(help("sslmode `bogus` is not one of disable, allow").contains("verify-full"));
    }
}
