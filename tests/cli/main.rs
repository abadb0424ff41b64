//! Integration tests: the real binary on real temporary git repositories.

#[path = "../support/browser.rs"]
mod browser;
#[path = "../support/mock_provider.rs"]
mod mock;
#[path = "../support/prodsim.rs"]
mod prodsim;
mod support;

mod architecture;
mod assertions;
mod ci_git;
mod cross_variant;
mod diff;
mod eval;
mod export;
mod faults;
mod flags;
mod gate;
mod gate_dims;
mod gate_stored;
mod help;
mod html;
mod import;
mod init;
mod judge;
mod judge_calibrate;
mod judge_inject;
mod judge_panel;
mod judge_rag;
mod lifecycle;
mod limits;
mod lint;
mod log_at;
mod malformed;
mod messages;
mod monitor;
mod monitor_judge;
mod read;
pub(crate) mod readme;
mod snapshot;
mod ways_in;
