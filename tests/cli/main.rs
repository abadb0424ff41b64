//! Integration tests: the real binary on real temporary git repositories.

#[path = "../support/mock_provider.rs"]
mod mock;
mod support;

mod eval;
mod help;
mod init;
mod judge;
mod lint;
mod malformed;
mod read;
