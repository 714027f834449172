//! What a release acts on: the role and groups of an app, and the runbook's manual checks.

use crate::context::Context;
use crate::release::cut::App;

/// The runbook's manual checks in production, each confirmed by a person.
pub const CHECKS: [&str; 3] = [
    "sign in to an existing account",
    "sign up for a new account",
    "identity proofing on the new account",
];

/// The role whose groups a release of `app` recycles.
pub fn role_of(app: App) -> &'static str {
    match app {
        App::Idp => "idp",
        App::Pki => "pivcac",
    }
}

/// The groups a release of `app` recycles (the migration group comes along with idp).
pub fn groups_of(ctx: &Context, env: &str, app: App) -> Vec<String> {
    let s = ctx.settings();
    match app {
        App::Idp => vec![
            s.migration_group(env),
            s.asg_name(env, "idp"),
            s.asg_name(env, crate::recycle::plan::WORKER_ROLE),
        ],
        App::Pki => vec![s.asg_name(env, "pivcac")],
    }
}
