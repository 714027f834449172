//! RC names and numbers, staging deploy.json.

pub mod deploy_json;
pub mod links;
pub mod rc;
