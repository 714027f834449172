//! `config`: the effective settings and where each came from.

use anyhow::Result;
use serde::Serialize;

use crate::context::Context;
use crate::output::{table, Format};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Layers, later wins: built-in defaults < ~/.config/login-release/config.toml \
(or $LOGIN_RELEASE_CONFIG) < .login-release.toml at the top of the repository < LOGIN_RELEASE_<KEY> \
environment variables (dots become underscores: LOGIN_RELEASE_GIT_REMOTE) < command flags.

The repository file may not set what decides where secrets go or which environments are \
production (production, github.api_url, slack.webhook) unless your own config lists the key in \
trust_repo_config."
)]
pub struct Args {
    /// Print only this key's value (for scripts), e.g. `naming.asg`.
    pub key: Option<String>,
}

#[derive(Serialize)]
struct Doc<'a> {
    settings: Vec<crate::config::Entry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let mut entries = ctx.config.entries();
    if let Some(key) = &args.key {
        entries.retain(|e| e.key == key);
        if entries.is_empty() {
            let all: Vec<&str> = ctx.config.entries().iter().map(|e| e.key).collect();
            let hint = match crate::error::closest(key, all.iter().copied(), 3) {
                Some(g) => format!("did you mean `{g}`? `login-release config` lists every key"),
                None => "`login-release config` lists every key".to_string(),
            };
            return Err(crate::error::usage(
                format!("unknown setting `{key}`"),
                hint,
            ));
        }
    }
    match ctx.out.format {
        Format::Json => ctx.out.json(
            "config",
            &Doc {
                settings: entries,
                key: args.key.as_deref(),
            },
        )?,
        _ if args.key.is_some() => ctx.out.data(display_value(&entries[0])),
        _ => {
            let rows = entries
                .iter()
                .map(|e| vec![e.key.to_string(), display_value(e), e.source.to_string()])
                .collect();
            ctx.out.data(table(&["KEY", "VALUE", "SOURCE"], rows, true));
        }
    }
    Ok(())
}

fn display_value(e: &crate::config::Entry) -> String {
    match (&e.value, e.secret_set) {
        (_, Some(true)) => "<set, hidden>".to_string(),
        (_, Some(false)) => "<unset>".to_string(),
        (Some(toml::Value::String(s)), _) => s.clone(),
        (Some(toml::Value::Array(a)), _) => a
            .iter()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        // `50`, not TOML's `50.0`: as the value is written in the README's tables.
        (Some(toml::Value::Float(f)), _) => f.to_string(),
        (Some(v), _) => v.to_string(),
        (None, None) => String::new(),
    }
}
