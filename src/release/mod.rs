//! RC names and numbers, staging deploy.json.

pub mod changelog_body;
pub mod deploy_json;
pub mod links;
pub mod rc;
