//! Real dbt code written by others (../shared/corpus, beside the repository in CI too): it must
//! load unmodified. The corpus is required; a missing corpus fails the test.

use std::path::{Path, PathBuf};

use crate::support::Fixture;

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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn dbt_utils_integration_project_parses_unmodified() {
    // A scratch fixture gives the temporary directory and environment; the project is the
    // corpus' own, with the profile its CI would write.
    let fixture = Fixture::new("err_no_project_file");
    let package = fixture.dir.join("dbt-utils");
    copy_dir(&corpus("dbt-utils"), &package);
    let project = package.join("integration_tests");
    std::fs::write(
        project.join("profiles.yml"),
        "integration_tests:\n  target: postgres\n  outputs:\n    postgres:\n      type: postgres\n      managed: true\n      dbname: kiln\n      schema: dbt_utils_it\n",
    )
    .unwrap();
    let dir = project.to_str().unwrap();
    let deps = fixture.kiln(&["deps", "--project-dir", dir]);
    assert_eq!(deps.code, 0, "{}", deps.transcript());
    let parse = fixture.kiln(&["parse", "--project-dir", dir]);
    assert_eq!(parse.code, 0, "{}", parse.transcript());
    assert!(!parse.stderr.contains("error"), "{}", parse.stderr);
    // dbt-core 1.11 counts 112 tests and 75 seeds in this project (shared/corpus/README.md).
    assert!(
        parse.stderr.contains("112 tests, 75 seeds"),
        "{}",
        parse.stderr
    );
}
