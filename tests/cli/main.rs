//! Integration tests: the real binary on real temporary git repositories.

mod support;

mod diff;
mod export;
mod help;
mod init;
mod lifecycle;
mod lint;
mod malformed;
mod read;
