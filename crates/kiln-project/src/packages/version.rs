//! Package versions and version ranges as dbt reads them (`dbt_common.semver`): `1.3.0`,
//! `>=1.0.0`, `<2.0.0`, a prerelease such as `1.0.0-b1` or `1.0.0b1`, and lists of these,
//! which must all hold.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// A version: `major.minor.patch`, with an optional prerelease and build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub prerelease: Option<String>,
    pub build: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matcher {
    Exact,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

/// One condition on a version: `>=1.0.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specifier {
    pub matcher: Matcher,
    pub version: Version,
}

static VERSION: LazyLock<Regex> = LazyLock::new(|| {
    // dbt_common.semver's pattern: no leading zeros, an optional `-` before the prerelease.
    let num = r"(0|[1-9]\d*)";
    let alpha_nlz = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)";
    let alpha = r"[0-9A-Za-z-]*";
    Regex::new(&format!(
        r"^(?P<matcher>>=|>|<=|<|=)?{num}\.{num}\.{num}(?:-?(?P<prerelease>{alpha_nlz}(?:\.{alpha_nlz})*))?(?:\+(?P<build>{alpha}(?:\.{alpha})*))?$"
    ))
    .unwrap_or_else(|error| unreachable!("the version pattern is valid: {error}"))
});

impl Specifier {
    /// Reads `>=1.0.0`, `1.3.0`, `<2.0.0-b1`...
    pub fn parse(text: &str) -> Result<Specifier, String> {
        let text = text.trim();
        let invalid = || format!("\"{text}\" is not a valid semantic version");
        let captures = VERSION.captures(text).ok_or_else(invalid)?;
        let number =
            |i: usize| -> Result<u64, String> { captures[i].parse().map_err(|_| invalid()) };
        let matcher = match captures.name("matcher").map(|m| m.as_str()) {
            None | Some("=") => Matcher::Exact,
            Some(">") => Matcher::Greater,
            Some(">=") => Matcher::GreaterOrEqual,
            Some("<") => Matcher::Less,
            Some(_) => Matcher::LessOrEqual,
        };
        Ok(Specifier {
            matcher,
            version: Version {
                major: number(2)?,
                minor: number(3)?,
                patch: number(4)?,
                prerelease: captures.name("prerelease").map(|m| m.as_str().to_owned()),
                build: captures.name("build").map(|m| m.as_str().to_owned()),
            },
        })
    }

    /// Whether `version` meets this condition.
    pub fn matches(&self, version: &Version) -> bool {
        let order = version.cmp(&self.version);
        match self.matcher {
            Matcher::Exact => order == Ordering::Equal,
            Matcher::Greater => order == Ordering::Greater,
            Matcher::GreaterOrEqual => order != Ordering::Less,
            // As dbt: `<1.0.0` leaves out the prereleases of 1.0.0 too.
            Matcher::Less => {
                order == Ordering::Less
                    && !(self.version.prerelease.is_none()
                        && version.prerelease.is_some()
                        && version.same_release(&self.version))
            }
            Matcher::LessOrEqual => order != Ordering::Greater,
        }
    }
}

impl Version {
    pub fn parse(text: &str) -> Result<Version, String> {
        let spec = Specifier::parse(text)?;
        match spec.matcher {
            Matcher::Exact => Ok(spec.version),
            _ => Err(format!("\"{text}\" is a range, not a version")),
        }
    }

    fn same_release(&self, other: &Version) -> bool {
        (self.major, self.minor, self.patch) == (other.major, other.minor, other.patch)
    }
}

impl Ord for Version {
    /// Semantic-version precedence: a release sorts after its prereleases; the build is ignored.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.prerelease, &other.prerelease) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => compare_prerelease(a, b),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Dot-separated parts, numbers by value and before words, as dbt's `_nat_cmp`.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    for (x, y) in a.split('.').zip(b.split('.')) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(pre) = &self.prerelease {
            write!(f, "-{pre}")?;
        }
        if let Some(build) = &self.build {
            write!(f, "+{build}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Specifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let matcher = match self.matcher {
            Matcher::Exact => "",
            Matcher::Greater => ">",
            Matcher::GreaterOrEqual => ">=",
            Matcher::Less => "<",
            Matcher::LessOrEqual => "<=",
        };
        write!(f, "{matcher}{}", self.version)
    }
}

/// Whether some version could meet every condition (whatever versions exist).
pub fn satisfiable(specifiers: &[&Specifier]) -> bool {
    let mut lower: Option<&Specifier> = None;
    let mut upper: Option<&Specifier> = None;
    let mut exact: Option<&Version> = None;
    for spec in specifiers {
        match spec.matcher {
            Matcher::Exact => match exact {
                Some(v) if v != &spec.version => return false,
                _ => exact = Some(&spec.version),
            },
            Matcher::Greater | Matcher::GreaterOrEqual => {
                let tighter = lower.is_none_or(|l| {
                    spec.version > l.version
                        || (spec.version == l.version && spec.matcher == Matcher::Greater)
                });
                if tighter {
                    lower = Some(spec);
                }
            }
            Matcher::Less | Matcher::LessOrEqual => {
                let tighter = upper.is_none_or(|u| {
                    spec.version < u.version
                        || (spec.version == u.version && spec.matcher == Matcher::Less)
                });
                if tighter {
                    upper = Some(spec);
                }
            }
        }
    }
    if let Some(exact) = exact {
        return specifiers.iter().all(|s| s.matches(exact));
    }
    match (lower, upper) {
        (Some(l), Some(u)) => match l.version.cmp(&u.version) {
            Ordering::Less => true,
            Ordering::Equal => {
                l.matcher == Matcher::GreaterOrEqual && u.matcher == Matcher::LessOrEqual
            }
            Ordering::Greater => false,
        },
        _ => true,
    }
}

/// The highest of `available` that meets every condition; prereleases only when
/// `allow_prerelease` (or when a condition names one, as dbt does).
pub fn highest_matching<'a>(
    specifiers: &[&Specifier],
    available: impl IntoIterator<Item = &'a str>,
    allow_prerelease: bool,
) -> Option<&'a str> {
    let allow_prerelease =
        allow_prerelease || specifiers.iter().any(|s| s.version.prerelease.is_some());
    available
        .into_iter()
        .filter_map(|text| Version::parse(text).ok().map(|v| (v, text)))
        .filter(|(v, _)| allow_prerelease || v.prerelease.is_none())
        .filter(|(v, _)| specifiers.iter().all(|s| s.matches(v)))
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, text)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(texts: &[&str]) -> Vec<Specifier> {
        texts
            .iter()
            .map(|t| Specifier::parse(t).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn pick<'a>(wanted: &[&str], available: &[&'a str]) -> Option<&'a str> {
        let specs = specs(wanted);
        let refs: Vec<&Specifier> = specs.iter().collect();
        highest_matching(&refs, available.iter().copied(), false)
    }

    #[test]
    fn the_highest_version_in_the_range_is_chosen() {
        let available = ["0.9.6", "1.0.0", "1.1.1", "1.3.0", "2.0.0", "1.4.0-b1"];
        assert_eq!(pick(&[">=1.0.0", "<2.0.0"], &available), Some("1.3.0"));
        assert_eq!(pick(&["1.1.1"], &available), Some("1.1.1"));
        assert_eq!(pick(&[">1.3.0", "<2.0.0"], &available), None);
        assert_eq!(pick(&["<=1.0.0"], &available), Some("1.0.0"));
        assert_eq!(pick(&["1.4.0-b1"], &available), Some("1.4.0-b1"));
    }

    #[test]
    fn prereleases_sort_before_their_release_and_are_left_out_by_less_than() {
        let v = |t| Version::parse(t).unwrap_or_else(|e| panic!("{e}"));
        assert!(v("1.0.0-b1") < v("1.0.0"));
        assert!(v("1.0.0-b.2") < v("1.0.0-b.10"));
        assert!(v("1.0.0-1") < v("1.0.0-a"));
        assert!(v("1.0.0b1") == v("1.0.0-b1"));
        let below = &specs(&["<1.0.0"])[0];
        assert!(!below.matches(&v("1.0.0-rc1")));
        assert!(below.matches(&v("0.9.9")));
    }

    #[test]
    fn incompatible_ranges_are_found_whatever_versions_exist() {
        let check = |texts: &[&str]| {
            let specs = specs(texts);
            satisfiable(&specs.iter().collect::<Vec<_>>())
        };
        assert!(check(&[">=1.0.0", "<2.0.0", ">=1.1.0"]));
        assert!(!check(&[">=1.0.0", "<0.9.0"]));
        assert!(!check(&["1.0.0", "1.1.0"]));
        assert!(!check(&["1.0.0", ">1.0.0"]));
        assert!(check(&[">=1.0.0", "<=1.0.0"]));
        assert!(!check(&[">1.0.0", "<=1.0.0"]));
    }

    #[test]
    fn malformed_versions_are_refused() {
        for text in ["1.0", "v1.0.0", "01.0.0", "latest", ">=1.0.0,<2.0.0"] {
            assert!(Specifier::parse(text).is_err(), "{text}");
        }
    }
}
