//! Faults on demand (`sandbox break`, `sandbox mend`), kept in `DIR/world/faults.json` where
//! the world simulator reads them every tick.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use super::rate::Rate;

/// The new code returns 5xx at `rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorFault {
    pub rate: Rate,
    /// Only shas not in `old_shas` fail (the fleet's shas when the fault was set); empty: every
    /// sha fails.
    pub old_shas: Vec<String>,
}

impl ErrorFault {
    pub fn applies_to(&self, sha: &str) -> bool {
        !self.old_shas.iter().any(|s| s == sha)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// The next migration instance's provision abandons (cleared once it did).
    #[serde(default)]
    pub migration: bool,
    /// New instances never turn healthy.
    #[serde(default)]
    pub health: bool,
    #[serde(default)]
    pub errors: Option<ErrorFault>,
}

impl Faults {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("world").join("faults.json")
    }

    /// No file: no fault.
    pub fn load(dir: &Path) -> Result<Faults> {
        let path = Self::path(dir);
        match std::fs::read_to_string(&path) {
            Ok(t) => {
                serde_json::from_str(&t).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Faults::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        super::world::write_atomic(
            &Self::path(dir),
            &(serde_json::to_string_pretty(self)? + "\n"),
        )
    }

    pub fn is_empty(&self) -> bool {
        *self == Faults::default()
    }

    /// One line per active fault, for `sandbox status` and `sandbox mend`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.migration {
            out.push("migration: the next migration instance abandons its provision".to_string());
        }
        if self.health {
            out.push("health: new instances never turn healthy".to_string());
        }
        if let Some(e) = &self.errors {
            out.push(if e.old_shas.is_empty() {
                format!(
                    "errors: every sha answers {} of its requests with 5xx",
                    e.rate
                )
            } else {
                format!(
                    "errors: shas other than {} answer {} of their requests with 5xx",
                    e.old_shas
                        .iter()
                        .map(|s| &s[..s.len().min(9)])
                        .collect::<Vec<_>>()
                        .join(", "),
                    e.rate
                )
            });
        }
        out
    }
}
