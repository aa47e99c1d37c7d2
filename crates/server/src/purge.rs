//! Rewriting, in the background, the segments that hold many deleted
//! posts (see `postsearch_store::indexer::segments_to_purge`).
//!
//! A post updated or deleted through the API leaves its old copy deleted
//! in the segment it was in, and tantivy never merges a large segment for
//! its deletes alone: a bulk-imported segment would keep the old copies of
//! every post updated since. After a write, the purge looks for segments
//! whose deleted posts are a fifth of them (and a hundredth of the index);
//! it opens the index's writer, starts rewriting those, and leaves the
//! writer in the write slot while the merge runs, so the writes that come
//! meanwhile go through it instead of waiting for the merge (a rewrite of a
//! 50,000-post segment takes seconds). Once the merge is done, the writer
//! is closed again, and an import by another process can have the index.

use crate::{spawn_engine_work, AppState};
use postsearch_store::indexer::{segments_to_purge, LockWait, ToPurge, Writer, WriterOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Looks for segments to purge after each write, for as long as the
/// server's state lives.
pub fn run_after_writes(state: &Arc<AppState>) -> tokio::task::JoinHandle<()> {
    let wake = state.purge_wake.clone();
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            // A write that ended while the last purge ran left its wake-up
            // stored: it is not missed.
            wake.notified().await;
            let Some(state) = state.upgrade() else {
                return;
            };
            if let Err(e) = purge(&state).await {
                tracing::warn!("purge of deleted posts: {e}");
            }
        }
    })
}

/// Rewrites the segments worth purging, if any (see the module's doc).
async fn purge(state: &AppState) -> Result<(), String> {
    let index = state.engine.index().clone();
    let worth = spawn_engine_work(move || segments_to_purge(&index))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if worth.segments.is_empty() {
        return Ok(());
    }
    let mut slot = state.write_lock.lock().await;
    if slot.is_some() {
        return Ok(());
    }

    // Looked for again holding the lock: a write since may have merged them.
    let index = state.engine.index().clone();
    let opened = spawn_engine_work(move || -> postsearch_store::Result<_> {
        // tantivy's merge policy stays: the writes that go through this
        // writer meanwhile have their segments merged as they come.
        let mut writer = Writer::new(&index, purge_options())?;
        let ToPurge { segments, deleted } = segments_to_purge(&index)?;
        let merges: Vec<_> = segments
            .iter()
            .map(|segment| writer.merge(std::slice::from_ref(segment)))
            .collect();
        Ok((writer, merges, segments.len(), deleted))
    })
    .await
    .map_err(|e| e.to_string())?;
    let (writer, merges, segments, deleted) = match opened {
        Ok(opened) => opened,
        // Another process (an import) holds the index: it tidies its
        // segments as it ends.
        Err(e) => {
            tracing::debug!("purge of deleted posts: not now: {e}");
            return Ok(());
        }
    };
    if merges.is_empty() {
        let _ = spawn_engine_work(move || writer.wait_for_merges()).await;
        return Ok(());
    }
    let started = Instant::now();
    let written_before = writer.committed();
    *slot = Some(writer);
    drop(slot);
    let mut failed = None;
    for merge in merges {
        if let Err(e) = merge.await {
            failed = Some(e.to_string());
        }
    }
    // The writer back, once the write using it (if any) is done.
    let mut slot = state.write_lock.lock().await;
    let written = slot
        .as_ref()
        .map_or(0, |w| w.committed().saturating_sub(written_before));
    if let Some(writer) = slot.take() {
        let _ = spawn_engine_work(move || writer.wait_for_merges()).await;
    }
    drop(slot);
    let index = state.engine.index().clone();
    let _ = spawn_engine_work(move || index.reload()).await;
    match failed {
        Some(e) => Err(format!("{segments} segment(s): {e}")),
        None => {
            tracing::info!(
                "purged {deleted} deleted posts: {segments} segment(s) rewritten in {:.1} s ({written} posts written meanwhile)",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

/// The purge's writer: one thread, and a short wait for the index's lock
/// (another process holding it is importing, and tidies as it ends).
/// It takes the writes that come while it runs: a write's options.
fn purge_options() -> WriterOptions {
    WriterOptions {
        lock_wait: LockWait::up_to(Duration::from_millis(100)),
        ..crate::write_options(Instant::now())
    }
}
