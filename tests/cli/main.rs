//! Integration tests: the real binary on real temporary git repositories.

#[path = "../support/mock_provider.rs"]
mod mock;
mod support;

mod assertions;
mod diff;
mod eval;
mod export;
mod gate;
mod help;
mod init;
mod judge;
mod lifecycle;
mod lint;
mod malformed;
mod read;
