//! Running the `kiln` binary on a copy of a fixture project.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fixture project copied into a fresh temporary directory (removed on drop).
pub struct Fixture {
    pub dir: PathBuf,
    home: PathBuf,
    env: Vec<(String, String)>,
}

impl Fixture {
    pub fn new(name: &str) -> Fixture {
        let base = std::env::temp_dir().join(format!(
            "kiln-it-{}-{}-{}",
            name,
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let dir = base.join("project");
        copy_dir(&fixtures_dir().join(name), &dir);
        let home = base.join("home");
        std::fs::create_dir_all(&home).unwrap();
        Fixture {
            dir,
            home,
            env: Vec::new(),
        }
    }

    /// A copy of the analytics project at the repository root (its project files only).
    pub fn analytics_project() -> Fixture {
        let fixture = Fixture::new("err_no_project_file");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::remove_dir_all(fixture.dir.join("models")).unwrap();
        for file in ["project.yml", "profiles.yml", "sources.yml"] {
            std::fs::copy(root.join(file), fixture.dir.join(file)).unwrap();
        }
        for dir in ["models", "macros", "seeds", "tests/data"] {
            copy_dir(&root.join(dir), &fixture.dir.join(dir));
        }
        fixture
    }

    /// Sets an environment variable for every `kiln` this fixture runs.
    pub fn env(mut self, key: &str, value: &str) -> Fixture {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Sets (or replaces) an environment variable for the `kiln` runs that follow.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// The empty HOME the commands run with (a test may put a `~/.dbt` in it).
    pub fn home_dir(&self) -> &std::path::Path {
        &self.home
    }

    /// A `kiln` command ready to run in the project (for tests that start it themselves).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kiln"));
        command
            .args(args)
            .current_dir(&self.dir)
            .env("HOME", &self.home)
            .env("NO_COLOR", "1")
            .env_remove("KILN_PROFILES_DIR")
            .env_remove("DBT_PROFILES_DIR");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Runs `kiln <args>` in the project with a clean environment: HOME is empty, so no
    /// profiles.yml of the machine's user is found.
    pub fn kiln(&self, args: &[&str]) -> Output {
        let output = self.command(args).output().expect("the kiln binary runs");
        let redact = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes)
                .replace(&self.dir.display().to_string(), "[project]")
                .replace(&self.home.display().to_string(), "[home]")
        };
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: redact(&output.stdout),
            stderr: redact(&output.stderr),
        }
    }

    /// The status of a node in the last run's `target/run_results.json`.
    pub fn status(&self, unique_id: &str) -> String {
        let results: serde_json::Value =
            serde_json::from_str(&self.read("target/run_results.json")).unwrap();
        let result = results["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unique_id"] == unique_id);
        let result = result.unwrap_or_else(|| panic!("{unique_id} is not in run_results.json"));
        result["status"].as_str().unwrap().to_owned()
    }

    /// Writes a file of the project, creating its directory if needed.
    pub fn write(&self, path: &str, content: &str) {
        let path_buf = self.dir.join(path);
        if let Some(parent) = path_buf.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path_buf, content).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.join(path))
            .unwrap_or_else(|e| panic!("reading {path}: {e}"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(base) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit code, stdout and stderr, with timings replaced so snapshots are stable.
    pub fn transcript(&self) -> String {
        let mut text = format!("exit code: {}\n", self.code);
        if !self.stdout.is_empty() {
            text.push_str(&format!("--- stdout\n{}", self.stdout));
        }
        if !self.stderr.is_empty() {
            text.push_str(&format!("--- stderr\n{}", self.stderr));
        }
        text
    }
}

/// What every snapshot of command output hides: timings (`0.01s`, `1.25s`) vary per run.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d+\.\d+s\b", "[time]");
    settings
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == "dbt_packages" {
            continue;
        }
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}
