//! The managed local PostgreSQL instance: Kiln's zero-configuration warehouse.
//!
//! A profile target with `managed: true` makes Kiln run its own server in a directory under the
//! target path (`target/postgres/` by default): `initdb` once, then `pg_ctl start` on a free
//! port on 127.0.0.1 (and a Unix socket in that directory). The server keeps running between
//! commands so that `kiln run` then `kiln test` reuse it; it is found again from
//! `instance.json` and `postmaster.pid`, and started again if it died. A file lock serializes
//! concurrent Kiln processes while one of them starts it.
//!
//! PostgreSQL refuses to run as root. When Kiln runs as root it runs the server as the
//! `postgres` system user (created by the distribution's package), as the packaged service does.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::postgres::PgSettings;

/// What can go wrong with the local instance; each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found\n  help: install them: `sudo apt-get install postgresql` (Debian/Ubuntu) or `brew install postgresql@16` (macOS), or set KILN_PG_BINDIR"
    )]
    BinariesNotFound,
    #[error(
        "Kiln runs as root and PostgreSQL refuses to; it runs the server as the `postgres` user, which does not exist\n  help: install the postgresql package (it creates that user), or run Kiln as a normal user"
    )]
    NoServerUser,
    #[error("{step} failed: {message}")]
    Command { step: String, message: String },
    #[error("{0}")]
    Io(String),
}

fn io(context: &str) -> impl Fn(std::io::Error) -> LocalError + '_ {
    move |e| LocalError::Io(format!("{context}: {e}"))
}

/// Where the server binaries are: `$KILN_PG_BINDIR`, `pg_config --bindir`, `PATH`, Debian's
/// `/usr/lib/postgresql/<version>/bin` (newest first), then Homebrew's locations.
pub fn find_bindir() -> Result<PathBuf, LocalError> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    // An explicit directory is the only one looked at: a typo there must not go unnoticed.
    if let Some(dir) = std::env::var_os("KILN_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return if has_tools(&dir) {
            Ok(dir)
        } else {
            Err(LocalError::BinariesNotFound)
        };
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        candidates.push(PathBuf::from(
            String::from_utf8_lossy(&output.stdout).trim(),
        ));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    let mut versioned: Vec<PathBuf> =
        ["/usr/lib/postgresql", "/opt/homebrew/opt", "/usr/local/opt"]
            .iter()
            .filter_map(|root| std::fs::read_dir(root).ok())
            .flat_map(|entries| entries.filter_map(Result::ok).map(|e| e.path().join("bin")))
            .collect();
    versioned.sort_by_key(|p| std::cmp::Reverse(version_of(p)));
    candidates.extend(versioned);
    candidates
        .into_iter()
        .find(|dir| has_tools(dir))
        .ok_or(LocalError::BinariesNotFound)
}

/// The major version in a path like `/usr/lib/postgresql/16/bin` or `.../postgresql@16/bin`.
fn version_of(path: &Path) -> u32 {
    path.components()
        .rev()
        .nth(1)
        .and_then(|c| c.as_os_str().to_str())
        .and_then(|s| s.rsplit(['@', '-']).next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective user).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The user the server runs as when Kiln runs as root.
const SERVER_USER: &str = "postgres";
/// The database superuser the instance is created with.
pub const DB_USER: &str = "kiln";
pub const DB_NAME: &str = "kiln";

/// A local instance rooted at a directory.
#[derive(Debug, Clone)]
pub struct LocalInstance {
    dir: PathBuf,
    bindir: PathBuf,
    as_root: bool,
}

/// What `kiln local status` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    NotCreated,
    Stopped,
    Running {
        port: u16,
        pid: u32,
    },
    /// A server answers on the instance's port, but its `postmaster.pid` is gone (deleted by
    /// hand or by a cleanup job): PostgreSQL shuts such a server down within a minute.
    RunningWithoutPidFile {
        port: u16,
    },
}

impl LocalInstance {
    pub fn new(dir: &Path) -> Result<LocalInstance, LocalError> {
        let as_root = running_as_root();
        Ok(LocalInstance {
            dir: absolute(dir),
            bindir: find_bindir()?,
            as_root,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn port_file(&self) -> PathBuf {
        self.dir.join("port")
    }

    /// Runs a server binary, as the `postgres` user when Kiln runs as root.
    fn run(&self, step: &str, program: &str, args: &[&str]) -> Result<Output, LocalError> {
        let binary = self.bindir.join(program);
        let mut command = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", SERVER_USER, "--"]).arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        command.args(args).env("LC_ALL", "C.UTF-8");
        let output = command.output().map_err(|e| LocalError::Command {
            step: step.to_owned(),
            message: e.to_string(),
        })?;
        if output.status.success() {
            Ok(output)
        } else {
            let mut message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            if message.is_empty() {
                message = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            }
            Err(LocalError::Command {
                step: step.to_owned(),
                message,
            })
        }
    }

    fn give_to_server_user(&self, path: &Path) -> Result<(), LocalError> {
        if !self.as_root {
            return Ok(());
        }
        let status = Command::new("chown")
            .args(["-R", &format!("{SERVER_USER}:{SERVER_USER}")])
            .arg(path)
            .status()
            .map_err(io("chown"))?;
        if status.success() {
            Ok(())
        } else {
            Err(LocalError::NoServerUser)
        }
    }

    pub fn status(&self) -> Status {
        if !self.data_dir().join("PG_VERSION").is_file() {
            return Status::NotCreated;
        }
        match self.running_pid() {
            Some(pid) => Status::Running {
                port: self.port().unwrap_or(0),
                pid,
            },
            None => match self.port().filter(|port| self.server_answers(*port)) {
                Some(port) => Status::RunningWithoutPidFile { port },
                None => Status::Stopped,
            },
        }
    }

    fn port(&self) -> Option<u16> {
        std::fs::read_to_string(self.port_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The file holding the superuser's password: readable by its owner only.
    pub fn password_file(&self) -> PathBuf {
        self.dir.join("password")
    }

    /// The superuser's password; empty for an instance created before Kiln set one (those
    /// were created with `trust` authentication).
    fn password(&self) -> String {
        std::fs::read_to_string(self.password_file())
            .map(|text| text.trim().to_owned())
            .unwrap_or_default()
    }

    /// A new random password, written where only its owner can read it.
    fn create_password(&self) -> Result<(), LocalError> {
        let mut bytes = [0u8; 24];
        File::open("/dev/urandom")
            .and_then(|mut random| random.read_exact(&mut bytes))
            .map_err(io("reading random bytes for the password"))?;
        let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        options
            .open(self.password_file())
            .and_then(|mut file| file.write_all(password.as_bytes()))
            .map_err(io("writing the password file"))
    }

    /// Whether this instance's server accepts a session on `port` (even without its pid
    /// file): a real login, since a dying server may still accept a TCP connection.
    fn server_answers(&self, port: u16) -> bool {
        if port_is_free(port) {
            return false;
        }
        let mut settings = self.settings(port);
        settings.dbname = "postgres".to_owned();
        settings.connect_timeout = Some(2);
        crate::Adapter::connect(&crate::PostgresAdapter::new(settings))
            .and_then(|mut conn| conn.query("select 1"))
            .is_ok()
    }

    /// The postmaster's pid when it is alive.
    fn running_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        let pid: u32 = text.lines().next()?.trim().parse().ok()?;
        Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
    }

    /// Starts the instance if it is not running (creating it first if needed) and returns how to
    /// connect to it. Safe to call from several processes at once.
    pub fn ensure_running(&self) -> Result<PgSettings, LocalError> {
        std::fs::create_dir_all(&self.dir).map_err(io("creating the instance directory"))?;
        let lock =
            File::create(self.dir.join("start.lock")).map_err(io("creating the start lock"))?;
        lock.lock().map_err(io("locking the instance"))?;
        let result = self.start_locked();
        let _ = lock.unlock();
        result
    }

    fn start_locked(&self) -> Result<PgSettings, LocalError> {
        let created = !self.data_dir().join("PG_VERSION").is_file();
        if created {
            self.create()?;
        }
        // A server still answering without its pid file serves until PostgreSQL notices; one
        // that was killed may need a moment before a new one can start: retry, don't fail.
        let answering = || self.port().is_some_and(|port| self.server_answers(port));
        if self.running_pid().is_none() && !answering() {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match self.start() {
                    Ok(()) => break,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(500));
                        if self.running_pid().is_some() || answering() {
                            break;
                        }
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        let port = self
            .port()
            .ok_or_else(|| LocalError::Io("the instance has no port file".to_owned()))?;
        let marker = self.dir.join("database-created");
        if created || !marker.is_file() {
            self.create_database(port)?;
            std::fs::write(&marker, DB_NAME).map_err(io("marking the database as created"))?;
        }
        Ok(self.settings(port))
    }

    /// Creates the `kiln` database that targets use by default.
    fn create_database(&self, port: u16) -> Result<(), LocalError> {
        let mut settings = self.settings(port);
        settings.dbname = "postgres".to_owned();
        let failed = |e: crate::AdapterError| LocalError::Command {
            step: "creating the kiln database".to_owned(),
            message: e.to_string(),
        };
        let mut conn =
            crate::Adapter::connect(&crate::PostgresAdapter::new(settings)).map_err(failed)?;
        let exists = conn
            .query(&format!(
                "select 1 from pg_database where datname = '{DB_NAME}'"
            ))
            .map_err(failed)?;
        if exists.rows.is_empty() {
            conn.execute(&format!("create database {DB_NAME}"))
                .map_err(failed)?;
        }
        Ok(())
    }

    fn create(&self) -> Result<(), LocalError> {
        let data = self.data_dir();
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).map_err(io("creating the data directory"))?;
        // Not `trust`: any local OS user could connect as the superuser. A generated password
        // (scram-sha-256), for TCP and the Unix socket alike.
        self.create_password()?;
        self.give_to_server_user(&self.dir)?;
        let data_arg = data.display().to_string();
        let password_arg = format!("--pwfile={}", self.password_file().display());
        self.run(
            "initdb",
            "initdb",
            &[
                "-D",
                &data_arg,
                "-U",
                DB_USER,
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                &password_arg,
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ],
        )?;
        Ok(())
    }

    fn start(&self) -> Result<(), LocalError> {
        let port = self
            .port()
            .filter(|p| port_is_free(*p))
            .map_or_else(free_port, Ok)?;
        std::fs::write(self.port_file(), port.to_string()).map_err(io("writing the port file"))?;
        // A Unix socket path is limited to about 100 bytes; without room, TCP alone is used.
        let socket_dir = if self.dir.as_os_str().len() < 80 {
            self.dir.display().to_string()
        } else {
            String::new()
        };
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{socket_dir}' \
             -c synchronous_commit=off -c max_connections=100"
        );
        let data_arg = self.data_dir().display().to_string();
        let log = self.dir.join("server.log").display().to_string();
        self.give_to_server_user(&self.dir)?;
        self.run(
            "starting PostgreSQL (see server.log)",
            "pg_ctl",
            &[
                "-D", &data_arg, "-l", &log, "-o", &options, "-w", "-t", "60", "start",
            ],
        )?;
        wait_for_port(port, Duration::from_secs(30))
    }

    /// How to connect: TCP on 127.0.0.1 as the instance's superuser.
    pub fn settings(&self, port: u16) -> PgSettings {
        PgSettings {
            host: "127.0.0.1".to_owned(),
            port,
            user: DB_USER.to_owned(),
            password: kiln_project::Secret::new(self.password()),
            dbname: DB_NAME.to_owned(),
            socket_dir: None,
            sslmode: Some("disable".to_owned()),
            connect_timeout: Some(10),
            search_path: None,
            statement_timeout: None,
            application_name: "kiln".to_owned(),
        }
    }

    /// Stops the server (fast shutdown: open sessions are disconnected).
    pub fn stop(&self) -> Result<bool, LocalError> {
        if self.running_pid().is_none() {
            return Ok(false);
        }
        let data_arg = self.data_dir().display().to_string();
        self.run(
            "stopping PostgreSQL",
            "pg_ctl",
            &["-D", &data_arg, "-m", "fast", "-w", "stop"],
        )?;
        Ok(true)
    }

    /// Stops the server and deletes the instance and all its data.
    pub fn destroy(&self) -> Result<(), LocalError> {
        self.stop()?;
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LocalError::Io(format!(
                "removing {}: {e}",
                self.dir.display()
            ))),
            _ => Ok(()),
        }
    }
}

fn absolute(dir: &Path) -> PathBuf {
    if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    }
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn free_port() -> Result<u16, LocalError> {
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(io("finding a free port"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(io("finding a free port"))
}

fn wait_for_port(port: u16, timeout: Duration) -> Result<(), LocalError> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(LocalError::Command {
        step: "starting PostgreSQL".to_owned(),
        message: format!("port {port} did not open within {}s", timeout.as_secs()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_newest_first() {
        assert_eq!(version_of(Path::new("/usr/lib/postgresql/16/bin")), 16);
        assert_eq!(
            version_of(Path::new("/opt/homebrew/opt/postgresql@15/bin")),
            15
        );
        assert_eq!(version_of(Path::new("/usr/bin")), 0);
    }
}
