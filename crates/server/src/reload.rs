//! Files the server reads again when they change, without a restart: the
//! synonym file. It is checked every [`CHECK_EVERY`]; a file that cannot be
//! read or understood is reported in the log and the rules in use are kept.

use postsearch_engine::{Engine, Synonyms};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How often the synonym file is checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Where the synonym rules come from (`[search]` in `postsearch.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynonymSource {
    /// The built-in rules.
    pub builtin: bool,
    /// A file overlaid on them, read again whenever it changes.
    pub file: Option<PathBuf>,
}

impl Default for SynonymSource {
    fn default() -> Self {
        SynonymSource {
            builtin: true,
            file: None,
        }
    }
}

/// What identifies a version of a file: its modification time and size
/// (`None` when it cannot be read).
fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Watches the synonym file of `source` (if any) and gives `engine` its new
/// rules whenever it changes. Runs until the runtime stops.
pub fn watch_synonyms(engine: Engine, source: SynonymSource) {
    let Some(path) = source.file.clone() else {
        return;
    };
    tokio::spawn(async move {
        let mut seen = stamp(&path);
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            let now = stamp(&path);
            if now == seen {
                continue;
            }
            seen = now;
            let (path, builtin) = (path.clone(), source.builtin);
            let loaded =
                tokio::task::spawn_blocking(move || Synonyms::configured(builtin, Some(&path)))
                    .await;
            match loaded {
                Ok(Ok(rules)) => {
                    tracing::info!(
                        rules = rules.len(),
                        "synonyms reloaded from {}",
                        path_of(&source).display()
                    );
                    engine.set_synonyms(rules);
                }
                Ok(Err(e)) => {
                    tracing::error!("synonyms not reloaded, the rules in use are kept: {e}")
                }
                Err(e) => tracing::error!("synonyms not reloaded: {e}"),
            }
        }
    });
}

fn path_of(source: &SynonymSource) -> &std::path::Path {
    source.file.as_deref().unwrap_or(std::path::Path::new(""))
}
