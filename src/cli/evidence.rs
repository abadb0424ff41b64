//! Eval evidence for the lifecycle commands. One function, so the eval store plugs in at one
//! place: `release` records what it returns, and `diff` shows deltas between two sides.

use super::Ctx;
use crate::error::Result;
use crate::registry::EvalSummary;
use crate::template::Prompt;

/// The latest eval summary for `prompt` with content `content_hash`: score, pass rate, case
/// count, cost, median latency and the run it came from.
///
/// The eval store (SQLite, written by `llmops eval`) fills this in: it should return the
/// newest completed run of a suite that evaluates this prompt at exactly this content hash,
/// and `None` when there is none. Until the store exists it has nothing to report, so this
/// returns `Ok(None)`, and `release` records no `eval` and `diff` shows no eval section.
pub(crate) fn eval_summary_for(
    ctx: &Ctx,
    prompt: &Prompt,
    content_hash: &str,
) -> Result<Option<EvalSummary>> {
    let _ = (ctx, prompt, content_hash);
    Ok(None)
}
