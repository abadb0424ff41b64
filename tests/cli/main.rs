//! Integration tests: the real binary on real temporary git repositories.

#[path = "../support/mock_provider.rs"]
mod mock;
mod support;

mod architecture;
mod diff;
mod eval;
mod export;
mod flags;
mod gate;
mod help;
mod import;
mod init;
mod judge;
mod lifecycle;
mod lint;
mod malformed;
mod read;
mod snapshot;
mod ways_in;
