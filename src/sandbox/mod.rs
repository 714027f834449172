//! The local rehearsal world: emulated AWS fleet, git remotes, staging URL.
