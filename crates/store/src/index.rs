//! The on-disk post index: opening or creating it, reading posts back, and
//! its statistics. Writing lives in [`crate::indexer`], searching in
//! the `postsearch-engine` crate.

use crate::analysis;
use crate::directory::IndexDirectory;
use crate::error::{Error, Result};
use crate::plugin_files::PluginFiles;
use crate::post::Post;
use crate::schema::{self, build_schema, Fields, FACET_FIELDS};
use crate::stored::StoredPost;
use crate::vocabulary::VocabularyPlugin;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use tantivy::directory::error::OpenReadError;
use tantivy::schema::document::{
    DeserializeError, DocumentDeserialize, DocumentDeserializer, ValueDeserialize,
    ValueDeserializer,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{
    DocAddress, DocSet, Index, IndexReader, IndexSettings, ReloadPolicy, Searcher, Term, Warmer,
    TERMINATED,
};

/// Bytes of posts per compressed block of the document store: a block is
/// closed once it holds more. A hit decompresses its whole block, so a
/// block holds one post (real posts are ~2 KB of JSON, half of them under
/// 1.7 KB), or a few short ones, rather than tantivy's default of 16 KB.
pub const STORE_BLOCK_SIZE: usize = 1024;

/// The default index directory, relative to the working directory.
pub const DEFAULT_INDEX_DIR: &str = "index";

/// An open post index: the tantivy index, its field handles and a reader.
#[derive(Clone)]
pub struct PostIndex {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    /// The vocabulary plugin's files of each generation the reader loads.
    plugin_files: Arc<PluginFiles>,
    path: Option<PathBuf>,
}

/// Times [`PostIndex::reload`] loads the newest commit again when the one
/// it loaded was merged away before its plugin files were opened (see
/// [`crate::plugin_files`]).
const RELOAD_ATTEMPTS: usize = 3;

/// Cores from which each indexing thread's document store is compressed by
/// a thread of its own (tantivy's default). The writer runs up to four
/// indexing threads; with fewer cores than twice that, the compressing
/// threads only take turns with them: on 2 cores, compressing on the
/// indexing thread made `index` 8% faster (realposts.py 100k).
const COMPRESSION_THREAD_MIN_CORES: usize = 8;

/// Runs `load` (loading the newest commit) again, up to
/// [`RELOAD_ATTEMPTS`] times, while it fails because a segment it opened
/// was merged away, and its files deleted, before all of them were opened.
fn passing_merged_away<T>(mut load: impl FnMut() -> tantivy::Result<T>) -> tantivy::Result<T> {
    let mut attempts = 1;
    loop {
        match load() {
            Err(tantivy::TantivyError::OpenReadError(OpenReadError::FileDoesNotExist(_)))
                if attempts < RELOAD_ATTEMPTS =>
            {
                attempts += 1
            }
            loaded => return loaded,
        }
    }
}

/// Where a post lives in the current searcher, and its content fingerprint.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    pub address: DocAddress,
    pub fingerprint: u64,
}

impl PostIndex {
    /// Opens the index in `dir` for an import, creating it (and the
    /// directory) when absent. An index of the schema before
    /// [`schema::build_schema`]'s is opened with its own (see
    /// [`schema::schema_with_indexed_values`]).
    pub fn open_or_create(dir: &Path) -> Result<PostIndex> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let schema = known_schema_in(dir).unwrap_or_else(build_schema);
        let index = IndexDirectory::open_for_import(dir)
            .and_then(|directory| Self::builder(schema).open_or_create(directory))
            .map_err(|e| match e {
                tantivy::TantivyError::SchemaError(_) => another_version(dir),
                cause => Error::Index {
                    path: dir.into(),
                    cause,
                },
            })?;
        check_analyzer(&index, dir)?;
        Self::wrap(index, Some(dir.to_path_buf()))
    }

    /// Opens an existing index; fails with a clear message if there is none.
    pub fn open(dir: &Path) -> Result<PostIndex> {
        Self::open_as(dir)
    }

    /// Opens an existing index to replace it (a rebuild holds its lock),
    /// whatever its schema and analysis.
    pub(crate) fn open_to_replace(dir: &Path) -> Result<Index> {
        IndexDirectory::open(dir)
            .and_then(Index::open)
            .map_err(|e| Error::Index {
                path: dir.into(),
                cause: e,
            })
    }

    /// Opens an existing index; one built with another schema or text
    /// analysis is refused.
    fn open_as(dir: &Path) -> Result<PostIndex> {
        if !Self::exists(dir) {
            return Err(Error::Index {
                path: dir.into(),
                cause: tantivy::TantivyError::InvalidArgument(
                    "no index here; build one with `postsearch index PATH`".into(),
                ),
            });
        }
        let index = IndexDirectory::open(dir).and_then(Index::open);
        let mut index = index.map_err(|e| Error::Index {
            path: dir.into(),
            cause: e,
        })?;
        index.register_plugin(Arc::new(VocabularyPlugin));
        if !schema::is_known(&index.schema()) {
            return Err(another_version(dir));
        }
        check_analyzer(&index, dir)?;
        Self::wrap(index, Some(dir.to_path_buf()))
    }

    /// Whether `dir` holds a committed index.
    pub fn exists(dir: &Path) -> bool {
        dir.join("meta.json").is_file()
    }

    /// A fresh index in memory (tests, evaluations).
    pub fn create_in_ram() -> Result<PostIndex> {
        Self::wrap(Self::builder(build_schema()).create_in_ram()?, None)
    }

    /// How indexes of `schema` are made and opened: the vocabulary plugin, and
    /// document-store blocks of [`STORE_BLOCK_SIZE`] bytes, compressed by
    /// the indexing thread that fills them unless the machine has cores to
    /// spare (see [`COMPRESSION_THREAD_MIN_CORES`]).
    fn builder(schema: tantivy::schema::Schema) -> tantivy::IndexBuilder {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Index::builder()
            .schema(schema)
            .register_plugin(Arc::new(VocabularyPlugin))
            .settings(IndexSettings {
                docstore_blocksize: STORE_BLOCK_SIZE,
                docstore_compress_dedicated_thread: cores >= COMPRESSION_THREAD_MIN_CORES,
                ..IndexSettings::default()
            })
    }

    fn wrap(index: Index, path: Option<PathBuf>) -> Result<PostIndex> {
        analysis::register(&index);
        let fields = Fields::new(&index.schema())?;
        // On disk, a commit by any process (the CLI while the server runs)
        // is picked up by watching meta.json; writers in this process also
        // reload explicitly after they commit.
        let policy = if path.is_some() {
            ReloadPolicy::OnCommitWithDelay
        } else {
            ReloadPolicy::Manual
        };
        let plugin_files = Arc::new(PluginFiles::default());
        let warmer: Weak<dyn Warmer> = Arc::downgrade(&plugin_files) as _;
        let reader = passing_merged_away(|| {
            index
                .reader_builder()
                .reload_policy(policy)
                .warmers(vec![warmer.clone()])
                .try_into()
        })?;
        Ok(PostIndex {
            index,
            fields,
            reader,
            plugin_files,
            path,
        })
    }

    /// The tantivy index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The field handles.
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// The reader shared by searches.
    pub fn reader(&self) -> &IndexReader {
        &self.reader
    }

    /// A searcher on the last reloaded commit.
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// The directory of the index (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The vocabulary plugin's files of the generations the reader loads
    /// (see [`PluginFiles::of`]).
    pub fn plugin_files(&self) -> Arc<PluginFiles> {
        self.plugin_files.clone()
    }

    /// Makes the last commit visible to the next searcher. A commit whose
    /// segments a merge replaced while it was being loaded is passed over
    /// for the newer one.
    pub fn reload(&self) -> Result<()> {
        Ok(passing_merged_away(|| self.reader.reload())?)
    }

    /// Finds the live document holding post `id`.
    pub fn locate(&self, searcher: &Searcher, id: &str) -> Result<Option<Located>> {
        let term = Term::from_field_text(self.fields.id, id);
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let inverted = segment.inverted_index(self.fields.id)?;
            let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)?
            else {
                continue;
            };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if !segment.is_deleted(doc) {
                    let fingerprint = segment
                        .fast_fields()
                        .u64("fingerprint")?
                        .first(doc)
                        .unwrap_or(0);
                    return Ok(Some(Located {
                        address: DocAddress::new(ord as u32, doc),
                        fingerprint,
                    }));
                }
                doc = postings.advance();
            }
        }
        Ok(None)
    }

    /// The stored post at `address`.
    pub fn post_at(&self, searcher: &Searcher, address: DocAddress) -> Result<Post> {
        let json = self.stored_json(searcher, address)?;
        serde_json::from_str(&json).map_err(unparsable)
    }

    /// The fields a search hit shows of the post at `address` (see
    /// [`crate::stored::hit_post_of`]), the body and summary with `text`.
    pub fn hit_post_at(
        &self,
        searcher: &Searcher,
        address: DocAddress,
        text: bool,
    ) -> Result<Post> {
        crate::stored::hit_post_of(self.stored_json(searcher, address)?, text).map_err(unparsable)
    }

    /// The stored post at `address`, its fields located but not decoded.
    pub fn stored_at(&self, searcher: &Searcher, address: DocAddress) -> Result<StoredPost> {
        StoredPost::parse(self.stored_json(searcher, address)?).map_err(unparsable)
    }

    fn stored_json(&self, searcher: &Searcher, address: DocAddress) -> Result<String> {
        Ok(searcher.doc::<StoredJson>(address)?.source()?)
    }

    /// Hands the stored JSON of every live post, as it came in, to `f`,
    /// segment by segment in index order; stops at `f`'s first error.
    pub fn for_each_stored(&self, mut f: impl FnMut(&str) -> Result<()>) -> Result<u64> {
        let searcher = self.searcher();
        let mut n = 0;
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            for doc in segment.doc_ids_alive() {
                let json = self.stored_json(&searcher, DocAddress::new(ord as u32, doc))?;
                f(&json)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// The stored post with this id, as it came in.
    pub fn get(&self, id: &str) -> Result<Post> {
        let searcher = self.searcher();
        match self.locate(&searcher, id)? {
            Some(found) => self.post_at(&searcher, found.address),
            None => Err(Error::NotFound(id.to_string())),
        }
    }

    /// The stored post with this id, fields located but not decoded.
    pub fn get_stored(&self, id: &str) -> Result<StoredPost> {
        let searcher = self.searcher();
        match self.locate(&searcher, id)? {
            Some(found) => self.stored_at(&searcher, found.address),
            None => Err(Error::NotFound(id.to_string())),
        }
    }

    /// Documents, segments, size on disk and facet cardinalities.
    pub fn stats(&self) -> Result<IndexStats> {
        let searcher = self.searcher();
        let mut facets = BTreeMap::new();
        for name in FACET_FIELDS {
            let field = self.fields.facet(name).expect("facet field");
            let mut values = std::collections::BTreeSet::new();
            for segment in searcher.segment_readers() {
                let inverted = segment.inverted_index(field)?;
                let mut stream = inverted.terms().stream()?;
                while stream.advance() {
                    values.insert(stream.key().to_vec());
                }
            }
            facets.insert(name.to_string(), values.len());
        }
        let size_bytes = match &self.path {
            Some(p) => dir_size(p),
            None => 0,
        };
        Ok(IndexStats {
            documents: searcher.num_docs(),
            segments: searcher.segment_readers().len(),
            deleted: deleted_posts(&searcher),
            size_bytes,
            facets,
            path: self.path.as_ref().map(|p| p.display().to_string()),
        })
    }
}

/// The deleted posts `searcher`'s segments still hold (the old copies of
/// updated posts until a merge drops them).
pub fn deleted_posts(searcher: &Searcher) -> u64 {
    searcher
        .segment_readers()
        .iter()
        .map(|s| u64::from(s.num_deleted_docs()))
        .sum()
}

/// What `postsearch stats` reports.
#[derive(Debug, Clone, Serialize)]
pub struct IndexStats {
    pub documents: u64,
    pub segments: usize,
    /// Deleted documents not yet merged away.
    pub deleted: u64,
    pub size_bytes: u64,
    /// Distinct values per facet field.
    pub facets: BTreeMap<String, usize>,
    pub path: Option<String>,
}

fn dir_size(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// A stored post that is not valid post JSON (a corrupt index).
pub fn unparsable(e: serde_json::Error) -> Error {
    Error::Tantivy(tantivy::TantivyError::InternalError(format!(
        "stored post does not parse: {e}"
    )))
}

/// A stored document read as its only stored field, the post's JSON,
/// without building a generic tantivy document first.
pub(crate) struct StoredJson(Option<String>);

impl StoredJson {
    /// The post's JSON; an error if the document stores none.
    pub(crate) fn source(self) -> tantivy::Result<String> {
        self.0.ok_or_else(|| {
            tantivy::TantivyError::InternalError("stored document has no source".into())
        })
    }
}

/// A stored string value (the schema stores nothing else).
struct StoredString(String);

impl ValueDeserialize for StoredString {
    fn deserialize<'de, D>(deserializer: D) -> std::result::Result<Self, DeserializeError>
    where
        D: ValueDeserializer<'de>,
    {
        deserializer.deserialize_string().map(StoredString)
    }
}

impl DocumentDeserialize for StoredJson {
    fn deserialize<'de, D>(mut deserializer: D) -> std::result::Result<Self, DeserializeError>
    where
        D: DocumentDeserializer<'de>,
    {
        let mut json = None;
        while let Some((_, StoredString(value))) = deserializer.next_field::<StoredString>()? {
            json = json.or(Some(value));
        }
        Ok(StoredJson(json))
    }
}

/// What each commit records beside its segments: the fingerprint of the
/// text analysis it was built with ([`crate::analysis::fingerprint`]).
pub fn commit_payload() -> String {
    serde_json::json!({ "analyzer": crate::analysis::fingerprint() }).to_string()
}

/// The schema recorded in `dir`'s `meta.json`, if there is one and this
/// version reads and writes indexes of it.
fn known_schema_in(dir: &Path) -> Option<tantivy::schema::Schema> {
    #[derive(serde::Deserialize)]
    struct Meta {
        schema: tantivy::schema::Schema,
    }
    let text = std::fs::read_to_string(dir.join("meta.json")).ok()?;
    let meta: Meta = serde_json::from_str(&text).ok()?;
    schema::is_known(&meta.schema).then_some(meta.schema)
}

/// The refusal of an index whose schema is not this version's.
fn another_version(dir: &Path) -> Error {
    Error::Index {
        path: dir.into(),
        cause: tantivy::TantivyError::SchemaError(
            "this index was built by another version of postsearch; \
             rebuild it from the posts: `postsearch index --rebuild PATH`"
                .into(),
        ),
    }
}

/// Fails when the last commit of `index` was analyzed unlike this build
/// does: its terms would not be the terms of the queries. An index whose
/// commits record nothing (made before fingerprints) is taken as it is.
fn check_analyzer(index: &Index, dir: &Path) -> Result<()> {
    let metas = index.load_metas().map_err(|e| Error::Index {
        path: dir.into(),
        cause: e,
    })?;
    let Some(payload) = metas.payload else {
        return Ok(());
    };
    let recorded = serde_json::from_str::<serde_json::Value>(&payload)
        .ok()
        .and_then(|v| v["analyzer"].as_str().map(str::to_string));
    let ours = crate::analysis::fingerprint();
    match recorded {
        Some(theirs) if theirs != ours => Err(Error::Index {
            path: dir.into(),
            cause: tantivy::TantivyError::SchemaError(format!(
                "built with another text analysis (analyzer {theirs}; this postsearch's is \
                 {ours}): its words would not match the queries'. Rebuild it from the posts: \
                 `postsearch index --rebuild PATH` (or `postsearch export` with the old \
                 version first)"
            )),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indexer::{Writer, WriterOptions};
    use crate::post::Post;

    #[test]
    fn an_index_of_the_schema_before_is_imported_into_with_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let before = crate::schema::schema_with_indexed_values();
        Index::builder()
            .schema(before.clone())
            .register_plugin(Arc::new(VocabularyPlugin))
            .create_in_dir(dir.path())
            .unwrap();
        for round in 0..2 {
            let index = PostIndex::open_or_create(dir.path()).unwrap();
            assert_eq!(index.index().schema(), before);
            let mut w = Writer::new(&index, WriterOptions::one_thread()).unwrap();
            w.upsert(crate::generated_post(7, round)).unwrap();
            w.finish().unwrap();
        }
        let index = PostIndex::open(dir.path()).unwrap();
        assert_eq!(index.index().schema(), before);
        assert_eq!(index.searcher().num_docs(), 2);
        // A new folder gets the current schema.
        let fresh = tempfile::tempdir().unwrap();
        let index = PostIndex::open_or_create(&fresh.path().join("new")).unwrap();
        assert_eq!(index.index().schema(), build_schema());
    }

    #[test]
    fn an_index_of_another_schema_is_refused_with_the_command_that_rebuilds_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut schema = tantivy::schema::Schema::builder();
        schema.add_text_field("words", tantivy::schema::TEXT);
        Index::create_in_dir(dir.path(), schema.build()).unwrap();
        for text in refusals(dir.path()) {
            assert!(
                text.contains("another version") && text.contains("index --rebuild"),
                "{text}"
            );
        }
    }

    /// Why `open` and `open_or_create` refuse the index in `dir`.
    fn refusals(dir: &Path) -> [String; 2] {
        [
            PostIndex::open(dir)
                .err()
                .expect("open refuses")
                .to_string(),
            PostIndex::open_or_create(dir)
                .err()
                .expect("open_or_create refuses")
                .to_string(),
        ]
    }

    #[test]
    fn commits_record_the_analyzer_and_another_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut meta = one_post_index(dir.path());
        let meta_path = dir.path().join("meta.json");
        let payload = meta["payload"].as_str().unwrap().to_string();
        assert!(
            payload.contains(&crate::analysis::fingerprint()),
            "{payload}"
        );
        PostIndex::open(dir.path()).unwrap();
        // As an index built by a version that stemmed differently.
        meta["payload"] = serde_json::json!(r#"{"analyzer":"v1-0000000000000000"}"#);
        std::fs::write(&meta_path, meta.to_string()).unwrap();
        for text in refusals(dir.path()) {
            assert!(
                text.contains("another text analysis") && text.contains("--rebuild"),
                "{text}"
            );
        }
        // An index that records nothing is opened as it is.
        meta.as_object_mut().unwrap().remove("payload");
        std::fs::write(&meta_path, meta.to_string()).unwrap();
        PostIndex::open(dir.path()).unwrap();
    }

    /// An index of one post committed in `dir`, and its meta.json.
    fn one_post_index(dir: &Path) -> serde_json::Value {
        let index = PostIndex::open_or_create(dir).unwrap();
        let mut w = Writer::new(&index, WriterOptions::one_thread()).unwrap();
        w.upsert(Post::new("a", "a title")).unwrap();
        w.finish().unwrap();
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap()
    }

    #[test]
    fn new_indexes_close_store_blocks_past_a_kb() {
        let dir = tempfile::tempdir().unwrap();
        let meta = one_post_index(dir.path());
        // What a reader of the index on disk finds: blocks of 1 KB, so a
        // hit decompresses its own post and not its neighbours.
        assert_eq!(meta["index_settings"]["docstore_blocksize"], 1024);
        let reopened = PostIndex::open(dir.path()).unwrap();
        assert_eq!(reopened.index().settings().docstore_blocksize, 1024);
    }

    #[test]
    fn the_fingerprint_is_stable() {
        assert_eq!(
            crate::analysis::fingerprint(),
            crate::analysis::fingerprint()
        );
        assert!(crate::analysis::fingerprint().starts_with("v1-"));
    }
}
