//! The four layers as figment providers, and the checks each must pass before it is merged:
//! files may hold only known keys of the right type, the environment's unknown names are warnings,
//! and the repository file may not set a guarded key the user did not trust.
//!
//! Our own providers rather than figment's `Toml` and `Env`: a file's parse error must be one line
//! naming the file, and `LOGIN_RELEASE_*` values are read by the field's type (a list is
//! comma-separated, `yes` is true), where figment's `Env` has its own value grammar.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Serialize;

use super::keys::{self, KeyDoc};
use super::settings::{self, Settings};
use crate::error::{AppError, Kind};

/// Where a setting's value came from, for `login-release config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "at")]
pub enum Source {
    Default,
    UserFile(PathBuf),
    RepoFile(PathBuf),
    Env(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::UserFile(p) | Source::RepoFile(p) => write!(f, "{}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
        }
    }
}

/// Environment variables with our prefix that are not settings.
const ENV_NOT_SETTINGS: &[&str] = &[
    "LOGIN_RELEASE_CONFIG",
    "LOGIN_RELEASE_LOG",
    "LOGIN_RELEASE_NOW",
    "LOGIN_RELEASE_MOTO_PYTHON",
];

/// Which layer a value came from; its name is the figment metadata name, read back by [`source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    Default,
    UserFile,
    RepoFile,
    Env,
}

impl LayerKind {
    const ALL: [LayerKind; 4] = [
        LayerKind::Default,
        LayerKind::UserFile,
        LayerKind::RepoFile,
        LayerKind::Env,
    ];

    fn name(self) -> &'static str {
        match self {
            LayerKind::Default => "default",
            LayerKind::UserFile => "user config",
            LayerKind::RepoFile => "repository config",
            LayerKind::Env => "environment",
        }
    }
}

/// One layer's values, ready to merge.
pub struct Layer {
    kind: LayerKind,
    path: Option<PathBuf>,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        let md = Metadata::named(self.kind.name());
        match (&self.path, self.kind) {
            (Some(path), _) => md.source(path.as_path()),
            (None, LayerKind::Env) => md.interpolater(|_, path| keys::env_name(&path.join("."))),
            (None, _) => md,
        }
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Map::from([(Profile::Default, self.dict.clone())]))
    }
}

impl Layer {
    pub fn defaults(settings: &Settings) -> Result<Self> {
        let dict = Value::serialize(settings)
            .context("serializing the defaults")?
            .into_dict()
            .context("the settings are a table")?;
        Ok(Layer {
            kind: LayerKind::Default,
            path: None,
            dict,
        })
    }

    /// A layer that sets nothing (a file that does not exist).
    pub fn empty(kind: LayerKind) -> Self {
        Layer {
            kind,
            path: None,
            dict: Dict::new(),
        }
    }

    /// A settings file, checked key by key; empty when it does not exist.
    pub fn file(kind: LayerKind, path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::empty(kind)),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            AppError::new(
                Kind::Preflight,
                format!("{} is not valid TOML: {}", path.display(), e.message()),
            )
            .with_hint("fix the file or move it aside")
        })?;
        let dict = Value::serialize(&table)
            .with_context(|| format!("reading {}", path.display()))?
            .into_dict()
            .context("a TOML document is a table")?;
        let file = path.display().to_string();
        for (key, value) in leaves(&dict) {
            let def = settings::find(&key).ok_or_else(|| unknown_key(&key, &file))?;
            if !(def.accepts)(value) {
                return Err(wrong_type(def, &file));
            }
        }
        Ok(Layer {
            kind,
            path: Some(path.to_path_buf()),
            dict,
        })
    }

    /// `LOGIN_RELEASE_<KEY>` variables, and a warning for each of our prefix that is no key.
    pub fn env(vars: impl IntoIterator<Item = (String, String)>) -> Result<(Self, Vec<String>)> {
        let mut vars: Vec<(String, String)> = vars.into_iter().collect();
        vars.sort();
        let mut root = Value::from(Dict::new());
        let mut warnings = Vec::new();
        for (var, raw) in vars {
            let Some(rest) = var.strip_prefix("LOGIN_RELEASE_") else {
                continue;
            };
            if ENV_NOT_SETTINGS.contains(&var.as_str()) {
                continue;
            }
            let Some(def) = settings::keys().iter().find(|d| d.env_name() == var) else {
                warnings.push(unknown_env(&var, rest));
                continue;
            };
            let value = (def.from_env)(&raw).map_err(|why| {
                AppError::new(Kind::Preflight, format!("{var}={raw:?}: {why}"))
                    .with_hint("fix or unset the variable")
            })?;
            insert(&mut root, &def.key, value);
        }
        let dict = root.into_dict().expect("built as a table");
        Ok((
            Layer {
                kind: LayerKind::Env,
                path: None,
                dict,
            },
            warnings,
        ))
    }

    /// The leaf keys this layer sets.
    pub fn keys(&self) -> Vec<String> {
        leaves(&self.dict).into_iter().map(|(k, _)| k).collect()
    }
}

/// Where the merged value of `key` came from, read from figment's metadata.
pub fn source(figment: &Figment, key: &str) -> Source {
    let Some(md) = figment.find_metadata(key) else {
        return Source::Default;
    };
    let kind = LayerKind::ALL
        .into_iter()
        .find(|k| k.name() == md.name)
        .unwrap_or(LayerKind::Default);
    let path = || {
        md.source
            .as_ref()
            .and_then(|s| s.file_path())
            .map(Path::to_path_buf)
    };
    match kind {
        LayerKind::Default => Source::Default,
        LayerKind::UserFile => path().map_or(Source::Default, Source::UserFile),
        LayerKind::RepoFile => path().map_or(Source::Default, Source::RepoFile),
        LayerKind::Env => {
            let parts: Vec<&str> = key.split('.').collect();
            Source::Env(md.interpolate(&Profile::Default, &parts))
        }
    }
}

/// `[naming] asg = "x"` is `("naming.asg", "x")`; arrays are leaves.
fn leaves(dict: &Dict) -> Vec<(String, &Value)> {
    fn walk<'a>(prefix: &str, dict: &'a Dict, out: &mut Vec<(String, &'a Value)>) {
        for (k, v) in dict {
            let key = keys::join(prefix, k);
            match v.as_dict() {
                Some(inner) => walk(&key, inner, out),
                None => out.push((key, v)),
            }
        }
    }
    let mut out = Vec::new();
    walk("", dict, &mut out);
    out
}

/// Sets a dotted key in a table, making the sections on the way.
fn insert(root: &mut Value, key: &str, value: Value) {
    let mut table = match root {
        Value::Dict(_, d) => d,
        _ => unreachable!("the root is a table"),
    };
    let mut parts: Vec<&str> = key.split('.').collect();
    let leaf = parts.pop().expect("a key is not empty");
    for part in parts {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| Value::from(Dict::new()));
        table = match entry {
            Value::Dict(_, d) => d,
            _ => unreachable!("sections are tables"),
        };
    }
    table.insert(leaf.to_string(), value);
}

fn unknown_key(key: &str, file: &str) -> anyhow::Error {
    let guess = crate::error::closest(key, settings::keys().iter().map(|d| d.key.as_str()), 3);
    let hint = match guess {
        Some(g) => format!("did you mean `{g}`? `login-release config` lists every key"),
        None => "`login-release config` lists every key".to_string(),
    };
    AppError::new(
        Kind::Preflight,
        format!("unknown setting `{key}` in {file}"),
    )
    .with_hint(hint)
    .into()
}

fn wrong_type(def: &KeyDoc, file: &str) -> anyhow::Error {
    let default = settings::default_value(&def.key)
        .map(|v| v.to_string())
        .unwrap_or_default();
    AppError::new(
        Kind::Preflight,
        format!("`{}` in {file} must be {}", def.key, def.expected),
    )
    .with_hint(format!("default: {default}"))
    .into()
}

fn unknown_env(var: &str, rest: &str) -> String {
    let names: Vec<String> = settings::keys().iter().map(KeyDoc::env_name).collect();
    match crate::error::closest(var, &names, 3) {
        Some(g) => format!("ignoring unknown setting {var} (did you mean {g}?)"),
        None => format!(
            "ignoring unknown setting {var} ({} is not a key)",
            rest.to_lowercase()
        ),
    }
}
