//! `generate` (hidden): shell completions and man pages, written by the binary itself so they
//! never drift from the parser. `make completions man` calls it; a test checks the committed copies.

use std::path::PathBuf;

use crate::context::Context;
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

pub async fn run(_ctx: &Context, args: Args) -> Result<()> {
    match args.what {
        What::Completions { dir } => crate::docs::write_completions(&dir),
        What::Man { dir } => crate::docs::write_man_pages(&dir),
    }
    .with_context(|| "writing generated files".to_string())
}
