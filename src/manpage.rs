//! Man pages, generated from the clap definition so they never drift: one for `login-release`
//! with the sections release managers look for (exit status, environment, files, examples), one
//! per visible subcommand.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use roff::{bold, italic, roman, Roff};

pub fn write_man_pages(app: clap::Command, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = app.disable_help_subcommand(true);
    cmd.build();
    // The main page: clap's sections plus the ones release managers look for.
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    page.write_all(main_page_sections().as_bytes())?;
    man.render_version_section(&mut page)?;
    std::fs::write(dir.join("login-release.1"), page).context("writing login-release.1")?;
    // One page per visible subcommand (and their own subcommands).
    fn each(cmd: &clap::Command, dir: &Path) -> Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let man = clap_mangen::Man::new(sub.clone());
            man.generate_to(dir)
                .with_context(|| format!("writing the page of {}", sub.get_name()))?;
            each(sub, dir)?;
        }
        Ok(())
    }
    each(&cmd, dir)
}

fn main_page_sections() -> String {
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in crate::error::exit_statuses() {
        r.control("TP", [])
            .text([bold(code.to_string())])
            .text([roman(meaning)]);
    }
    r.control("SH", ["ENVIRONMENT"]);
    for (var, meaning) in [
        ("AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL", "AWS credentials and endpoint through the default chain; under aws-vault the AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN it exports are used."),
        ("GITHUB_TOKEN, GH_TOKEN", "Token for GitHub's REST API (promotion PR, release, revert PR). Never printed."),
        ("GITHUB_API_URL, GITHUB_REPOSITORY", "API base and owner/name, as in GitHub Actions."),
        ("GNUPGHOME", "GnuPG home holding the key that signs release tags."),
        ("LOGIN_RELEASE_<KEY>", "Any setting; dots become underscores (LOGIN_RELEASE_GIT_REMOTE=upstream). Lists are comma-separated."),
        ("LOGIN_RELEASE_SLACK_WEBHOOK", "Slack incoming-webhook URL for deploy announcements. A secret: never printed."),
        ("LOGIN_RELEASE_CONFIG", "Path of the user configuration file."),
        ("NO_COLOR", "Disables colours when set and --color is auto."),
        ("LOGIN_RELEASE_NOW", "A fixed clock (RFC 3339) for the sandbox and tests; honoured only when AWS_ENDPOINT_URL is this machine (localhost, 127.0.0.0/8, ::1), else every command refuses with exit 2."),
        ("RUST_LOG", "Diagnostics filter; overrides -v and -q. -v and -vv raise only login-release's own level; the AWS SDK's and HTTP stack's only through RUST_LOG."),
    ] {
        r.control("TP", []).text([bold(var)]).text([roman(meaning)]);
    }
    r.control("SH", ["FILES"]);
    for (file, meaning) in [
        (
            "~/.config/login-release/config.toml",
            "User settings (XDG_CONFIG_HOME is honoured).",
        ),
        (
            ".login-release.toml",
            "Repository settings, at the top of the work tree.",
        ),
    ] {
        r.control("TP", [])
            .text([italic(file)])
            .text([roman(meaning)]);
    }
    r.text([
        roman(
            "Later layers win: built-in defaults, user file, repository file, environment, flags. ",
        ),
        bold("login-release config"),
        roman(" prints the effective settings and where each came from."),
    ]);
    r.control("SH", ["EXAMPLES"]);
    for (what, cmd) in [
        ("Cut the RC branch from what staging runs:", "login-release cut-rc"),
        ("The changelog of what the RC adds to production:", "login-release changelog --base origin/stages/prod --source origin/stages/rc-2026-11-26"),
        ("Look at production before recycling (no extra servers?):", "aws-vault exec prod-power -- login-release ls-servers -e prod"),
        ("Recycle idp (migration first, worker too), after reading the plan:", "aws-vault exec prod-power -- login-release asg-recycle prod idp"),
        ("Follow the migration:", "aws-vault exec prod-power -- login-release watch-migration prod"),
        ("After the recycle time, remove the old instances everywhere:", "aws-vault exec prod-power -- login-release scale-remove-old-instances prod ALL --wait"),
        ("Sign and push the release tag:", "login-release tag-release"),
        ("Practise all of it locally:", "make demo"),
    ] {
        r.control("TP", []).text([roman(what)]).text([bold(cmd)]);
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([roman(
        "login-release-<subcommand>(1) for each subcommand, and the README.",
    )]);
    r.to_roff()
}
