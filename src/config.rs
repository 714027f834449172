//! Layered settings (DESIGN section 6): built-in login.gov defaults < user file < repository file
//! < `LOGIN_RELEASE_*` environment. Flags are applied by the commands that own them.
//!
//! The structs below are the one description of the settings: each field's doc comment is its help
//! text, the value after `=` its login.gov default (see `keys::settings!`, in `settings.rs`). To add a setting, add a
//! field; the key list, the environment variable, the type check, `config`'s row and its source come
//! from it. figment merges the layers and remembers which layer set each value. A key that is not
//! declared is an error in a file (with a did-you-mean) and a warning in the environment (other
//! tools share the prefix).

mod guard;
mod keys;
mod layers;
mod settings;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use figment::Figment;
use serde::Serialize;

use crate::error::{AppError, Kind};
pub use layers::Source;
use layers::{Layer, LayerKind};
pub use settings::{
    Deploy, Git, Github, Migration, Monitor, Naming, Recycle, Release, Settings, Slack, Ssm,
    Staging,
};

/// One effective setting and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub key: &'static str,
    /// `None` for secrets: `config` shows only whether they are set.
    pub value: Option<toml::Value>,
    pub secret_set: Option<bool>,
    pub source: Source,
    pub help: &'static str,
}

/// The merged settings plus their provenance.
#[derive(Clone)]
pub struct Config {
    pub settings: Settings,
    /// Each key's merged value as its layer wrote it (`90s` stays `90s`), and that layer.
    values: BTreeMap<&'static str, (toml::Value, Source)>,
    /// Warnings found while loading (unknown environment variables), printed by the caller.
    pub warnings: Vec<String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Through `Settings`' Debug, which redacts secrets; never the raw layers.
        f.debug_struct("Config")
            .field("settings", &self.settings)
            .field(
                "sources",
                &self.values.values().map(|(_, s)| s).collect::<Vec<_>>(),
            )
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Where the files are looked for.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    pub user_file: Option<PathBuf>,
    pub repo_file: Option<PathBuf>,
}

impl Locations {
    /// `LOGIN_RELEASE_CONFIG` names the user file; else `$XDG_CONFIG_HOME/login-release/config.toml`
    /// (`~/.config/...`). The repository file is `.login-release.toml` at the top of the work tree.
    pub fn discover(repo_dir: &Path) -> Self {
        let user_file = std::env::var_os("LOGIN_RELEASE_CONFIG")
            .map(PathBuf::from)
            .or_else(|| {
                directories::BaseDirs::new()
                    .map(|d| d.config_dir().join("login-release").join("config.toml"))
            });
        let top = git2::Repository::discover(repo_dir)
            .ok()
            .and_then(|r| r.workdir().map(Path::to_path_buf))
            .unwrap_or_else(|| repo_dir.to_path_buf());
        Locations {
            user_file,
            repo_file: Some(top.join(".login-release.toml")),
        }
    }
}

impl Config {
    /// Built-in defaults only: what tests of pure logic use.
    pub fn defaults() -> Self {
        Self::load_from(&Locations::default(), std::iter::empty()).expect("defaults are valid")
    }

    /// Loads every layer for the repository at `repo_dir`, reading the process environment.
    pub fn load(repo_dir: &Path) -> Result<Self> {
        Self::load_from(&Locations::discover(repo_dir), std::env::vars())
    }

    pub fn load_from(
        locations: &Locations,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let defaults = Layer::defaults(&Settings::default())?;
        let file = |kind, path: &Option<PathBuf>| match path {
            Some(p) => Layer::file(kind, p),
            None => Ok(Layer::empty(kind)),
        };
        let user = file(LayerKind::UserFile, &locations.user_file)?;
        let repo = file(LayerKind::RepoFile, &locations.repo_file)?;
        let (env, warnings) = Layer::env(env)?;
        // The user's own layers decide what the repository file may set.
        let own = Figment::from(&defaults).merge(&user).merge(&env);
        let trusted = guard::trusted_keys(&own)?;
        if let Some(path) = &locations.repo_file {
            guard::refuse_guarded(&repo, path, &trusted, locations.user_file.as_deref())?;
        }
        let figment = Figment::from(defaults).merge(user).merge(repo).merge(env);
        let settings: Settings = figment.extract().context("building settings")?;
        let mut values = BTreeMap::new();
        for def in settings::keys() {
            let value = figment
                .find_value(&def.key)
                .ok()
                .and_then(|v| toml::Value::try_from(v).ok())
                .with_context(|| format!("reading the value of {}", def.key))?;
            values.insert(
                def.key.as_str(),
                (value, layers::source(&figment, &def.key)),
            );
        }
        let config = Config {
            settings,
            values,
            warnings,
        };
        config
            .settings
            .check()
            .map_err(|(key, why)| config.bad_value(key, &why))?;
        Ok(config)
    }

    /// A value of the right type outside its bounds: names the key and the layer that set it.
    fn bad_value(&self, key: &str, why: &str) -> anyhow::Error {
        let at = match self.source_of(key) {
            Some(Source::Env(var)) => var.clone(),
            Some(source) => source.to_string(),
            None => "the defaults".to_string(),
        };
        let default = settings::default_value(key)
            .map(|v| v.to_string())
            .unwrap_or_default();
        AppError::new(Kind::Preflight, format!("`{key}` in {at} {why}"))
            .with_hint(format!("default: {default}"))
            .into()
    }

    /// Every setting with its effective value and source, in key order.
    pub fn entries(&self) -> Vec<Entry> {
        settings::keys()
            .iter()
            .map(|def| {
                let (value, source) = &self.values[def.key.as_str()];
                let set = value.as_str().is_some_and(|s| !s.is_empty());
                let secret = def.flags.secret;
                Entry {
                    key: def.key.as_str(),
                    value: (!secret).then(|| value.clone()),
                    secret_set: secret.then_some(set),
                    source: source.clone(),
                    help: def.help,
                }
            })
            .collect()
    }

    /// The source of one setting (for messages such as "prod is production (from default)").
    pub fn source_of(&self, key: &str) -> Option<&Source> {
        self.values.get(key).map(|(_, s)| s)
    }
}

/// A key's built-in default, for hints.
#[cfg(test)]
mod tests;
