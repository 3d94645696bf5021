//! Every `tests/fixtures/err_*` and `warn_*` project: what `kiln` says about it, and its exit
//! code. A fixture may hold `args.txt` with the command line to run (default: `compile`).
//! A new broken input is a new fixture directory; nothing here changes.

use crate::support::{Fixture, fixtures_dir};

fn broken_fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("err_") || n.starts_with("warn_"))
        .collect();
    names.sort();
    names
}

#[test]
fn broken_projects_explain_themselves() {
    let names = broken_fixtures();
    assert!(
        names.len() >= 20,
        "expected the broken-project fixtures, found {names:?}"
    );
    for name in names {
        let fixture = Fixture::new(&name);
        let args_file = fixture.dir.join("args.txt");
        let args_text =
            std::fs::read_to_string(&args_file).unwrap_or_else(|_| "compile".to_owned());
        let args: Vec<&str> = args_text.split_whitespace().collect();
        // No PostgreSQL server binaries where this says they are (only err_missing_server_binaries
        // gets that far).
        let fixture = fixture.env("KILN_PG_BINDIR", "/nonexistent/kiln-test-bindir");
        let output = fixture.kiln(&args);
        assert!(
            !output.stderr.contains("panicked"),
            "{name}: kiln panicked:\n{}",
            output.stderr
        );
        if name.starts_with("err_") {
            assert_eq!(
                output.code,
                2,
                "{name}: broken input exits with 2:\n{}",
                output.transcript()
            );
        } else {
            assert_eq!(
                output.code,
                0,
                "{name}: warnings do not fail:\n{}",
                output.transcript()
            );
        }
        let transcript = format!("$ kiln {}\n{}", args.join(" "), output.transcript());
        insta::assert_snapshot!(name.as_str(), transcript);
    }
}
