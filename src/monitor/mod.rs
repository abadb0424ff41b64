//! Production calls: `llmops ingest` reads them (JSONL records, OTLP/JSON GenAI spans) into the
//! store; `llmops monitor` scores them per prompt version and time window and tells drift from
//! noise with anytime-valid tests.

pub mod drift;
pub mod ingest;
pub mod render;
pub mod stats;
