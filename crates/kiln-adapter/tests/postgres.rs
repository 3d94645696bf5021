//! The PostgreSQL adapter against a real server: a managed local instance started in a
//! temporary directory (the code path `managed: true` users get), or `KILN_TEST_PG_URL`'s
//! server when that is set. Never skipped: no server is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use kiln_adapter::local::LocalInstance;
use kiln_adapter::{Adapter, AdapterError, PostgresAdapter, catalog};

struct Server {
    instance: LocalInstance,
    adapter: PostgresAdapter,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.instance.destroy();
    }
}

fn server(name: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("kiln-adapter-{name}-{}", std::process::id()));
    let instance = LocalInstance::new(&dir).expect("PostgreSQL server binaries are installed");
    let settings = instance
        .ensure_running()
        .expect("the local instance starts");
    Server {
        instance,
        adapter: PostgresAdapter::new(settings),
    }
}

#[test]
fn runs_statements_queries_and_copy() {
    let server = server("basics");
    let mut conn = server.adapter.connect().unwrap();
    conn.execute("create schema s; create table s.t (id int, name text, amount numeric(10,2), at timestamptz)").unwrap();
    let copied = conn
        .copy_in(
            "copy s.t from stdin (format csv)",
            &mut &b"1,one,1.50,2024-01-01 00:00:00+00\n2,,2,\n"[..],
        )
        .unwrap();
    assert_eq!(copied, 2);
    let inserted = conn
        .execute("insert into s.t values (3, 'three', 3, now())")
        .unwrap();
    assert_eq!(inserted.rows_affected, 1);
    let table = conn
        .query("select id, name, amount from s.t order by id")
        .unwrap();
    assert_eq!(table.columns, ["id", "name", "amount"]);
    assert_eq!(
        table.rows[0],
        [
            serde_json::json!(1),
            serde_json::json!("one"),
            serde_json::json!(1.50)
        ]
    );
    assert_eq!(table.rows[1][1], serde_json::Value::Null);
    let empty = conn.query("select id, name from s.t where false").unwrap();
    assert!(empty.rows.is_empty());
    assert_eq!(
        conn.columns_of("select id, name from s.t where false")
            .unwrap(),
        ["id", "name"]
    );

    assert_eq!(
        catalog::relation_kind(conn.as_mut(), "s", "t").unwrap(),
        Some(catalog::RelationKind::Table)
    );
    assert_eq!(
        catalog::relation_kind(conn.as_mut(), "s", "missing").unwrap(),
        None
    );
    let columns = catalog::columns(conn.as_mut(), "\"s\".\"t\"").unwrap();
    assert_eq!(columns[2].data_type, "numeric(10,2)");

    conn.execute("create view s.v1 as select id from s.t; create view s.v2 as select id from s.v1")
        .unwrap();
    let (kind, dependents) = catalog::relation_state(conn.as_mut(), "s", "t")
        .unwrap()
        .unwrap();
    assert_eq!(kind, catalog::RelationKind::Table);
    let names: Vec<_> = dependents
        .iter()
        .map(|d| (d.name.as_str(), d.depth))
        .collect();
    assert_eq!(names, [("v1", 1), ("v2", 2)]);
}

#[test]
fn database_errors_carry_the_servers_message() {
    let server = server("errors");
    let mut conn = server.adapter.connect().unwrap();
    let error = conn.execute("select * from no_such_table").unwrap_err();
    match error {
        AdapterError::Database { message, code, .. } => {
            assert!(message.contains("no_such_table"), "{message}");
            assert_eq!(code.as_deref(), Some("42P01"));
        }
        other => panic!("expected a database error, got {other:?}"),
    }
}

#[test]
fn a_running_query_can_be_cancelled_from_another_thread() {
    let server = server("cancel");
    let mut conn = server.adapter.connect().unwrap();
    let canceller = conn.canceller();
    let handle = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        canceller.cancel();
    });
    let started = std::time::Instant::now();
    let error = conn.execute("select pg_sleep(30)").unwrap_err();
    handle.join().unwrap();
    assert_eq!(error, AdapterError::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn the_instance_survives_between_handles_and_restarts_when_stopped() {
    let server = server("restart");
    let again = LocalInstance::new(server.instance.dir()).unwrap();
    let settings = again.ensure_running().unwrap();
    assert_eq!(
        settings.port,
        server.adapter.settings().port,
        "a running instance is reused"
    );
    assert!(again.stop().unwrap());
    assert_eq!(again.status(), kiln_adapter::local::Status::Stopped);
    let settings = again.ensure_running().unwrap();
    let mut conn = PostgresAdapter::new(settings).connect().unwrap();
    assert_eq!(
        conn.query("select 1 as one").unwrap().rows[0][0],
        serde_json::json!(1)
    );
}

#[test]
fn the_managed_instance_requires_its_generated_password() {
    let server = server("auth");
    let password_file = server.instance.password_file();
    // Only the owner can read the password.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&password_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "password file mode {mode:o}");
    }
    // With it, a connection works (the adapter's settings read it).
    server.adapter.connect().unwrap();
    // Without it, or with a wrong one, TCP on 127.0.0.1 is refused: not `trust`.
    let port = std::fs::read_to_string(server.instance.dir().join("port")).unwrap();
    let mut settings = server.instance.settings(port.trim().parse().unwrap());
    for password in ["", "not-the-password"] {
        settings.password = kiln_project::Secret::new(password);
        let error = PostgresAdapter::new(settings.clone())
            .connect()
            .err()
            .expect("refused without the password");
        assert!(error.to_string().contains("password"), "{error}");
    }
}

#[test]
fn the_managed_instance_survives_a_lost_pid_file_and_a_killed_postmaster() {
    use kiln_adapter::local::Status;
    let server = server("faults");
    let pid_file = server.instance.dir().join("data/postmaster.pid");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let pid = pid.lines().next().unwrap().trim().to_owned();
    // The pid file deleted while the server runs: status tells the truth, and runs go on.
    std::fs::remove_file(&pid_file).unwrap();
    assert!(matches!(
        server.instance.status(),
        Status::RunningWithoutPidFile { .. }
    ));
    let settings = server.instance.ensure_running().unwrap();
    PostgresAdapter::new(settings).connect().unwrap();
    // The postmaster killed: the next start waits for it to be gone and starts a new one.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let settings = server.instance.ensure_running().unwrap();
    let mut conn = PostgresAdapter::new(settings).connect().unwrap();
    conn.query("select 1").unwrap();
    assert!(matches!(server.instance.status(), Status::Running { .. }));
}
