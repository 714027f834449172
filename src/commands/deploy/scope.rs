//! What a release acts on: the role and groups of an app, and the runbook's manual checks.

use serde_json::Value;

use crate::context::Context;
use crate::deploy::record::{Record, Step};
use crate::release::cut::App;
use crate::types::RcNumber;

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

/// The promotion PR as the cut step recorded it (its `cut-rc` outcome's `pr`).
pub struct PromotionPr<'a> {
    pub number: Option<u64>,
    pub rc: Option<RcNumber>,
    pub url: Option<&'a str>,
}

pub fn promotion_pr(record: &Record) -> PromotionPr<'_> {
    let pr = record
        .step(Step::Cut)
        .verified
        .as_ref()
        .and_then(|v| v.get("pr"));
    let field = |key: &str| pr.and_then(|p| p.get(key));
    PromotionPr {
        number: field("number").and_then(Value::as_u64),
        rc: field("rc")
            .and_then(Value::as_str)
            .and_then(|r| r.parse().ok()),
        url: field("url").and_then(Value::as_str),
    }
}
