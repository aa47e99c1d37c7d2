//! Keeps the index pages mapped into the server within
//! `server.max_mapped_mb`: every page a search touches stays in the
//! server's resident set otherwise, up to the size of the index (see
//! `postsearch_store::mapped`).

use postsearch_store::mapped;
use std::path::PathBuf;
use std::sync::Weak;
use std::time::Duration;

/// How often the resident file-backed memory is read (a read of
/// `/proc/self/status`): under 32 connections on a 1M-post index, searches
/// touch ~200 MB of new pages a second.
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// Checks, every [`CHECK_EVERY`] while `alive` has an owner, the
/// file-backed memory resident in the process, and drops its mappings of
/// the pages of `index_dir` when it passes `budget_bytes`: of the postings
/// and stored posts, and of the rest too when that is not enough. A thread
/// of its own, not a task: on a busy server the async workers share the
/// cores with the searches, and a timer task ran ten times late. Where the
/// system does not tell the resident memory, does nothing.
pub fn bound_mapped_pages<T: Send + Sync + 'static>(
    index_dir: PathBuf,
    budget_bytes: u64,
    alive: Weak<T>,
) {
    let watch = move || {
        while alive.strong_count() > 0 {
            std::thread::sleep(CHECK_EVERY);
            let Some(resident) = mapped::resident_file_bytes() else {
                return;
            };
            if resident <= budget_bytes {
                continue;
            }
            // Postings and stored posts first; everything when that was not
            // enough.
            let released = mapped::release(&index_dir, mapped::Pages::Searched).and_then(|b| {
                if mapped::resident_file_bytes().is_some_and(|now| now > budget_bytes) {
                    Ok(b + mapped::release(&index_dir, mapped::Pages::All)?)
                } else {
                    Ok(b)
                }
            });
            match released {
                Ok(bytes) => tracing::debug!(
                    "mapped index pages released: {} MiB resident, {} MiB of mappings",
                    resident >> 20,
                    bytes >> 20
                ),
                Err(e) => {
                    tracing::warn!(
                        "cannot release mapped index pages ({e}); server.max_mapped_mb is not kept"
                    );
                    return;
                }
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("postsearch-memory".into())
        .spawn(watch)
    {
        tracing::warn!(
            "cannot start the mapped-pages watcher ({e}); server.max_mapped_mb is not kept"
        );
    }
}
