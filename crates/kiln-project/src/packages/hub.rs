//! The dbt package hub (`hub.getdbt.com`, or `$DBT_PACKAGE_HUB_URL`) and `.tar.gz` downloads.
//!
//! The hub's API is static JSON: `api/v1/<namespace>/<name>.json` lists every version of a
//! package with its project name, its own packages and its tarball.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as Json;

pub const DEFAULT_HUB_URL: &str = "https://hub.getdbt.com/";

/// What the hub says about one version of a package.
#[derive(Debug, Clone)]
pub struct HubVersion {
    /// The project name, the directory it installs into.
    pub name: String,
    /// Its own packages, as entries of a packages file.
    pub packages: Vec<Json>,
    pub tarball: String,
}

pub struct Hub {
    base_url: String,
    agent: ureq::Agent,
    packages: HashMap<String, Json>,
    /// Packages the hub says were renamed: (old, new).
    pub redirects: Vec<(String, String)>,
}

impl Hub {
    /// The hub at `$DBT_PACKAGE_HUB_URL` (as dbt reads it), else hub.getdbt.com.
    pub fn from_env() -> Hub {
        let mut base_url = std::env::var("DBT_PACKAGE_HUB_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_HUB_URL.to_owned());
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        Hub {
            base_url,
            agent: agent(),
            packages: HashMap::new(),
            redirects: Vec::new(),
        }
    }

    /// Every version of `package`, by version text.
    pub fn versions(&mut self, package: &str) -> Result<&serde_json::Map<String, Json>, String> {
        if !self.packages.contains_key(package) {
            let url = format!("{}api/v1/{package}.json", self.base_url);
            let text = get_text(&self.agent, &url).map_err(|error| match error {
                GetError::NotFound => format!(
                    "package {package} was not found in the package hub at {}",
                    self.base_url
                ),
                GetError::Other(error) => format!("cannot read {url}: {error}"),
            })?;
            let json: Json = serde_json::from_str(&text)
                .map_err(|error| format!("the hub's answer for {package} is not JSON: {error}"))?;
            if !json.get("versions").is_some_and(Json::is_object) {
                return Err(format!(
                    "the hub's answer for {package} has no `versions` ({url})"
                ));
            }
            if json.get("redirectnamespace").is_some() || json.get("redirectname").is_some() {
                let part = |redirect: &str, current: &str| {
                    json.get(redirect)
                        .or_else(|| json.get(current))
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                let new_name = format!(
                    "{}/{}",
                    part("redirectnamespace", "namespace"),
                    part("redirectname", "name")
                );
                self.redirects.push((package.to_owned(), new_name));
            }
            self.packages.insert(package.to_owned(), json);
        }
        self.packages
            .get(package)
            .and_then(|json| json.get("versions"))
            .and_then(Json::as_object)
            .ok_or_else(|| format!("the hub has no versions of {package}"))
    }

    pub fn version(&mut self, package: &str, version: &str) -> Result<HubVersion, String> {
        let versions = self.versions(package)?;
        let entry = versions
            .get(version)
            .ok_or_else(|| format!("the package hub has no version {version} of {package}"))?;
        let text = |key: &str| entry.get(key).and_then(Json::as_str).map(str::to_owned);
        Ok(HubVersion {
            name: text("name")
                .ok_or_else(|| format!("the hub's {package} {version} has no `name`"))?,
            packages: entry
                .get("packages")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default(),
            tarball: entry
                .get("downloads")
                .and_then(|d| d.get("tarball"))
                .and_then(Json::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("the hub's {package} {version} has no tarball"))?,
        })
    }

    pub fn download(&self, url: &str, destination: &Path) -> Result<(), String> {
        download_and_unpack(&self.agent, url, destination)
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .new_agent()
}

enum GetError {
    NotFound,
    Other(String),
}

/// A GET, tried up to 5 times on connection errors (as dbt does).
fn get_text(agent: &ureq::Agent, url: &str) -> Result<String, GetError> {
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(200 * attempt));
        }
        match agent.get(url).call() {
            Ok(mut response) => {
                return response
                    .body_mut()
                    .with_config()
                    .limit(64 << 20)
                    .read_to_string()
                    .map_err(|error| GetError::Other(error.to_string()));
            }
            Err(ureq::Error::StatusCode(404)) => return Err(GetError::NotFound),
            Err(ureq::Error::StatusCode(code)) => {
                return Err(GetError::Other(format!("HTTP status {code}")));
            }
            Err(error) => last = error.to_string(),
        }
    }
    Err(GetError::Other(last))
}

/// Downloads a `.tar.gz` and unpacks it as `destination`: the archive's one top directory
/// (GitHub's `owner-repo-sha/`) becomes `destination` itself.
pub fn download_and_unpack(
    agent: &ureq::Agent,
    url: &str,
    destination: &Path,
) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(200 * attempt));
        }
        let mut response = match agent.get(url).call() {
            Ok(response) => response,
            Err(ureq::Error::StatusCode(code)) => {
                return Err(format!("cannot download {url}: HTTP status {code}"));
            }
            Err(error) => {
                last = error.to_string();
                continue;
            }
        };
        match unpack(response.body_mut().as_reader(), destination) {
            Ok(()) => return Ok(()),
            Err(error) => last = error,
        }
    }
    Err(format!("cannot download {url}: {last}"))
}

/// Unpacks a gzipped tar archive as `destination` (see [`download_and_unpack`]).
pub fn unpack(reader: impl std::io::Read, destination: &Path) -> Result<(), String> {
    let staging = staging_dir(destination);
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| e.to_string())?;
    let result = (|| {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
        archive
            .unpack(&staging)
            .map_err(|error| format!("not a readable .tar.gz: {error}"))?;
        let entries: Vec<PathBuf> = std::fs::read_dir(&staging)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        let top = match entries.as_slice() {
            [only] if only.is_dir() => only.clone(),
            _ => staging.clone(),
        };
        if destination.exists() {
            std::fs::remove_dir_all(destination).map_err(|e| e.to_string())?;
        }
        std::fs::rename(&top, destination).map_err(|e| e.to_string())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn staging_dir(destination: &Path) -> PathBuf {
    let name = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    destination.with_file_name(format!(".kiln-unpack-{name}"))
}
