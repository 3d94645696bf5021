//! Every `tests/fixtures/err_*` and `warn_*` project: what `kiln` says about it, and its exit
//! code. A fixture may hold `args.txt` with the command line to run (default: `compile`).
//! A new broken input is a new fixture directory; nothing here changes. Each fixture is one
//! `insta::glob!` input, so every mismatching message is reported, not only the first.

use crate::support::{Fixture, fixtures_dir, snapshot_settings};

#[test]
fn broken_projects_explain_themselves() {
    let _filters = snapshot_settings().bind_to_scope();
    insta::glob!(fixtures_dir(), "{err,warn}_*", |dir| {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let args_text =
            std::fs::read_to_string(dir.join("args.txt")).unwrap_or_else(|_| "compile".to_owned());
        let args: Vec<&str> = args_text.split_whitespace().collect();
        // No PostgreSQL server binaries where this says they are (only err_missing_server_binaries
        // gets that far).
        let fixture = Fixture::new(&name).env("KILN_PG_BINDIR", "/nonexistent/kiln-test-bindir");
        let output = fixture.kiln(&args);
        assert!(
            !output.stderr.contains("panicked"),
            "{name}: kiln panicked:\n{}",
            output.stderr
        );
        let expected_code = if name.starts_with("err_") { 2 } else { 0 };
        assert_eq!(
            output.code,
            expected_code,
            "{name}: broken input exits with 2, warnings with 0:\n{}",
            output.transcript()
        );
        insta::assert_snapshot!(format!(
            "$ kiln {}\n{}",
            args.join(" "),
            output.transcript()
        ));
    });
}
