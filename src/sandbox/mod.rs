//! The local rehearsal world: emulated AWS fleet, git remotes, staging URL.
pub mod emulator;
pub mod seed;
pub mod world;
