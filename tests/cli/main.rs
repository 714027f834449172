//! The one integration test binary (the AWS SDK is linked once). One module per subcommand.

#[path = "../support/mod.rs"]
mod support;

mod config;
