//! The git half of a release as library steps (the model is `recycle/`): [`cut`] (full,
//! patch, true-up) with the shared [`publish`] step, plus RC names and numbers ([`rc`]), links
//! ([`links`]) and staging's deploy.json ([`deploy_json`]).

pub mod cut;
pub mod deploy_json;
pub mod github_release;
pub mod links;
pub mod publish;
pub mod rc;
pub mod revert;
pub mod tag;
