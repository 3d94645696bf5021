//! The PostgreSQL server the warehouse tests run against.
//!
//! By default one managed local instance per test process, started with the same code users
//! get (`managed: true`), in a temporary directory that a watchdog removes when the process
//! ends. With `KILN_TEST_PG_URL=postgres://user:password@host:port/db` the tests use that
//! server instead. Each test gets a database of its own. There is no skipping: if no server can
//! be started, the tests fail.

use std::path::PathBuf;
use std::sync::OnceLock;

use kiln_adapter::local::LocalInstance;
use kiln_adapter::{Adapter, PgSettings, PostgresAdapter, Table};

use crate::support::Fixture;

enum Server {
    Local { dir: PathBuf, settings: PgSettings },
    Url { settings: PgSettings },
}

fn parse_url(url: &str) -> PgSettings {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .expect("a postgres:// URL");
    let (auth, host) = rest.split_once('@').unwrap_or(("postgres", rest));
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let (hostport, dbname) = host.split_once('/').unwrap_or((host, "postgres"));
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    PgSettings {
        host: host.to_owned(),
        port: port.parse().expect("a port number"),
        user: user.to_owned(),
        password: kiln_project::Secret::new(password),
        dbname: dbname.to_owned(),
        socket_dir: None,
        sslmode: None,
        connect_timeout: Some(10),
        search_path: None,
        statement_timeout: None,
        application_name: "kiln-tests".to_owned(),
    }
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("KILN_TEST_PG_URL") {
            return Server::Url { settings: parse_url(&url) };
        }
        let dir = std::env::temp_dir().join(format!("kiln-it-pg-{}", std::process::id()));
        let instance = LocalInstance::new(&dir).expect("PostgreSQL server binaries are installed (see .ci/run)");
        let settings = instance.ensure_running().expect("the managed local instance starts");
        // Stop and remove the instance when this test process ends, however it ends.
        let watchdog = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; \"{kiln}\" local destroy --project-dir \"{dir}\" >/dev/null 2>&1 || true; rm -rf \"{dir}\"",
            pid = std::process::id(),
            kiln = env!("CARGO_BIN_EXE_kiln"),
            dir = dir.display(),
        );
        std::fs::write(dir.join("project.yml"), "name: kiln_test_instance\nprofile: instance\n").unwrap();
        std::fs::write(
            dir.join("profiles.yml"),
            format!("instance:\n  outputs:\n    dev:\n      type: postgres\n      managed: true\n      data_dir: \"{}\"\n", dir.display()),
        )
        .unwrap();
        // The watchdog outlives this process on purpose: it is never waited for.
        #[allow(clippy::zombie_processes)]
        std::process::Command::new("sh")
            .args(["-c", &watchdog])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the watchdog starts");
        Server::Local { dir, settings }
    })
}

/// A database of its own for one test on the shared server.
pub struct Database {
    pub name: String,
    settings: PgSettings,
}

impl Database {
    pub fn new(test: &str) -> Database {
        let server = server();
        let base = match server {
            Server::Local { settings, .. } | Server::Url { settings } => settings.clone(),
        };
        let name = format!("it_{}_{}", test, std::process::id());
        let mut conn = PostgresAdapter::new(base.clone())
            .connect()
            .expect("the test server accepts connections");
        conn.execute(&format!("drop database if exists {name} with (force)"))
            .unwrap();
        conn.execute(&format!("create database {name}")).unwrap();
        let mut settings = base;
        settings.dbname = name.clone();
        Database { name, settings }
    }

    /// The fixture's profile pointed at this database.
    pub fn configure(&self, fixture: Fixture) -> Fixture {
        let fixture = fixture.env("KILN_TEST_DB", &self.name);
        match server() {
            Server::Local { dir, .. } => fixture
                .env("KILN_TEST_TARGET", "local")
                .env("KILN_TEST_PG_DIR", &dir.display().to_string()),
            Server::Url { settings } => fixture
                .env("KILN_TEST_TARGET", "server")
                .env("KILN_TEST_PG_HOST", &settings.host)
                .env("KILN_TEST_PG_PORT", &settings.port.to_string())
                .env("KILN_TEST_PG_USER", &settings.user)
                .env("KILN_TEST_PG_PASSWORD", settings.password.expose()),
        }
    }

    /// The fixture's `server` target pointed at this database by host, port and user, the way
    /// an existing warehouse is configured (no managed instance involved).
    pub fn configure_as_server(&self, fixture: Fixture) -> Fixture {
        fixture
            .env("KILN_TEST_DB", &self.name)
            .env("KILN_TEST_TARGET", "server")
            .env("KILN_TEST_PG_HOST", &self.settings.host)
            .env("KILN_TEST_PG_PORT", &self.settings.port.to_string())
            .env("KILN_TEST_PG_USER", &self.settings.user)
            .env("KILN_TEST_PG_PASSWORD", self.settings.password.expose())
    }

    pub fn query(&self, sql: &str) -> Table {
        let mut conn = PostgresAdapter::new(self.settings.clone())
            .connect()
            .unwrap();
        conn.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub fn execute(&self, sql: &str) {
        let mut conn = PostgresAdapter::new(self.settings.clone())
            .connect()
            .unwrap();
        conn.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Rows as sorted text lines, for comparing relations.
    pub fn rows(&self, sql: &str) -> Vec<String> {
        let mut rows: Vec<String> = self
            .query(sql)
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(Table::cell_text)
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        rows.sort();
        rows
    }
}
