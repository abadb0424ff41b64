//! llmops: a git repository of prompt templates and eval datasets as the source of truth for
//! running LLMs in production.
#![warn(missing_docs)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod assert;
pub mod cli;
pub mod config;
pub mod dataset;
pub mod error;
pub mod lint;
pub mod registry;
pub mod suite;
pub mod template;
pub mod text;
pub mod ui;
pub mod yaml;
