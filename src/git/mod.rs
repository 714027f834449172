//! git: repository operations over git2 (refs, commits, merges, reverts, pushes) and signing
//! over gpgme.

pub mod log;
pub mod push;
pub mod remote;
pub mod repo;
pub mod sign;
pub mod walk;
