//! Git packages, fetched with the `git` command as dbt fetches them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha1::{Digest, Sha1};

/// Checkouts made during one `kiln deps`, reused by resolution and installation.
pub struct Checkouts {
    dir: PathBuf,
    done: HashMap<(String, String), (PathBuf, String)>,
}

impl Checkouts {
    pub fn new(dir: PathBuf) -> Checkouts {
        Checkouts {
            dir,
            done: HashMap::new(),
        }
    }

    /// Clones `url` at `revision` (a tag, a branch or a commit; `None` is the default
    /// branch) and returns the checkout's directory and the commit it is at.
    pub fn checkout(
        &mut self,
        url: &str,
        revision: Option<&str>,
    ) -> Result<(PathBuf, String), String> {
        let key = (url.to_owned(), revision.unwrap_or("HEAD").to_owned());
        if let Some(done) = self.done.get(&key) {
            return Ok(done.clone());
        }
        let hash = Sha1::digest(format!("{}@{}", key.0, key.1).as_bytes());
        let name: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let dir = self.dir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let target = dir.to_string_lossy().into_owned();
        let failed = |error: String| match revision {
            Some(rev) => format!("cannot fetch {url} at revision {rev}: {error}"),
            None => format!("cannot fetch {url}: {error}"),
        };
        let full_clone_at = |rev: &str| -> Result<(), String> {
            let _ = std::fs::remove_dir_all(&dir);
            run(
                &self.dir,
                &["clone", "--quiet", "--no-checkout", url, &target],
            )?;
            run(&dir, &["checkout", "--quiet", rev]).map(drop)
        };
        match revision {
            Some(rev) if is_commit(rev) => full_clone_at(rev).map_err(failed)?,
            Some(rev) => {
                // A tag or a branch: a shallow clone of it, as dbt does. Anything else git
                // can check out (a short commit id) needs the whole history; dbt refuses it.
                let shallow = run(
                    &self.dir,
                    &[
                        "clone", "--quiet", "--depth", "1", "--branch", rev, url, &target,
                    ],
                );
                if let Err(error) = shallow {
                    full_clone_at(rev).map_err(|_| failed(error))?;
                }
            }
            None => {
                run(
                    &self.dir,
                    &["clone", "--quiet", "--depth", "1", url, &target],
                )
                .map_err(failed)?;
            }
        }
        let sha = run(&dir, &["rev-parse", "HEAD"]).map_err(failed)?;
        self.done.insert(key, (dir.clone(), sha.clone()));
        Ok((dir, sha))
    }
}

/// A full 40-digit commit id, as dbt recognises one.
pub fn is_commit(revision: &str) -> bool {
    revision.len() == 40
        && revision
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn run(cwd: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|error| {
            format!("cannot run git ({error}): git packages need git installed and on the PATH")
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        // git's own message, without its warnings (a local clone warns about --depth).
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message: Vec<&str> = stderr
            .lines()
            .filter(|line| !line.starts_with("warning:"))
            .collect();
        Err(message.join(" ").trim().to_owned())
    }
}

/// Copies a directory tree, leaving out `.git`.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let kind = entry.file_type()?;
        let target = to.join(&name);
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
