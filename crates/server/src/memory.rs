//! Keeps the index pages mapped into the server within
//! `server.max_mapped_mb`: every page a search touches stays in the
//! server's resident set otherwise, up to the size of the index (see
//! `postsearch_store::mapped`).

use postsearch_store::mapped;
use std::path::PathBuf;
use std::time::Duration;

/// How often the resident file-backed memory is read (a read of
/// `/proc/self/status`).
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// Checks, every [`CHECK_EVERY`] while the server runs, the file-backed
/// memory resident in the process, and drops its mappings of the pages of
/// `index_dir` when it passes `budget_bytes`: of the postings, and of the
/// rest too when that is not enough. Where the system does not tell the
/// resident memory, does nothing.
pub fn bound_mapped_pages(index_dir: PathBuf, budget_bytes: u64) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CHECK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(resident) = mapped::resident_file_bytes() else {
                return;
            };
            if resident <= budget_bytes {
                continue;
            }
            let dir = index_dir.clone();
            // Postings first; everything when that was not enough.
            let released = tokio::task::spawn_blocking(move || {
                let mut bytes = mapped::release(&dir, mapped::Pages::Postings)?;
                if mapped::resident_file_bytes().is_some_and(|now| now > budget_bytes) {
                    bytes += mapped::release(&dir, mapped::Pages::All)?;
                }
                Ok::<u64, std::io::Error>(bytes)
            });
            match released.await {
                Ok(Ok(bytes)) => tracing::debug!(
                    "mapped index pages released: {} MiB resident, {} MiB of mappings",
                    resident >> 20,
                    bytes >> 20
                ),
                Ok(Err(e)) => {
                    tracing::warn!(
                        "cannot release mapped index pages ({e}); server.max_mapped_mb is not kept"
                    );
                    return;
                }
                Err(_) => return,
            }
        }
    });
}
