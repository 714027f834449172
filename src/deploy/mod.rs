//! The production release as one runbook (issue 10). What is here does not depend on the step
//! library; the `deploy` command itself comes with it.
//!
//! - [`calendar`]: pure. Which days allow a full or a patch deploy, US federal holidays, freezes.
//! - [`merge`]: pure. Where the promotion PR stands (review, merge kind).
//! - [`record`]: pure. The release record: the ten steps, their states and the legal transitions.
//! - [`store`]: the record on the remote under its own ref, where a fast-forward push is the lock.

pub mod calendar;
pub mod merge;
pub mod record;
pub mod store;

use std::time::Duration;

use crate::config::Settings;
use crate::error::preflight;

/// `deploy.soak`: how long the release soaks before the manual checks.
pub fn soak(settings: &Settings) -> anyhow::Result<Duration> {
    settings
        .deploy
        .soak
        .parse::<crate::types::HumanDuration>()
        .map(|d| d.0)
        .map_err(|e| {
            preflight(
                format!("setting `deploy.soak`: {e}"),
                "fix it in your config file or environment (`login-release config` shows where it comes from)",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soak_defaults_to_an_hour() {
        let mut s = crate::config::Config::defaults().settings;
        assert_eq!(soak(&s).unwrap(), Duration::from_secs(3600));
        s.deploy.soak = "soon".into();
        assert_eq!(crate::error::report(&soak(&s).unwrap_err()).code, 3);
    }
}
