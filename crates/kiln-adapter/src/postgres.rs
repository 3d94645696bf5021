//! PostgreSQL through sqlx.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kiln_project::Profile;
use serde_json::Value as Json;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{Connection as _, Executor as _, Row as _};
use tokio::runtime::Runtime;

use crate::{Adapter, AdapterError, Canceller, Connection, ExecResult, Table};

/// How to reach a PostgreSQL server.
#[derive(Clone, PartialEq, Eq)]
pub struct PgSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: kiln_project::Secret,
    pub dbname: String,
    /// A directory holding the server's Unix socket, used instead of host/port when set.
    pub socket_dir: Option<std::path::PathBuf>,
    pub sslmode: Option<String>,
    pub connect_timeout: Option<u64>,
    pub search_path: Option<String>,
    /// The server's `statement_timeout` for every session (`30min`, or milliseconds).
    pub statement_timeout: Option<String>,
    pub application_name: String,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A profile target that does not describe a PostgreSQL connection Kiln can open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("target type `{0}` is not supported: Kiln runs on postgres")]
    UnsupportedType(String),
    #[error("port {0} is out of range")]
    PortOutOfRange(u32),
    #[error("sslmode `{0}` is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    SslMode(String),
}

impl PgSettings {
    /// Settings from a profile's target (the managed local instance fills `socket_dir`).
    pub fn from_profile(profile: &Profile) -> Result<PgSettings, SettingsError> {
        let target = &profile.target;
        if target.kind != "postgres" {
            return Err(SettingsError::UnsupportedType(target.kind.clone()));
        }
        let extra = |key: &str| {
            target
                .extra
                .get(key)
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        };
        let port = target.port.unwrap_or(5432);
        Ok(PgSettings {
            host: target
                .host
                .clone()
                .unwrap_or_else(|| "localhost".to_owned()),
            port: u16::try_from(port).map_err(|_| SettingsError::PortOutOfRange(port))?,
            user: target.user.clone().unwrap_or_else(|| "postgres".to_owned()),
            password: target.password.clone().unwrap_or_default(),
            dbname: profile.database().to_owned(),
            socket_dir: None,
            sslmode: extra("sslmode"),
            connect_timeout: extra("connect_timeout").and_then(|v| v.parse().ok()),
            search_path: extra("search_path"),
            statement_timeout: extra("statement_timeout"),
            application_name: "kiln".to_owned(),
        })
    }

    /// `user@host:port/dbname`, never the password.
    pub fn describe(&self) -> String {
        match &self.socket_dir {
            Some(dir) => format!(
                "{}@{} (socket in {})/{}",
                self.user,
                self.host,
                dir.display(),
                self.dbname
            ),
            None => format!("{}@{}:{}/{}", self.user, self.host, self.port, self.dbname),
        }
    }

    fn options(&self) -> Result<PgConnectOptions, SettingsError> {
        let mut options = PgConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .username(&self.user)
            .database(&self.dbname)
            .application_name(&self.application_name)
            // DDL differs every time; caching statements would only grow memory.
            .statement_cache_capacity(0);
        if let Some(dir) = &self.socket_dir {
            options = options.socket(dir);
        }
        if !self.password.is_empty() {
            options = options.password(self.password.expose());
        }
        if let Some(mode) = &self.sslmode {
            let mode: PgSslMode = mode
                .parse()
                .map_err(|_| SettingsError::SslMode(mode.clone()))?;
            options = options.ssl_mode(mode);
        }
        if let Some(path) = &self.search_path {
            options = options.options([("search_path", path.as_str())]);
        }
        if let Some(timeout) = &self.statement_timeout {
            options = options.options([("statement_timeout", timeout.as_str())]);
        }
        Ok(options)
    }
}

/// The tokio runtime every connection drives its I/O on.
fn runtime() -> Result<&'static Runtime, AdapterError> {
    static RUNTIME: OnceLock<Result<Runtime, std::io::Error>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .thread_name("kiln-pg")
                .build()
        })
        .as_ref()
        .map_err(|e| AdapterError::Other(format!("cannot start the I/O runtime: {e}")))
}

fn database_error(error: sqlx::Error) -> AdapterError {
    match error {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned());
            // 57014 is also a `statement_timeout`: that one is the server's message, not ours.
            if code.as_deref() == Some("57014") && !db.message().contains("timeout") {
                return AdapterError::Cancelled;
            }
            let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
            AdapterError::Database {
                message: db.message().to_owned(),
                code,
                detail: pg.and_then(|p| p.detail().map(str::to_owned)),
                hint: pg.and_then(|p| p.hint().map(str::to_owned)),
            }
        }
        other => AdapterError::Other(other.to_string()),
    }
}

/// A PostgreSQL warehouse.
#[derive(Debug, Clone)]
pub struct PostgresAdapter {
    settings: PgSettings,
}

impl PostgresAdapter {
    pub fn new(settings: PgSettings) -> Self {
        PostgresAdapter { settings }
    }

    pub fn settings(&self) -> &PgSettings {
        &self.settings
    }
}

impl Adapter for PostgresAdapter {
    fn kind(&self) -> &str {
        "postgres"
    }

    fn describe(&self) -> String {
        self.settings.describe()
    }

    fn connect(&self) -> Result<Box<dyn Connection>, AdapterError> {
        let runtime = runtime()?;
        let connect_error = |message: String| AdapterError::Connect {
            target: self.settings.describe(),
            message,
        };
        let options = self
            .settings
            .options()
            .map_err(|e| connect_error(e.to_string()))?;
        let timeout = Duration::from_secs(self.settings.connect_timeout.unwrap_or(10));
        let mut connection = runtime
            .block_on(async {
                tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await
            })
            .map_err(|_| connect_error(format!("no answer within {}s", timeout.as_secs())))?
            .map_err(|e| connect_error(e.to_string()))?;
        let pid: i32 = runtime
            .block_on(async {
                sqlx::query_scalar("select pg_backend_pid()")
                    .fetch_one(&mut connection)
                    .await
            })
            .map_err(database_error)?;
        Ok(Box::new(PgConn {
            connection,
            pid,
            settings: Arc::new(self.settings.clone()),
        }))
    }
}

struct PgConn {
    connection: PgConnection,
    pid: i32,
    settings: Arc<PgSettings>,
}

impl PgConn {
    /// The columns a query would return, `(name, type name)`, without running it.
    fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, AdapterError> {
        let runtime = runtime()?;
        let sql = sql.trim().trim_end_matches(';');
        let described = runtime
            .block_on(async { (&mut self.connection).describe(sql).await })
            .map_err(database_error)?;
        Ok(described
            .columns()
            .iter()
            .map(|c| {
                let name = sqlx::Column::name(c).to_owned();
                (
                    name,
                    sqlx::TypeInfo::name(sqlx::Column::type_info(c)).to_owned(),
                )
            })
            .collect())
    }
}

impl Connection for PgConn {
    fn execute(&mut self, sql: &str) -> Result<ExecResult, AdapterError> {
        let runtime = runtime()?;
        let result =
            runtime.block_on(async { sqlx::raw_sql(sql).execute(&mut self.connection).await });
        result
            .map(|r| ExecResult {
                rows_affected: r.rows_affected(),
            })
            .map_err(database_error)
    }

    fn query(&mut self, sql: &str) -> Result<Table, AdapterError> {
        let runtime = runtime()?;
        let sql = sql.trim().trim_end_matches(';');
        // One JSON object per row keeps every type readable without per-type decoding. A plain
        // projection over the query keeps its row order.
        let wrapped = format!("select row_to_json(kiln_q)::text from ({sql}\n) as kiln_q");
        let rows = runtime
            .block_on(async { sqlx::query(&wrapped).fetch_all(&mut self.connection).await })
            .map_err(database_error)?;
        let mut table = Table::default();
        for row in rows {
            let text: String = row.try_get(0).map_err(database_error)?;
            let object: raw_row::RawRow = serde_json::from_str(&text)
                .map_err(|e| AdapterError::Other(format!("cannot read a result row: {e}")))?;
            if table.columns.is_empty() {
                table.columns = object.0.iter().map(|(k, _)| k.clone()).collect();
            }
            let mut values = Vec::with_capacity(object.0.len());
            let mut texts = Vec::with_capacity(object.0.len());
            for (_, raw) in object.0 {
                let raw = raw.get();
                let value: Json = serde_json::from_str(raw).unwrap_or(Json::Null);
                texts.push(match &value {
                    Json::Number(_) => raw.to_owned(),
                    other => Table::cell_text(other),
                });
                values.push(value);
            }
            table.rows.push(values);
            table.texts.push(texts);
        }
        Ok(table)
    }

    fn columns_of(&mut self, sql: &str) -> Result<Vec<String>, AdapterError> {
        Ok(self
            .describe(sql)?
            .into_iter()
            .map(|(name, _)| name)
            .collect())
    }

    fn column_types_of(&mut self, sql: &str) -> Result<Vec<String>, AdapterError> {
        Ok(self
            .describe(sql)?
            .into_iter()
            .map(|(_, kind)| kind)
            .collect())
    }

    fn copy_in(
        &mut self,
        statement: &str,
        data: &mut dyn std::io::Read,
    ) -> Result<u64, AdapterError> {
        /// Bytes per `CopyData` message: large enough that the messages cost nothing next to
        /// the server's parsing, small enough to keep memory flat.
        const CHUNK: usize = 1 << 20;
        let runtime = runtime()?;
        runtime.block_on(async {
            let mut copy = self
                .connection
                .copy_in_raw(statement)
                .await
                .map_err(database_error)?;
            let mut buffer = vec![0; CHUNK];
            loop {
                let read = match data.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(error) => {
                        let message = format!("cannot read the data to copy: {error}");
                        let _ = copy.abort(message.clone()).await;
                        return Err(AdapterError::Other(message));
                    }
                };
                copy.send(&buffer[..read]).await.map_err(database_error)?;
            }
            copy.finish().await.map_err(database_error)
        })
    }

    fn canceller(&self) -> Box<dyn Canceller> {
        Box::new(PgCanceller {
            pid: self.pid,
            settings: self.settings.clone(),
        })
    }
}

/// Cancels a backend's running query with `pg_cancel_backend` from a short-lived connection.
#[derive(Debug)]
struct PgCanceller {
    pid: i32,
    settings: Arc<PgSettings>,
}

impl Canceller for PgCanceller {
    fn cancel(&self) {
        let adapter = PostgresAdapter::new((*self.settings).clone());
        if let Ok(mut connection) = adapter.connect() {
            let _ = connection.execute(&format!("select pg_cancel_backend({})", self.pid));
        }
    }
}

/// A JSON object read with each value's raw text, in the server's column order.
mod raw_row {
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use serde_json::value::RawValue;

    pub struct RawRow(pub Vec<(String, Box<RawValue>)>);

    impl<'de> Deserialize<'de> for RawRow {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct RowVisitor;
            impl<'de> Visitor<'de> for RowVisitor {
                type Value = RawRow;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRow, A::Error> {
                    let mut entries = Vec::new();
                    while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                        entries.push((key, value));
                    }
                    Ok(RawRow(entries))
                }
            }
            deserializer.deserialize_map(RowVisitor)
        }
    }
}
