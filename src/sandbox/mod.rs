//! The local rehearsal world: emulated AWS fleet, git remotes, staging URL, and the simulator
//! that makes the fleet move by itself.
pub mod control;
pub mod emulator;
pub mod faults;
pub mod github;
pub mod provision;
pub mod rate;
pub mod seed;
pub mod sim;
pub mod timings;
pub mod traffic;
pub mod world;
