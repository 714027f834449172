//! The terminal: the one rule for "can we ask?" and the confirmation prompts themselves.

use std::io::IsTerminal;

use anyhow::Result;

/// A question can be asked only when a person can both read it (stderr) and answer (stdin).
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// `[y/N]`, or typing the environment's name for production. Returns whether the answer is yes.
pub fn confirm(production_env: Option<&str>) -> Result<bool> {
    let theme = dialoguer::theme::SimpleTheme;
    Ok(match production_env {
        Some(env) => {
            let typed: String = dialoguer::Input::with_theme(&theme)
                .with_prompt(format!("This changes production. Type `{env}` to continue"))
                .allow_empty(true)
                .interact_text()?;
            typed.trim() == env
        }
        None => dialoguer::Confirm::with_theme(&theme)
            .with_prompt("Apply this plan?")
            .default(false)
            .interact()?,
    })
}

/// A yes/no question that is not a plan (a manual check done, a decision to go on); `--yes`
/// never answers it.
pub fn ask(question: &str) -> Result<bool> {
    Ok(
        dialoguer::Confirm::with_theme(&dialoguer::theme::SimpleTheme)
            .with_prompt(question)
            .default(false)
            .interact()?,
    )
}
