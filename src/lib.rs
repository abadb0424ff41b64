//! llmops: a git repository of prompt templates and eval datasets as the source of truth for
//! running LLMs in production.
#![warn(missing_docs)]
#![deny(clippy::print_stdout, clippy::print_stderr)]
// Diagnostics (file, line, message, hint) are the error type of every parser. They travel
// only on the error path, where their size costs nothing measurable.
#![allow(clippy::result_large_err)]

/// Caps what one template render may allocate (see [`memcap`]).
#[global_allocator]
static ALLOC: memcap::CapAlloc = memcap::CapAlloc;

pub mod assert;
pub mod cli;
pub mod config;
pub mod dataset;
pub mod engine;
pub mod error;
pub mod fsio;
pub mod gate;
pub mod import;
pub mod judge;
pub mod lint;
pub mod memcap;
pub mod monitor;
pub mod paths;
pub mod provider;
pub mod redact;
pub mod registry;
pub mod report;
pub mod store;
pub mod suite;
pub mod table;
pub mod template;
pub mod text;
pub mod ui;
pub mod yaml;
