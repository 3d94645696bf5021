//! `kiln deps` with every kind of package, as a new user's project has them: a package of the
//! hub (a local HTTP server stands in for hub.getdbt.com through `DBT_PACKAGE_HUB_URL`, as
//! dbt reads it), a git repository (a local bare repository), a local directory, and the
//! packages those packages need. Fixture: `tests/fixtures/packages` (the root project); the
//! packages are written here, since their versions and URLs are what is under test.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::Fixture;

/// A static file server on 127.0.0.1 for the test's lifetime (one thread, one request per
/// connection).
fn serve(root: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Read the headers up to the blank line.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let file = root.join(path.trim_start_matches('/'));
            let response = match std::fs::read(&file) {
                Ok(body) => {
                    let mut head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    head.extend(body);
                    head
                }
                Err(_) => {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                }
            };
            let _ = stream.write_all(&response);
        }
    });
    port
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "kiln")
        .env("GIT_AUTHOR_EMAIL", "kiln@example.invalid")
        .env("GIT_COMMITTER_NAME", "kiln")
        .env("GIT_COMMITTER_EMAIL", "kiln@example.invalid")
        .output()
        .expect("git is installed");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The package hub: `api/v1/<namespace>/<name>.json` and the tarballs it points at.
struct FakeHub {
    dir: PathBuf,
    url: String,
    /// (package, version, project name, its packages, require_dbt_version)
    versions: Vec<(String, String, String, serde_json::Value, Option<String>)>,
}

impl FakeHub {
    fn new(dir: PathBuf) -> FakeHub {
        std::fs::create_dir_all(&dir).unwrap();
        let port = serve(dir.clone());
        FakeHub {
            dir,
            url: format!("http://127.0.0.1:{port}/"),
            versions: Vec::new(),
        }
    }

    /// Publishes a version: a project whose macro `<prefix>_version()` returns the version.
    fn publish(
        &mut self,
        package: &str,
        version: &str,
        packages: serde_json::Value,
        require_dbt: Option<&str>,
    ) {
        let project = package.split('/').nth(1).unwrap();
        let prefix = project.trim_end_matches("_pkg");
        // As on GitHub: one top directory named after the repository and the commit.
        let top = format!(
            "{}-{project}-{}",
            package.split('/').next().unwrap(),
            version.replace('.', "")
        );
        let src = self.dir.join("src").join(format!("{project}-{version}"));
        write(
            &src.join(&top).join("dbt_project.yml"),
            &format!("name: {project}\nversion: {version}\n"),
        );
        write(
            &src.join(&top).join(format!("macros/{prefix}.sql")),
            &format!("{{% macro {prefix}_version() %}}'{version}'{{% endmacro %}}\n"),
        );
        let tarball = format!("tarballs/{project}-{version}.tar.gz");
        std::fs::create_dir_all(self.dir.join("tarballs")).unwrap();
        let status = Command::new("tar")
            .args([
                "czf",
                self.dir.join(&tarball).to_str().unwrap(),
                "-C",
                src.to_str().unwrap(),
                &top,
            ])
            .status()
            .unwrap();
        assert!(status.success());
        self.versions.push((
            package.to_owned(),
            version.to_owned(),
            project.to_owned(),
            packages,
            require_dbt.map(str::to_owned),
        ));
        self.write_index();
    }

    fn write_index(&self) {
        let mut by_package: std::collections::BTreeMap<
            &str,
            serde_json::Map<String, serde_json::Value>,
        > = Default::default();
        for (package, version, project, packages, require_dbt) in &self.versions {
            let project_name = project.clone();
            let mut entry = serde_json::json!({
                "id": format!("{package}/{version}"),
                "name": project_name,
                "version": version,
                "packages": packages,
                "works_with": [],
                "downloads": {"tarball": format!("{}tarballs/{project}-{version}.tar.gz", self.url)},
            });
            if let Some(required) = require_dbt {
                entry["require_dbt_version"] = serde_json::json!([required]);
            }
            by_package
                .entry(package)
                .or_default()
                .insert(version.clone(), entry);
        }
        for (package, versions) in by_package {
            let (namespace, name) = package.split_once('/').unwrap();
            let json = serde_json::json!({"name": name, "namespace": namespace, "latest": "", "versions": versions});
            write(
                &self.dir.join(format!("api/v1/{package}.json")),
                &serde_json::to_string_pretty(&json).unwrap(),
            );
        }
    }
}

/// A bare repository holding the package `git_pkg` in `pkg/`, tagged v1.0.0 and v2.0.0.
/// Returns the URL and the commit of each tag.
fn git_package(base: &Path) -> (String, String, String) {
    let work = base.join("git_work");
    let bare = base.join("git_pkg.git");
    std::fs::create_dir_all(&work).unwrap();
    git(base, &["init", "--quiet", "--bare", bare.to_str().unwrap()]);
    git(&work, &["init", "--quiet"]);
    write(&work.join("README.md"), "not the package: it is in pkg/\n");
    write(
        &work.join("pkg/dbt_project.yml"),
        "name: git_pkg\nversion: 1.0.0\n",
    );
    // git_pkg needs a hub package too, with a narrower range than the root project's.
    write(
        &work.join("pkg/packages.yml"),
        "packages:\n  - package: acme/util_pkg\n    version: [\">=1.1.0\"]\n",
    );
    write(
        &work.join("pkg/macros/git.sql"),
        "{% macro git_version() %}'v1'{% endmacro %}\n",
    );
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "v1"]);
    git(&work, &["tag", "v1.0.0"]);
    let v1 = git(&work, &["rev-parse", "HEAD"]);
    write(
        &work.join("pkg/macros/git.sql"),
        "{% macro git_version() %}'v2'{% endmacro %}\n",
    );
    git(&work, &["commit", "--quiet", "-am", "v2"]);
    git(&work, &["tag", "v2.0.0"]);
    let v2 = git(&work, &["rev-parse", "HEAD"]);
    git(
        &work,
        &[
            "push",
            "--quiet",
            bare.to_str().unwrap(),
            "HEAD:refs/heads/main",
            "--tags",
        ],
    );
    (bare.display().to_string(), v1, v2)
}

fn compiled(fixture: &Fixture) -> String {
    let output = fixture.kiln(&["compile"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    fixture.read("target/compiled/shop/models/uses_packages.sql")
}

#[test]
fn deps_resolves_hub_git_and_local_packages_transitively_and_pins_them() {
    let mut fixture = Fixture::new("packages");
    let base = fixture.dir.parent().unwrap().to_path_buf();
    let mut hub = FakeHub::new(base.join("hub"));
    let none = serde_json::json!([]);
    for version in ["0.9.0", "1.0.0", "1.1.0", "1.2.0-b1"] {
        hub.publish("acme/util_pkg", version, none.clone(), None);
    }
    // A newer version that needs another dbt: never chosen.
    hub.publish("acme/util_pkg", "1.3.0", none.clone(), Some(">=2.0.0"));
    hub.publish(
        "acme/date_pkg",
        "0.5.0",
        serde_json::json!([{"package": "acme/util_pkg", "version": [">=1.0.0", "<2.0.0"]}]),
        None,
    );
    // A package downloaded as a tarball from its URL (published here only to get the file).
    hub.publish("acme/tar_pkg", "1.0.0", none.clone(), None);
    let (git_url, v1_sha, v2_sha) = git_package(&base);
    write(&base.join("local_pkg/dbt_project.yml"), "name: local_pkg\n");
    write(
        &base.join("local_pkg/macros/local.sql"),
        "{% macro local_version() %}'local'{% endmacro %}\n",
    );
    fixture.set_env("DBT_PACKAGE_HUB_URL", &hub.url);
    fixture.set_env("GIT_PACKAGE_URL", &git_url);
    // The git URL comes from the environment, as a token would: the lock file keeps the
    // env_var() call, not its value.
    let packages_yml = format!(
        "packages:\n  - package: acme/date_pkg\n    version: 0.5.0\n  - git: \"{{{{ env_var('GIT_PACKAGE_URL') }}}}\"\n    revision: v1.0.0\n    subdirectory: pkg\n  - local: ../local_pkg\n  - tarball: {}tarballs/tar_pkg-1.0.0.tar.gz\n    name: tar_pkg\n",
        hub.url
    );
    fixture.write("packages.yml", &packages_yml);

    let output = fixture.kiln(&["deps"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    let lock = fixture.read("package-lock.yml");
    assert_eq!(
        lock,
        format!(
            "packages:\n  - name: date_pkg\n    package: acme/date_pkg\n    version: 0.5.0\n  - git: '{{{{ env_var(''GIT_PACKAGE_URL'') }}}}'\n    name: git_pkg\n    revision: {v1_sha}\n    subdirectory: pkg\n  - local: ../local_pkg\n    name: local_pkg\n  - name: tar_pkg\n    tarball: {hub_url}tarballs/tar_pkg-1.0.0.tar.gz\n  - name: util_pkg\n    package: acme/util_pkg\n    version: 1.1.0\nsha1_hash: {hash}\n",
            hub_url = hub.url,
            hash = lock
                .lines()
                .last()
                .unwrap()
                .trim_start_matches("sha1_hash: ")
        ),
        "the highest version both ranges allow (not the prerelease, not the one for dbt 2)"
    );
    for name in ["date_pkg", "git_pkg", "local_pkg", "tar_pkg", "util_pkg"] {
        assert!(
            fixture
                .dir
                .join("dbt_packages")
                .join(name)
                .join("dbt_project.yml")
                .is_file(),
            "{name} installed"
        );
    }
    assert!(
        !fixture.dir.join("dbt_packages/git_pkg/README.md").exists(),
        "only the subdirectory is installed"
    );
    let sql = compiled(&fixture);
    assert!(sql.contains("'1.1.0' as util_version"), "{sql}");
    assert!(sql.contains("'0.5.0' as date_version"), "{sql}");
    assert!(sql.contains("'v1' as git_version"), "{sql}");
    assert!(sql.contains("'local' as local_version"), "{sql}");
    assert!(sql.contains("'1.0.0' as tar_version"), "{sql}");

    // A download that fails: the packages already installed stay, and the project compiles.
    let tarball = base.join("hub/tarballs/util_pkg-1.1.0.tar.gz");
    std::fs::rename(&tarball, tarball.with_extension("away")).unwrap();
    let output = fixture.kiln(&["deps"]);
    assert_eq!(output.code, 2, "{}", output.transcript());
    assert!(
        output.stderr.contains("HTTP status 404"),
        "{}",
        output.stderr
    );
    assert!(compiled(&fixture).contains("'1.1.0' as util_version"));
    std::fs::rename(tarball.with_extension("away"), &tarball).unwrap();

    // A new version on the hub: the lock file still holds, until --upgrade.
    hub.publish("acme/util_pkg", "1.2.0", none.clone(), None);
    let output = fixture.kiln(&["deps"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(compiled(&fixture).contains("'1.1.0' as util_version"));
    let output = fixture.kiln(&["deps", "--upgrade"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(fixture.read("package-lock.yml").contains("version: 1.2.0"));
    assert!(compiled(&fixture).contains("'1.2.0' as util_version"));

    // Another revision in packages.yml: the lock no longer matches it and is written again.
    fixture.write("packages.yml", &packages_yml.replace("v1.0.0", "v2.0.0"));
    let output = fixture.kiln(&["deps", "--lock"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        fixture
            .read("package-lock.yml")
            .contains(&format!("revision: {v2_sha}"))
    );
    assert!(
        compiled(&fixture).contains("'v1' as git_version"),
        "--lock installs nothing"
    );
    let output = fixture.kiln(&["deps"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(compiled(&fixture).contains("'v2' as git_version"));

    // A package removed from dbt_packages/: compiling says which, and what to do.
    std::fs::remove_dir_all(fixture.dir.join("dbt_packages/date_pkg")).unwrap();
    let output = fixture.kiln(&["compile"]);
    assert_eq!(output.code, 2, "{}", output.transcript());
    assert!(
        output.stderr.contains("not installed: date_pkg"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("run `kiln deps`"),
        "{}",
        output.stderr
    );

    // Requirements no version meets: both are named.
    fixture.write(
        "packages.yml",
        &format!("{packages_yml}  - package: acme/util_pkg\n    version: \"<1.0.0\"\n"),
    );
    let output = fixture.kiln(&["deps"]);
    assert_eq!(output.code, 2, "{}", output.transcript());
    assert!(
        output
            .stderr
            .contains("no version of acme/util_pkg can meet every requirement"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("packages.yml:10 asks for acme/util_pkg <1.0.0"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("package date_pkg asks for acme/util_pkg >=1.0.0, <2.0.0"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("package git_pkg asks for acme/util_pkg >=1.1.0"),
        "{}",
        output.stderr
    );

    // A short commit id (dbt refuses it; git can check it out): the full commit is locked.
    fixture.write(
        "packages.yml",
        &format!(
            "packages:\n  - git: {git_url}\n    revision: {}\n    subdirectory: pkg\n",
            &v1_sha[..10]
        ),
    );
    let output = fixture.kiln(&["deps"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(
        fixture
            .read("package-lock.yml")
            .contains(&format!("revision: {v1_sha}"))
    );

    // --add-package writes the entry into packages.yml (keeping what is there), then installs.
    let output = fixture.kiln(&["deps", "--add-package", "acme/util_pkg@>=1.1.0,<1.2.0"]);
    assert_eq!(output.code, 0, "{}", output.transcript());
    assert!(fixture.read("packages.yml").ends_with(
        "subdirectory: pkg\n  - package: acme/util_pkg\n    version: [\">=1.1.0\", \"<1.2.0\"]\n"
    ));
    assert!(fixture.read("package-lock.yml").contains("version: 1.1.0"));
}
