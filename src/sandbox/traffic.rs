//! The app's traffic in the sandbox: the idp's request log (`production.log`) and event log
//! (`events.log`) lines in the JSON shapes Logs Insights reads (reference section 15), with the
//! per-sha, per-minute counts kept beside them in `DIR/world/traffic.json` (the emulator ignores
//! Logs Insights' `filter` and `stats`, so a query's expected answer comes from these counts).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rate::{hit, Rate};

/// The critical-flow events monitor-deploy reads, and the canary check's MFA event.
pub const EVENTS: &[&str] = &[
    "IdV: doc auth image upload vendor submitted",
    "IdV: doc auth verify proofing results",
    "IdV: phone confirmation vendor",
    "IdV: final resolution",
    "Multi-Factor Authentication",
];

/// Requests the idp serves, in turn.
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/", "Users::SessionsController#new"),
    ("POST", "/", "Users::SessionsController#create"),
    (
        "GET",
        "/verify/document_capture",
        "Idv::DocumentCaptureController#show",
    ),
    (
        "GET",
        "/openid_connect/authorize",
        "OpenidConnect::AuthorizationController#index",
    ),
    ("POST", "/api/saml/auth2025", "SamlIdpController#auth"),
];

/// The log groups of a role's request and event logs.
pub fn log_groups(env: &str, role: &str) -> (String, String) {
    (
        format!("{env}_/srv/{role}/shared/log/production.log"),
        format!("{env}_/srv/{role}/shared/log/events.log"),
    )
}

/// Counts of one sha in one minute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Minute {
    pub requests: u64,
    pub errors: u64,
    /// Event name -> (total, successes).
    pub events: BTreeMap<String, (u64, u64)>,
}

/// Every sha's counts, and the draws so far that keep each rate exact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// sha -> minute (`2026-12-02T04:05Z`) -> counts.
    pub by_sha: BTreeMap<String, BTreeMap<String, Minute>>,
    #[serde(default)]
    draws: BTreeMap<String, u64>,
}

/// One instance's lines of one tick.
#[derive(Debug, Default)]
pub struct Lines {
    pub requests: Vec<String>,
    pub events: Vec<String>,
}

impl Traffic {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("world").join("traffic.json")
    }

    pub fn load(dir: &Path) -> Result<Traffic> {
        let path = Self::path(dir);
        match std::fs::read_to_string(&path) {
            Ok(t) => {
                serde_json::from_str(&t).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Traffic::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        super::world::write_atomic(&Self::path(dir), &serde_json::to_string(self)?)
    }

    fn draw(&mut self, key: String, rate: Rate) -> bool {
        let n = self.draws.entry(key).or_default();
        let h = hit(rate, *n);
        *n += 1;
        h
    }

    /// `requests` requests and one event of each [`EVENTS`] from one instance running `sha`.
    pub fn serve(
        &mut self,
        sha: &str,
        hostname: &str,
        requests: u32,
        error_rate: Rate,
        success_rate: Rate,
        now: Timestamp,
    ) -> Lines {
        let minute = now.strftime("%Y-%m-%dT%H:%MZ").to_string();
        let stamp = now.to_string();
        let mut lines = Lines::default();
        let mut counts = Minute::default();
        for _ in 0..requests {
            let n = self.draws.get(&format!("req:{sha}")).copied().unwrap_or(0);
            let (method, path, action) = ROUTES[(n % ROUTES.len() as u64) as usize];
            let error = self.draw(format!("req:{sha}"), error_rate);
            let status = if error {
                500
            } else if method == "POST" {
                302
            } else {
                200
            };
            counts.requests += 1;
            counts.errors += u64::from(error);
            lines.requests.push(
                json!({
                    "timestamp": stamp,
                    "method": method,
                    "path": path,
                    "format": "html",
                    "action": action,
                    "status": status,
                    "duration": 41.7,
                    "git_sha": sha,
                    "hostname": hostname,
                })
                .to_string(),
            );
        }
        for name in EVENTS {
            let success = self.draw(format!("event:{sha}:{name}"), success_rate);
            let e = counts.events.entry(name.to_string()).or_default();
            e.0 += 1;
            e.1 += u64::from(success);
            lines.events.push(
                json!({
                    "name": name,
                    "time": stamp,
                    "properties": {
                        "event_properties": { "success": success },
                        "git_sha": sha,
                        "hostname": hostname,
                    },
                })
                .to_string(),
            );
        }
        let m = self
            .by_sha
            .entry(sha.to_string())
            .or_default()
            .entry(minute)
            .or_default();
        m.requests += counts.requests;
        m.errors += counts.errors;
        for (k, (t, s)) in counts.events {
            let e = m.events.entry(k).or_default();
            e.0 += t;
            e.1 += s;
        }
        lines
    }

    /// Requests and 5xx of a sha over every minute.
    pub fn totals(&self, sha: &str) -> (u64, u64) {
        self.by_sha.get(sha).map_or((0, 0), |mins| {
            mins.values()
                .fold((0, 0), |(r, e), m| (r + m.requests, e + m.errors))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_plays_the_configured_rates_per_sha() {
        let mut t = Traffic::default();
        let now: Timestamp = "2026-12-02T04:05:06Z".parse().unwrap();
        let five: Rate = "5%".parse().unwrap();
        let lines = (0..20)
            .map(|_| t.serve("new", "idp-1", 10, five, Rate::ZERO, now))
            .collect::<Vec<_>>();
        t.serve(
            "old",
            "idp-2",
            100,
            Rate::ZERO,
            "100%".parse().unwrap(),
            now,
        );
        assert_eq!(t.totals("new"), (200, 10));
        assert_eq!(t.totals("old"), (100, 0));
        let first: serde_json::Value = serde_json::from_str(&lines[0].requests[0]).unwrap();
        assert_eq!(first["git_sha"], "new");
        assert!(first["status"].is_number() && first["action"].is_string());
        let errors = lines
            .iter()
            .flat_map(|l| &l.requests)
            .filter(|l| l.contains("\"status\":500"))
            .count();
        assert_eq!(errors, 10);
        let event: serde_json::Value = serde_json::from_str(&lines[0].events[0]).unwrap();
        assert_eq!(event["properties"]["event_properties"]["success"], false);
        assert_eq!(event["properties"]["git_sha"], "new");
        let m = &t.by_sha["old"]["2026-12-02T04:05Z"];
        assert_eq!(m.events["IdV: final resolution"], (1, 1));
    }
}
