//! Integration tests: the real binary on real temporary git repositories.

mod support;

mod help;
mod init;
mod lint;
mod malformed;
mod read;
