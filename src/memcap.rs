//! A cap on what one template render may allocate.
//!
//! minijinja bounds the instructions a template runs (fuel), not the size of the values it
//! builds: `{% set ns.s = ns.s ~ ns.s %}` forty times asks for a terabyte in a few hundred
//! instructions, and an allocation that fails aborts the process. So the global allocator
//! checks, on the thread that is rendering and only while it renders, that no single
//! allocation exceeds the render cap; one that would is stopped before it happens, with a
//! clear error naming the template and the limit, and the process exits with code 2.
//!
//! Allocation failure cannot be turned into an ordinary `Err` on stable Rust (an allocator
//! must not unwind), hence the exit. Everything stored so far is kept: the writer commits in
//! small batches, and `--resume` continues a run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The allocator: the system's, plus the render check.
pub struct CapAlloc;

thread_local! {
    /// The largest single allocation allowed on this thread now (0: no cap).
    static CAP: Cell<usize> = const { Cell::new(0) };
    /// What is being rendered (a pointer and length into a string the guard borrows).
    static WHAT: Cell<(*const u8, usize)> = const { Cell::new((std::ptr::null(), 0)) };
}

/// The cap for one allocation while rendering, in bytes.
static RENDER_CAP: AtomicUsize = AtomicUsize::new(4 << 20);
/// `limits.rendered_bytes`, for the message.
static RENDERED_LIMIT: AtomicUsize = AtomicUsize::new(1 << 20);

/// Set the cap from `limits.rendered_bytes`: one allocation during a render may be four times
/// that (values are built, copied and joined), and at least 4 MiB.
pub fn set_rendered_limit(bytes: u64) {
    let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
    RENDERED_LIMIT.store(bytes, Ordering::Relaxed);
    RENDER_CAP.store(bytes.saturating_mul(4).max(4 << 20), Ordering::Relaxed);
}

/// While alive, allocations on this thread are capped; `what` names the template.
pub struct Guard<'a> {
    prev: usize,
    prev_what: (*const u8, usize),
    _what: std::marker::PhantomData<&'a str>,
}

/// Cap allocations on this thread while rendering `what`.
pub fn rendering(what: &str) -> Guard<'_> {
    let prev = CAP.with(|c| c.replace(RENDER_CAP.load(Ordering::Relaxed)));
    let prev_what = WHAT.with(|w| w.replace((what.as_ptr(), what.len())));
    Guard {
        prev,
        prev_what,
        _what: std::marker::PhantomData,
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        CAP.with(|c| c.set(self.prev));
        WHAT.with(|w| w.set(self.prev_what));
    }
}

#[inline]
fn check(size: usize) {
    let cap = CAP.try_with(Cell::get).unwrap_or(0);
    if cap != 0 && size > cap {
        over(size, cap);
    }
}

#[cold]
#[inline(never)]
fn over(size: usize, cap: usize) -> ! {
    // No cap from here on: the message and the exit may allocate.
    CAP.with(|c| c.set(0));
    let (ptr, len) = WHAT.with(Cell::get);
    let what = if ptr.is_null() {
        "a prompt"
    } else {
        // SAFETY: the guard that set this borrows the string for as long as the cap is on,
        // and the cap is on (we are inside it).
        std::str::from_utf8(unsafe { std::slice::from_raw_parts(ptr, len) }).unwrap_or("a prompt")
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{what}: error: rendering the template built a value of {size} bytes (more than {cap}); stopped before allocating it. Rendered prompts are capped by `limits.rendered_bytes` ({})\n  help: a loop that keeps growing a string? fix the template, or raise `limits.rendered_bytes` in llmops.yaml",
        RENDERED_LIMIT.load(Ordering::Relaxed)
    );
    let _ = err.flush();
    std::process::exit(i32::from(crate::error::exit::BAD_INPUT))
}

// SAFETY: every call is forwarded to the system allocator unchanged; the check only reads a
// thread-local and, past the cap, ends the process instead of allocating.
unsafe impl GlobalAlloc for CapAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cap_outside_a_guard_and_the_guard_restores() {
        let v = vec![0u8; 8 << 20];
        assert_eq!(v.len(), 8 << 20);
        {
            let _g = rendering("prompts/x.prompty");
            let small = vec![0u8; 1024];
            assert_eq!(small.len(), 1024);
        }
        assert_eq!(CAP.with(Cell::get), 0);
        let v = vec![0u8; 8 << 20];
        assert_eq!(v.len(), 8 << 20);
    }
}
