//! `generate` (hidden): shell completions and man pages, written by the binary itself so they
//! never drift from the parser. `make completions man` calls it; a test checks the committed copies.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Write completion scripts for bash, zsh, fish, elvish and powershell into DIR.
    Completions { dir: PathBuf },
    /// Write man pages (one for login-release, one per subcommand) into DIR.
    Man { dir: PathBuf },
}

/// `app` is the whole command tree, handed down by `cli` (this module must not depend on it).
pub fn run(args: Args, app: clap::Command) -> Result<()> {
    match args.what {
        What::Completions { dir } => crate::complete::write_completions(&dir),
        What::Man { dir } => crate::manpage::write_man_pages(app, &dir),
    }
    .with_context(|| "writing generated files".to_string())
}
