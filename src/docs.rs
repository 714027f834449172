//! Completions and man pages generated from the clap definition.

use std::path::Path;

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

const BIN: &str = "login-release";

pub fn write_completions(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let mut cmd = Cli::command();
        clap_complete::generate_to(shell, &mut cmd, BIN, dir)
            .with_context(|| format!("writing {shell} completions"))?;
    }
    Ok(())
}

pub fn write_man_pages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd, dir).context("writing man pages")?;
    Ok(())
}
