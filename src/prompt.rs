//! The terminal: the one rule for "can we ask?" and the confirmation prompts themselves.

use std::io::IsTerminal;

use anyhow::Result;

/// A question can be asked only when a person can both read it (stderr) and answer (stdin).
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// `[y/N]`, or typing the environment's name for production. Returns whether the answer is yes.
/// Ctrl-C at the prompt is a no.
pub fn confirm(production_env: Option<&str>) -> Result<bool> {
    let theme = dialoguer::theme::SimpleTheme;
    let answer = match production_env {
        Some(env) => dialoguer::Input::<String>::with_theme(&theme)
            .with_prompt(format!("This changes production. Type `{env}` to continue"))
            .allow_empty(true)
            .interact_text()
            .map(|typed| typed.trim() == env),
        None => dialoguer::Confirm::with_theme(&theme)
            .with_prompt("Apply this plan?")
            .default(false)
            .interact(),
    };
    match answer {
        Ok(yes) => Ok(yes),
        // Ctrl-C at the prompt is a no (dialoguer reports it as an interrupted read): the answer
        // a person gives by leaving, and nothing has been changed yet.
        Err(dialoguer::Error::IO(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
            crate::output::stderr_line("");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
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
