//! Real dbt code written by others (../shared/corpus, beside the repository in CI too): it must
//! load unmodified. The corpus is required; a missing corpus fails the test.

use std::path::{Path, PathBuf};

use crate::pg::Database;
use crate::support::{Fixture, copy_dir};

fn corpus(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(name);
    assert!(
        dir.is_dir(),
        "{} is missing: the corpus sits beside the repository (shared/corpus)",
        dir.display()
    );
    dir
}

/// The profile dbt_utils' own CI writes, pointed at the test harness' PostgreSQL (the
/// warehouse tests' environment variables, as in the jaffle fixture).
const PROFILE: &str = r#"integration_tests:
  target: "{{ env_var('KILN_TEST_TARGET', 'local') }}"
  outputs:
    local:
      type: postgres
      managed: true
      data_dir: "{{ env_var('KILN_TEST_PG_DIR', 'target/postgres') }}"
      dbname: "{{ env_var('KILN_TEST_DB', 'dbt_utils') }}"
      schema: dbt_utils_it
      threads: 4
    server:
      type: postgres
      host: "{{ env_var('KILN_TEST_PG_HOST', '127.0.0.1') }}"
      port: "{{ env_var('KILN_TEST_PG_PORT', '5432') }}"
      user: "{{ env_var('KILN_TEST_PG_USER', 'postgres') }}"
      password: "{{ env_var('KILN_TEST_PG_PASSWORD', '') }}"
      dbname: "{{ env_var('KILN_TEST_DB', 'dbt_utils') }}"
      schema: dbt_utils_it
      threads: 4
"#;

/// A copy of dbt_utils with its integration project ready to run; returns the project's path.
fn dbt_utils(fixture: &Fixture) -> String {
    let package = fixture.dir.join("dbt-utils");
    copy_dir(&corpus("dbt-utils"), &package);
    let project = package.join("integration_tests");
    std::fs::write(project.join("profiles.yml"), PROFILE).unwrap();
    project.to_str().unwrap().to_owned()
}

#[test]
fn dbt_utils_integration_project_parses_as_checked_out() {
    // As the corpus is checked out: no `kiln deps` (the `local:` package is read where it is)
    // and no profiles.yml (Kiln's own PostgreSQL is the default, with a warning).
    let fixture = Fixture::new("err_no_project_file");
    let package = fixture.dir.join("dbt-utils");
    copy_dir(&corpus("dbt-utils"), &package);
    let dir = package.join("integration_tests");
    let parse = fixture.kiln(&["parse", "--project-dir", dir.to_str().unwrap()]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    assert!(!parse.stderr.contains("error"), "{}", parse.stderr);
    assert!(
        parse.stderr.contains("no profiles.yml found"),
        "{}",
        parse.stderr
    );
    // dbt-core 1.11 counts 112 tests and 75 seeds in this project (shared/corpus/README.md).
    assert!(
        parse.stderr.contains("112 tests, 75 seeds"),
        "{}",
        parse.stderr
    );
    assert!(!dir.join("dbt_packages").exists(), "nothing was installed");

    // A machine whose ~/.dbt/profiles.yml holds other projects' profiles only: parse (which
    // never connects) still works, with a warning naming the file; a run fails, naming it.
    let dbt_home = fixture.home_dir().join(".dbt");
    std::fs::create_dir_all(&dbt_home).unwrap();
    std::fs::write(
        dbt_home.join("profiles.yml"),
        "other_project:\n  target: dev\n  outputs:\n    dev: {type: postgres, host: localhost, user: u, password: p, dbname: d, schema: s}\n",
    )
    .unwrap();
    let parse = fixture.kiln(&["parse", "--project-dir", dir.to_str().unwrap()]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    assert!(
        parse
            .stderr
            .contains("profile `integration_tests` is not in [home]/.dbt/profiles.yml"),
        "{}",
        parse.stderr
    );
    let run = fixture.kiln(&["run", "--project-dir", dir.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("profile `integration_tests` not found"),
        "{}",
        run.stderr
    );

    // dbt_utils' own CI profile, whose `env_var()`s this machine does not set: parse works with
    // a warning naming the file, line and variable; a run fails there.
    std::fs::write(
        dbt_home.join("profiles.yml"),
        "integration_tests:\n  target: postgres\n  outputs:\n    postgres:\n      type: postgres\n      host: \"{{ env_var('KILN_TEST_UNSET_HOST') }}\"\n      user: u\n      password: p\n      dbname: d\n      schema: s\n",
    )
    .unwrap();
    let parse = fixture.kiln(&["parse", "--project-dir", dir.to_str().unwrap()]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    assert!(
        parse.stderr.contains(
            "profile `integration_tests` cannot be used ([home]/.dbt/profiles.yml:6): environment variable `KILN_TEST_UNSET_HOST` is not set"
        ),
        "{}",
        parse.stderr
    );
    let run = fixture.kiln(&["run", "--project-dir", dir.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("KILN_TEST_UNSET_HOST"),
        "{}",
        run.stderr
    );
}

/// dbt_utils' integration suite is self-checking: most models are compared with expected seeds
/// by dbt_utils' own `equality` tests, so every step passing means the macros produced the
/// rows dbt-core produces (dbt-core 1.11: seed 75, run 50, test 112, all passing).
#[test]
fn dbt_utils_integration_suite_passes_on_postgres() {
    let db = Database::new("dbt_utils");
    let fixture = db.configure(Fixture::new("err_no_project_file"));
    let dir = dbt_utils(&fixture);
    for (step, done) in [
        ("deps", None),
        ("seed", Some("PASS=75 WARN=0 ERROR=0 SKIP=0 TOTAL=75")),
        ("run", Some("PASS=50 WARN=0 ERROR=0 SKIP=0 TOTAL=50")),
        ("test", Some("PASS=112 WARN=0 ERROR=0 SKIP=0 TOTAL=112")),
    ] {
        let output = fixture.kiln(&[step, "--project-dir", &dir]);
        assert_eq!(output.code, 0, "kiln {step}:\n{}", output.transcript());
        if let Some(done) = done {
            assert!(
                output.stdout.contains(done),
                "kiln {step}:\n{}",
                output.transcript()
            );
        }
    }
    // A model built with dbt_utils.union_relations(exclude=...) and dbt_utils.star, read back:
    // the same rows as the expected seed dbt_utils ships.
    let columns = "id::text, coalesce(favorite_color, ''), favorite_number::text";
    let built = db.rows(&format!(
        "select {columns} from dbt_utils_it.test_union_exclude_lowercase order by 1, 2, 3"
    ));
    let expected = db.rows(&format!(
        "select {columns} from dbt_utils_it.data_union_exclude_expected order by 1, 2, 3"
    ));
    assert!(!built.is_empty());
    assert_eq!(built, expected);
}
