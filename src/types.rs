//! Small domain types that make wrong states unrepresentable.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A full 40-hex-digit git commit id, lower case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct GitSha(String);

impl GitSha {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The short form people read (first 9 characters, as ls-servers shows).
    pub fn short(&self) -> &str {
        &self.0[..9]
    }
}

/// The short form of a commit id, as people read it (see [`GitSha::short`]).
pub fn short(oid: git2::Oid) -> String {
    GitSha::from(oid).short().to_string()
}

impl FromStr for GitSha {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(GitSha(s.to_ascii_lowercase()))
        } else {
            Err(format!("`{s}` is not a full git sha (40 hex characters)"))
        }
    }
}

impl fmt::Display for GitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<git2::Oid> for GitSha {
    fn from(oid: git2::Oid) -> Self {
        GitSha(oid.to_string())
    }
}

/// An environment name such as `prod` or `staging`. Any lower-case name is allowed (teams have
/// personal environments); whether it is production comes from configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Env(String);

impl Env {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An environment reads as its name wherever a `&str` is wanted.
impl std::ops::Deref for Env {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Env {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
        {
            Ok(Env(s.to_string()))
        } else {
            Err(format!(
                "`{s}` is not an environment name (lower-case letters, digits and `-`)"
            ))
        }
    }
}

impl fmt::Display for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An RC number: `112` or `112.1`. A zero minor is never displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RcNumber {
    pub major: u32,
    pub minor: u32,
}

impl RcNumber {
    /// The next full release: major + 1, minor reset.
    pub fn next_full(self) -> Self {
        RcNumber {
            major: self.major + 1,
            minor: 0,
        }
    }

    /// The next patch release: minor + 1.
    pub fn next_patch(self) -> Self {
        RcNumber {
            major: self.major,
            minor: self.minor + 1,
        }
    }

    /// Parses exactly `RC N` or `RC N.M` (a release title); anything else is `None`.
    pub fn from_release_title(title: &str) -> Option<Self> {
        title.strip_prefix("RC ")?.parse().ok()
    }
}

impl FromStr for RcNumber {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not an RC number (like 112 or 112.1)");
        let digits = |t: &str| -> Result<u32, String> {
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                t.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        match s.split_once('.') {
            Some((a, b)) => Ok(RcNumber {
                major: digits(a)?,
                minor: digits(b)?,
            }),
            None => Ok(RcNumber {
                major: digits(s)?,
                minor: 0,
            }),
        }
    }
}

impl fmt::Display for RcNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minor == 0 {
            write!(f, "{}", self.major)
        } else {
            write!(f, "{}.{}", self.major, self.minor)
        }
    }
}

impl Serialize for RcNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A duration as people type it: `90s`, `15m`, `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub std::time::Duration);

impl HumanDuration {
    /// The bound of every duration flag and setting: a week. Longer is a typo, and unbounded
    /// values overflow clock arithmetic (`--spinup-delay 99999999999` panicked; a huge ssm-command
    /// `--timeout` panicked after SendCommand was sent).
    pub const MAX: HumanDuration = HumanDuration(std::time::Duration::from_secs(7 * 86_400));

    pub fn secs(s: u64) -> Self {
        HumanDuration(std::time::Duration::from_secs(s))
    }

    pub fn as_secs(&self) -> u64 {
        self.0.as_secs()
    }
}

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a duration (like 90s, 15m or 1h30m)");
        // A bare number is seconds, as the old scripts' --delay took.
        let d = if let Ok(n) = s.parse::<u64>() {
            HumanDuration::secs(n)
        } else {
            let span: jiff::Span = s.parse().map_err(|_| bad())?;
            let signed = jiff::SignedDuration::try_from(span).map_err(|_| bad())?;
            if signed.is_negative() {
                return Err(bad());
            }
            std::time::Duration::try_from(signed)
                .map(HumanDuration)
                .map_err(|_| bad())?
        };
        if d > HumanDuration::MAX {
            return Err(format!(
                "`{s}` is longer than {}, the longest wait or delay any command takes",
                HumanDuration::MAX
            ));
        }
        Ok(d)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// Settings hold durations as people write them (`"5m"`); a bare number is seconds, as on the
/// command line.
impl<'de> serde::Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration (like 90s, 15m or 1h30m)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<HumanDuration, E> {
                Ok(HumanDuration::secs(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                u64::try_from(v)
                    .map(HumanDuration::secs)
                    .map_err(|_| E::custom("a duration is not negative"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Written back in the short form when that is exact (`5m`), else in whole seconds.
impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let short = format_duration(self.0);
        if short.parse::<HumanDuration>().ok() == Some(*self) {
            s.serialize_str(&short)
        } else if self.0.subsec_nanos() == 0 {
            s.collect_str(&format_args!("{}s", self.0.as_secs()))
        } else {
            s.collect_str(&format_args!("{}ms", self.0.as_millis()))
        }
    }
}

/// `0s`, `90s` is printed `1m30s`, `1h30m`, `2d3h`: the two largest units people need.
pub fn format_duration(d: std::time::Duration) -> String {
    let total = d.as_secs();
    let (days, hours, mins, secs) = (
        total / 86_400,
        (total % 86_400) / 3600,
        (total % 3600) / 60,
        total % 60,
    );
    let units = [(days, "d"), (hours, "h"), (mins, "m"), (secs, "s")];
    let first = units.iter().position(|(n, _)| *n > 0);
    match first {
        None => "0s".to_string(),
        Some(i) => {
            let mut out = format!("{}{}", units[i].0, units[i].1);
            if let Some((n, u)) = units.get(i + 1) {
                if *n > 0 {
                    out.push_str(&format!("{n}{u}"));
                }
            }
            out
        }
    }
}

/// The first `n` characters of `s` (a sha or id as another system sent it), never splitting a
/// character: slicing by bytes panics on non-ASCII text.
pub fn prefix(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// `text` with the credentials of every URL in it replaced by `***`:
/// `https://x-access-token:TOKEN@github.com/o/r` becomes `https://***@github.com/o/r`. The one
/// redaction for remote URLs, rewritten URLs and the `git` program's messages (which quote them)
/// before they reach any output: plans, status lines, errors, JSON, diagnostics.
pub fn redact_credentials(text: &str) -> String {
    static USERINFO: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]+@").expect("valid pattern")
    });
    USERINFO.replace_all(text, "${1}***@").into_owned()
}

/// Whether a URL's host is this machine: `localhost` or a loopback address (`127.x.y.z`, `::1`,
/// with or without the brackets of a URL).
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_sha_requires_40_hex() {
        assert!("abc".parse::<GitSha>().is_err());
        assert!("z".repeat(40).parse::<GitSha>().is_err());
        let s: GitSha = "A".repeat(40).parse().unwrap();
        assert_eq!(s.as_str(), "a".repeat(40));
        assert_eq!(s.short().len(), 9);
    }

    #[test]
    fn rc_numbers_follow_the_runbook() {
        let n: RcNumber = "112".parse().unwrap();
        assert_eq!(n.next_full().to_string(), "113");
        assert_eq!(n.next_patch().to_string(), "112.1");
        let p: RcNumber = "112.1".parse().unwrap();
        assert_eq!(p.next_patch().to_string(), "112.2");
        assert_eq!(
            "112.3".parse::<RcNumber>().unwrap().next_full().to_string(),
            "113"
        );
        assert!("12a".parse::<RcNumber>().is_err());
        assert!("1.".parse::<RcNumber>().is_err());
        assert_eq!(
            RcNumber::from_release_title("RC 93.1").unwrap().to_string(),
            "93.1"
        );
        assert!(RcNumber::from_release_title("RC 93 hotfix").is_none());
        assert!(RcNumber::from_release_title("Release 93").is_none());
    }

    #[test]
    fn durations_are_bounded_where_parsed() {
        assert_eq!("168h".parse::<HumanDuration>(), Ok(HumanDuration::MAX));
        for huge in ["99999999999", "169h", "18446744073709551615", "1000000h"] {
            let e = huge.parse::<HumanDuration>().unwrap_err();
            assert!(e.contains("longer than 7d"), "{huge}: {e}");
        }
    }

    #[test]
    fn credentials_in_urls_are_redacted_wherever_they_appear() {
        assert_eq!(
            redact_credentials("https://x-access-token:ghs_SECRET@github.com/18F/identity-idp.git"),
            "https://***@github.com/18F/identity-idp.git"
        );
        assert_eq!(
            redact_credentials("fatal: unable to access 'https://ghp_SECRET@github.com/o/r/': 403"),
            "fatal: unable to access 'https://***@github.com/o/r/': 403"
        );
        assert_eq!(
            redact_credentials("origin (https://u:p@h/r -> HTTPS://t@h2/r, via the git program)"),
            "origin (https://***@h/r -> HTTPS://***@h2/r, via the git program)"
        );
        // Nothing to hide: unchanged (scp-like ssh users are not secrets).
        for plain in [
            "git@github.com:18F/identity-idp.git",
            "/srv/origin.git",
            "https://github.com/o/r?a=b@c",
        ] {
            assert_eq!(redact_credentials(plain), plain);
        }
    }

    #[test]
    fn prefixes_never_split_a_character() {
        assert_eq!(prefix("0123456789abcdef", 9), "012345678");
        assert_eq!(prefix("abc", 9), "abc");
        assert_eq!(prefix("ééééééééééé", 9), "ééééééééé");
        assert_eq!(prefix("12345678é0", 9), "12345678é");
    }

    #[test]
    fn durations_read_and_print_short_forms() {
        assert_eq!("90s".parse::<HumanDuration>().unwrap().as_secs(), 90);
        assert_eq!("15m".parse::<HumanDuration>().unwrap().as_secs(), 900);
        assert_eq!("1h30m".parse::<HumanDuration>().unwrap().as_secs(), 5400);
        assert_eq!("600".parse::<HumanDuration>().unwrap().as_secs(), 600);
        assert!("soon".parse::<HumanDuration>().is_err());
        assert!("-5m".parse::<HumanDuration>().is_err());
        assert_eq!(HumanDuration::secs(90).to_string(), "1m30s");
        assert_eq!(HumanDuration::secs(900).to_string(), "15m");
        assert_eq!(HumanDuration::secs(5400).to_string(), "1h30m");
        assert_eq!(HumanDuration::secs(0).to_string(), "0s");
    }

    #[test]
    fn env_names() {
        assert!("prod".parse::<Env>().is_ok());
        assert!("Prod".parse::<Env>().is_err());
        assert!("".parse::<Env>().is_err());
    }
}
