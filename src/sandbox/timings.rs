//! Time that fits a rehearsal, through settings the sandbox writes where anyone can read them:
//!
//! - `DIR/config.toml`, a normal login-release config file that `sandbox env` points
//!   `LOGIN_RELEASE_CONFIG` at: short recycle delays (`login-release config` shows them and
//!   where they come from);
//! - `DIR/world.toml`, what the world simulator plays: its tick, how long instances take to
//!   boot and provision, the groups' health-check grace period, and the app's traffic.
//!
//! Nothing hides a clock: the world runs in real time, only the durations are short.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use super::rate::Rate;

/// The tool's settings in the sandbox: a recycle of about a minute.
pub const CONFIG_TOML: &str = "\
# Written by `login-release sandbox up`: the rehearsal's timings. `login-release sandbox env`
# points LOGIN_RELEASE_CONFIG here, so every command in that shell reads it.
[recycle]
spinup_delay = \"15s\"
spindown_delay = \"20s\"
# The monitor judges the rehearsal's few requests: logs arrive at once, and a verdict needs
# fewer requests and attempts than production's thousands.
[monitor]
ingestion_lag = \"2s\"
min_requests = 200
min_attempts = 20
# ... and its allowances fit those counts: with a few thousand requests a side, production's
# 0.1 point could never be shown, so a rehearsal of identical code would never PASS.
allowed_5xx_points = 1.0
allowed_success_drop_points = 10.0
# `deploy` in the rehearsal: a short soak, and every working day a deploy day (a weekend or a
# federal holiday still needs `deploy start --off-cycle --reason`).
[deploy]
soak = \"5s\"
days = [\"mon\", \"tue\", \"wed\", \"thu\"]
freeze = []
";

pub fn config_path(dir: &Path) -> PathBuf {
    dir.join("config.toml")
}

/// What the world simulator plays (`DIR/world.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldConfig {
    /// Milliseconds between two ticks.
    pub tick_ms: u64,
    /// Seconds a new instance stays Pending before it provisions (Pending:Wait).
    pub pending_secs: u64,
    /// Seconds provision.sh runs; a migration instance's log is written over that time.
    pub provision_secs: u64,
    /// The groups' health-check grace period, seconds: after it, a new instance is healthy.
    pub grace_secs: i32,
    /// Requests each healthy idp instance serves per tick.
    pub requests_per_tick: u32,
    /// Share of requests answered 5xx when no fault is set.
    pub error_rate: Rate,
    /// Share of critical-flow events that succeed.
    pub success_rate: Rate,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            tick_ms: 1000,
            pending_secs: 1,
            provision_secs: 4,
            grace_secs: 3,
            requests_per_tick: 5,
            error_rate: Rate::ZERO,
            success_rate: Rate::from_percent(90.0).expect("in range"),
        }
    }
}

impl WorldConfig {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("world.toml")
    }

    pub fn load(dir: &Path) -> Result<WorldConfig> {
        let path = Self::path(dir);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("reading {}", path.display()))
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = format!(
            "# What the sandbox's world plays (login-release sandbox world-run reads it every tick).\n{}",
            toml::to_string(self)?
        );
        std::fs::write(Self::path(dir), text)
            .with_context(|| format!("writing {}", Self::path(dir).display()))
    }

    /// One line for `sandbox status`.
    pub fn describe(&self) -> String {
        format!(
            "tick {}ms, Pending {}s, provision {}s, grace {}s, {} requests/tick per idp instance at {} 5xx, {} flow success",
            self.tick_ms,
            self.pending_secs,
            self.provision_secs,
            self.grace_secs,
            self.requests_per_tick,
            self.error_rate,
            self.success_rate
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_config_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let c = WorldConfig::default();
        c.save(dir.path()).unwrap();
        assert_eq!(WorldConfig::load(dir.path()).unwrap(), c);
        let text = std::fs::read_to_string(WorldConfig::path(dir.path())).unwrap();
        assert!(text.contains("error_rate = \"0%\""), "{text}");
    }

    #[test]
    fn the_config_layer_is_a_valid_config_file() {
        let v: toml::Value = toml::from_str(CONFIG_TOML).unwrap();
        assert_eq!(v["recycle"]["spinup_delay"].as_str(), Some("15s"));
        for key in ["spinup_delay", "spindown_delay"] {
            let d = v["recycle"][key].as_str().unwrap();
            d.parse::<crate::types::HumanDuration>().unwrap();
        }
    }
}
