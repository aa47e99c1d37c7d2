//! How long one request's work may run, checked inside the engine's loops.
//!
//! A [`Budget`] is a deadline and a [`Cancel`] flag. The caller (the HTTP
//! server, for one request) runs the engine call inside [`Budget::enter`];
//! the engine's loops (the collectors over matching documents, phrase
//! matching, word expansions, snippets, the queries of a multi-search) call
//! [`check`] every so often and stop with [`Error::Interrupted`] once the
//! deadline passed or the flag is set (the client went away, the server
//! answered `timeout`). Work outside any budget (the CLI) runs unbounded.
//!
//! The budget lives in a thread-local, so that tantivy's callbacks, which
//! cannot carry it, still see it; [`current`] hands it to the threads a
//! split search runs on. Code that answers tantivy's error type stops with
//! [`check_tantivy`]; the interruption is [`Error::Interrupted`] again once
//! converted back.

use postsearch_store::error::{Error, Result};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// How many documents (or candidates) the loops handle between checks: a
/// check costs a thread-local read and, with a deadline, a clock read.
pub const CHECK_EVERY: u32 = 1024;

/// A flag that stops the work of a [`Budget`] holding it; cloned by
/// whoever may want to stop it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag not set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Stops the work: its next [`check`] fails.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The deadline and the cancel flag of one request's work.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    deadline: Option<Instant>,
    cancel: Cancel,
}

impl Budget {
    /// Work that must end by `deadline` (`None`: no deadline) or when
    /// `cancel` is set.
    pub fn new(deadline: Option<Instant>, cancel: Cancel) -> Budget {
        Budget { deadline, cancel }
    }

    /// Runs `f` with this budget as the thread's current one (the previous
    /// one comes back after).
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Budget>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = previous);
            }
        }
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        f()
    }

    /// Why the work must stop, if it must.
    pub fn stop_reason(&self) -> Option<&'static str> {
        if self.cancel.is_cancelled() {
            Some("the request was cancelled (its client went away or its time was up)")
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some("the request's time limit passed")
        } else {
            None
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// The budget of the work running on this thread, to pass to the threads
/// it hands work to.
pub fn current() -> Option<Budget> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Whether the work running on this thread must stop.
pub fn exhausted() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().and_then(Budget::stop_reason).is_some())
}

/// Fails with [`Error::Interrupted`] if the work running on this thread
/// must stop.
pub fn check() -> Result<()> {
    let reason = CURRENT.with(|c| c.borrow().as_ref().and_then(Budget::stop_reason));
    match reason {
        Some(reason) => Err(Error::Interrupted(reason.to_string())),
        None => Ok(()),
    }
}

/// [`check`] for code that answers tantivy's error type (scorers, weights,
/// collectors); the interruption becomes [`Error::Interrupted`] again when
/// converted back (see [`Error::into_tantivy`]).
pub fn check_tantivy() -> tantivy::Result<()> {
    check().map_err(Error::into_tantivy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn checks_pass_outside_a_budget_and_inside_an_unspent_one() {
        assert!(check().is_ok());
        let budget = Budget::new(
            Some(Instant::now() + Duration::from_secs(60)),
            Cancel::new(),
        );
        budget.enter(|| assert!(check().is_ok()));
    }

    #[test]
    fn a_cancelled_or_late_budget_stops_the_work_and_only_while_entered() {
        let cancel = Cancel::new();
        let budget = Budget::new(None, cancel.clone());
        cancel.cancel();
        let err = budget.enter(check).unwrap_err();
        assert!(matches!(err, Error::Interrupted(_)), "{err}");
        assert!(check().is_ok(), "the budget is left behind with its scope");
        let late = Budget::new(Some(Instant::now()), Cancel::new());
        assert!(late.enter(exhausted));
    }

    #[test]
    fn an_interruption_survives_a_trip_through_tantivys_error() {
        let budget = Budget::new(Some(Instant::now()), Cancel::new());
        let e = budget.enter(check_tantivy).unwrap_err();
        assert!(matches!(Error::from(e), Error::Interrupted(_)));
        let other = tantivy::TantivyError::InternalError("disk".into());
        assert!(matches!(Error::from(other), Error::Tantivy(_)));
    }
}
