//! Issue 12 item 10: settings that decide where secrets go or which environments are production
//! (flagged `guarded` in the structs) come from the user, not from whatever repository they stand
//! in. A repository's `.login-release.toml` may set one only when the user's own config (their
//! file or environment) lists it in `trust_repo_config`.

use std::path::Path;

use anyhow::{Context as _, Result};
use figment::Figment;

use super::layers::Layer;
use super::settings;
use crate::error::{AppError, Kind};

/// `trust_repo_config` from the user's own layers; each entry must name a guarded key.
pub fn trusted_keys(own: &Figment) -> Result<Vec<String>> {
    let trusted: Vec<String> = own
        .extract_inner("trust_repo_config")
        .context("reading trust_repo_config")?;
    let guarded: Vec<&str> = settings::keys()
        .iter()
        .filter(|d| d.flags.guarded && d.key != "trust_repo_config")
        .map(|d| d.key.as_str())
        .collect();
    for key in &trusted {
        if !guarded.contains(&key.as_str()) {
            let hint = match crate::error::closest(key, guarded.iter().copied(), 3) {
                Some(g) => format!(
                    "did you mean `{g}`? keys it may list: {}",
                    guarded.join(", ")
                ),
                None => format!("keys it may list: {}", guarded.join(", ")),
            };
            return Err(AppError::new(
                Kind::Preflight,
                format!("trust_repo_config lists `{key}`, which is not a guarded setting"),
            )
            .with_hint(hint)
            .into());
        }
    }
    Ok(trusted)
}

/// Settings that decide where secrets go or what is production come from the user, not from
/// whatever repository they stand in: refuses a repository file that sets one untrusted.
pub fn refuse_guarded(
    repo: &Layer,
    path: &Path,
    trusted: &[String],
    user_file: Option<&Path>,
) -> Result<()> {
    let refused = repo.keys().into_iter().find(|key| {
        settings::find(key).is_some_and(|d| d.flags.guarded) && !trusted.iter().any(|t| t == key)
    });
    let Some(key) = refused else { return Ok(()) };
    let user = user_file.map_or_else(
        || "~/.config/login-release/config.toml".to_string(),
        |p| p.display().to_string(),
    );
    let hint = if key == "trust_repo_config" {
        format!("only your own config may set it: put it in {user}")
    } else {
        format!(
            "put it in your user config {user}, or allow the repository to set it there: \
             trust_repo_config = [\"{key}\"]"
        )
    };
    Err(AppError::new(
        Kind::Preflight,
        format!(
            "{} sets `{key}`, a guarded setting (where secrets go, what is production, what a \
             person must confirm); only your own config may set it",
            path.display()
        ),
    )
    .with_hint(hint)
    .into())
}
