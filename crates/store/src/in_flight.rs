//! A bound on the documents handed to tantivy's writer and not yet indexed.
//!
//! tantivy's writer queues up to 10,000 documents for its indexing threads.
//! An import reads and parses posts far faster than they are indexed (a
//! tenth of the work), so that queue stays full: 10,000 posts with their
//! texts and stored JSON, tens of MB, allocated by the reading thread and
//! freed by the indexing threads. Memory that many posts take is fresh
//! pages for the reading thread, each zeroed by the kernel as it is first
//! touched. Kept to a few hundred posts, the reader reuses the same memory
//! over and over.
//!
//! The bound is soft: a reader that has waited `STALL` without the count
//! going down (the indexing threads writing a segment, or stopped on an
//! error) goes on, so it can never wait on a writer that will not index;
//! tantivy's own queue still bounds it, and its errors still surface.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Most documents in flight before a reader waits.
const MAX_IN_FLIGHT: usize = 512;
/// A waiting reader goes on once the count is down to this: it wakes once
/// for this many documents indexed, not for each.
const RESUME_AT: usize = MAX_IN_FLIGHT / 2;
/// Longest wait without the count going down.
const STALL: Duration = Duration::from_millis(500);

/// The count of documents in flight, shared by the reader and the tickets
/// the documents carry.
#[derive(Debug, Default)]
pub struct InFlight {
    state: Mutex<State>,
    drained: Condvar,
}

#[derive(Debug, Default)]
struct State {
    count: usize,
    /// Readers waiting now.
    waiting: usize,
}

impl InFlight {
    /// A new, empty count.
    pub fn new() -> Arc<InFlight> {
        Arc::new(InFlight::default())
    }

    /// Waits while `MAX_IN_FLIGHT` documents are in flight (see the
    /// module's documentation for how long), then counts one more: the
    /// ticket counts it out when it is dropped.
    pub fn enter(self: &Arc<InFlight>) -> Ticket {
        let mut state = self.lock();
        if state.count >= MAX_IN_FLIGHT {
            state.waiting += 1;
            loop {
                let before = state.count;
                let (guard, waited) = self
                    .drained
                    .wait_timeout_while(state, STALL, |s| s.count > RESUME_AT)
                    .unwrap_or_else(|e| e.into_inner());
                state = guard;
                if !waited.timed_out() || state.count >= before {
                    break;
                }
            }
            state.waiting -= 1;
        }
        state.count += 1;
        Ticket(Arc::clone(self))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One document in flight; dropping it (tantivy drops a document once it
/// is indexed) counts it out.
#[derive(Debug)]
pub struct Ticket(Arc<InFlight>);

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.count -= 1;
        if state.count == RESUME_AT && state.waiting > 0 {
            self.0.drained.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_reader_waits_at_the_bound_until_half_is_indexed() {
        let gate = InFlight::new();
        let mut tickets: Vec<Ticket> = (0..MAX_IN_FLIGHT).map(|_| gate.enter()).collect();
        assert_eq!(gate.lock().count, MAX_IN_FLIGHT);
        let (done, entered) = mpsc::channel();
        let reader = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                let ticket = gate.enter();
                done.send(()).unwrap();
                ticket
            })
        };
        while gate.lock().waiting == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Not while only a few documents were indexed.
        tickets.truncate(MAX_IN_FLIGHT - 10);
        assert!(entered.recv_timeout(Duration::from_millis(100)).is_err());
        tickets.truncate(RESUME_AT);
        entered
            .recv_timeout(Duration::from_secs(5))
            .expect("the reader goes on once half is indexed");
        let ticket = reader.join().unwrap();
        assert_eq!(gate.lock().count, RESUME_AT + 1);
        drop(ticket);
        drop(tickets);
        assert_eq!(gate.lock().count, 0);
    }

    #[test]
    fn a_reader_never_waits_on_a_writer_that_does_not_index() {
        let gate = InFlight::new();
        let _tickets: Vec<Ticket> = (0..MAX_IN_FLIGHT).map(|_| gate.enter()).collect();
        let started = std::time::Instant::now();
        let _one_more = gate.enter();
        assert!(started.elapsed() >= STALL);
        assert_eq!(gate.lock().count, MAX_IN_FLIGHT + 1);
    }
}
