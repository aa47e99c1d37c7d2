//! Configuration, layered: built-in defaults < `postsearch.toml` <
//! `POSTSEARCH_*` environment variables < command-line flags. Every value
//! remembers which layer set it, so `postsearch config` can show where each
//! came from and two deployments can be compared line by line.
//!
//! Environment names are the key path in upper case with `_` for `.`:
//! `server.addr` ← `POSTSEARCH_SERVER_ADDR`, `ranking.meta_weight` ←
//! `POSTSEARCH_RANKING_META_WEIGHT`. `POSTSEARCH_INDEX` is a short alias of
//! `POSTSEARCH_INDEX_DIR`. Lists in the environment are comma-separated.

use postsearch_engine::{EngineOptions, Limits, RankingConfig, Synonyms};
use postsearch_server::{
    AnalyticsConfig, RequestLimits, ServeOptions, ServerConfig, SynonymSource,
};
use postsearch_store::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The default configuration file, looked for in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "postsearch.toml";

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub index: IndexConfig,
    pub server: ServerConfig,
    pub limits: LimitsConfig,
    pub ranking: RankingConfig,
    pub search: SearchConfig,
    pub analytics: AnalyticsConfig,
}

/// `[search]`: what searches apply besides the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// A synonym file (see docs/synonyms.md), overlaid on the built-in
    /// rules; a relative path is taken from the configuration file's
    /// folder. `serve` reads it again whenever it changes. Empty: none.
    pub synonyms: PathBuf,
    /// The built-in synonyms of common technical abbreviations.
    pub builtin_synonyms: bool,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            synonyms: PathBuf::new(),
            builtin_synonyms: true,
        }
    }
}

impl SearchConfig {
    /// The synonym file, if one is set.
    pub fn synonyms_file(&self) -> Option<&Path> {
        (!self.synonyms.as_os_str().is_empty()).then_some(self.synonyms.as_path())
    }

    /// The synonym rules this configuration sets.
    pub fn synonyms(&self) -> Result<Synonyms> {
        Synonyms::configured(self.builtin_synonyms, self.synonyms_file()).map_err(Error::Config)
    }
}

/// `[index]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    /// Index directory.
    pub dir: PathBuf,
    /// Writer memory budget in MB.
    pub writer_budget_mb: usize,
    /// Threads one search may be split over while cores are idle (0: one
    /// per core; 1: never split).
    pub search_threads: usize,
    /// Seconds `index` and `delete` wait for the index's write lock while
    /// another process holds it (a server rewriting a segment holds it for
    /// seconds), before failing.
    pub lock_wait_secs: u64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            dir: PathBuf::from(postsearch_store::index::DEFAULT_INDEX_DIR),
            writer_budget_mb: postsearch_store::indexer::DEFAULT_WRITER_BUDGET >> 20,
            search_threads: 0,
            lock_wait_secs: postsearch_store::indexer::DEFAULT_LOCK_WAIT.as_secs(),
        }
    }
}

/// `[limits]`: the engine's limits of one request and the server's limits
/// of one HTTP request, in one section of the file. The defaults are the
/// crates' own ([`Limits`], [`RequestLimits`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Longest `q`, in bytes.
    pub max_query_bytes: usize,
    /// Largest `limit`.
    pub max_limit: usize,
    /// Largest `offset`.
    pub max_offset: usize,
    /// Most words, phrases and filters in one query.
    pub max_query_terms: usize,
    /// Most words in one quoted phrase.
    pub max_phrase_words: usize,
    /// Most facets one search counts or selects.
    pub max_facets: usize,
    /// Most searches in one multi-search.
    pub max_multi_search_queries: usize,
    /// Longest highlight tag or crop marker, in bytes.
    pub max_tag_bytes: usize,
    /// Largest crop, in words.
    pub max_crop_words: usize,
    /// Largest request body of a write (POST /api/posts), in bytes.
    pub max_body_bytes: u64,
    /// Largest body of any other request (a `/meili` search), in bytes.
    pub max_search_body_bytes: u64,
    /// Time limit of one request, in milliseconds.
    pub request_timeout_ms: u64,
    /// Requests served at once; more wait in line.
    pub max_concurrent_requests: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let (engine, requests) = (Limits::default(), RequestLimits::default());
        LimitsConfig {
            max_query_bytes: engine.max_query_bytes,
            max_limit: engine.max_limit,
            max_offset: engine.max_offset,
            max_query_terms: engine.max_query_terms,
            max_phrase_words: engine.max_phrase_words,
            max_facets: engine.max_facets,
            max_multi_search_queries: engine.max_multi_search_queries,
            max_tag_bytes: engine.max_tag_bytes,
            max_crop_words: engine.max_crop_words,
            max_body_bytes: requests.max_body_bytes,
            max_search_body_bytes: requests.max_search_body_bytes,
            request_timeout_ms: requests.request_timeout_ms,
            max_concurrent_requests: requests.max_concurrent_requests,
        }
    }
}

impl LimitsConfig {
    /// The engine's part.
    pub fn engine(&self) -> Limits {
        Limits {
            max_query_bytes: self.max_query_bytes,
            max_limit: self.max_limit,
            max_offset: self.max_offset,
            max_query_terms: self.max_query_terms,
            max_phrase_words: self.max_phrase_words,
            max_facets: self.max_facets,
            max_multi_search_queries: self.max_multi_search_queries,
            max_tag_bytes: self.max_tag_bytes,
            max_crop_words: self.max_crop_words,
        }
    }

    /// The HTTP server's part.
    pub fn requests(&self) -> RequestLimits {
        RequestLimits {
            max_body_bytes: self.max_body_bytes,
            max_search_body_bytes: self.max_search_body_bytes,
            request_timeout_ms: self.request_timeout_ms,
            max_concurrent_requests: self.max_concurrent_requests,
        }
    }
}

impl Config {
    /// How the engine is set up: ranking, limits and threads. Every engine
    /// the binary makes (search, bench, serve) is made from this.
    /// Fails when the synonym file cannot be read or understood.
    pub fn engine_options(&self) -> Result<EngineOptions> {
        Ok(EngineOptions {
            ranking: self.ranking.clone(),
            limits: self.limits.engine(),
            search_threads: self.index.search_threads,
            synonyms: self.search.synonyms()?,
        })
    }

    /// What `serve` needs. Fails when the synonym file or the write token
    /// file cannot be read.
    pub fn serve_options(&self) -> Result<ServeOptions> {
        let mut server = self.server.clone();
        if !server.write_token_file.as_os_str().is_empty() {
            server.write_token = read_token(&server.write_token_file)?;
        }
        Ok(ServeOptions {
            index_dir: self.index.dir.clone(),
            writer_budget_bytes: self.index.writer_budget_mb << 20,
            server,
            requests: self.limits.requests(),
            engine: self.engine_options()?,
            synonyms: SynonymSource {
                builtin: self.search.builtin_synonyms,
                file: self.search.synonyms_file().map(Path::to_path_buf),
            },
            analytics: self.analytics.clone(),
        })
    }
}

/// The write token in `path`: its first line, trimmed; an empty one is an
/// error (it would disable writes without saying so).
fn read_token(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Config(format!(
            "server.write_token_file {}: cannot read: {e}",
            path.display()
        ))
    })?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(Error::Config(format!(
            "server.write_token_file {}: the file is empty",
            path.display()
        )));
    }
    Ok(token)
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Default,
    File(String),
    Env(String),
    Flag(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::File(p) => write!(f, "file {p}"),
            Origin::Env(v) => write!(f, "env {v}"),
            Origin::Flag(v) => write!(f, "flag {v}"),
        }
    }
}

/// A configuration with the origin of every value.
#[derive(Debug, Clone)]
pub struct Effective {
    pub config: Config,
    /// `section.key` → origin.
    pub origins: BTreeMap<String, Origin>,
    /// `section.key` → value, as TOML text.
    values: BTreeMap<String, String>,
    /// `POSTSEARCH_*` variables that name no setting (a typo, most often).
    pub unknown_env: Vec<String>,
}

/// `POSTSEARCH_*` variables that are not settings but are read elsewhere:
/// the log format (a flag's variable), the tests' and benchmarks' own.
const OTHER_VARIABLES: [&str; 8] = [
    "POSTSEARCH_LOG_FORMAT",
    "POSTSEARCH_CONFIG",
    "POSTSEARCH_BIN",
    "POSTSEARCH_BINARY",
    "POSTSEARCH_URL",
    "POSTSEARCH_CRASH_",
    "POSTSEARCH_CONCURRENCY_",
    "POSTSEARCH_BENCH_",
];

/// Builds a configuration layer by layer.
pub struct Loader {
    table: Table,
    origins: BTreeMap<String, Origin>,
    unknown_env: Vec<String>,
}

impl Default for Loader {
    fn default() -> Self {
        Self::new()
    }
}

impl Loader {
    /// Starts from the built-in defaults.
    pub fn new() -> Loader {
        let table = Table::try_from(Config::default()).expect("defaults serialize");
        let mut origins = BTreeMap::new();
        for (section, keys) in &table {
            if let Some(keys) = keys.as_table() {
                for key in keys.keys() {
                    origins.insert(format!("{section}.{key}"), Origin::Default);
                }
            }
        }
        Loader {
            table,
            origins,
            unknown_env: Vec::new(),
        }
    }

    /// Overlays a TOML file. `required`: a missing file is an error (an
    /// explicit `--config`); otherwise it is skipped.
    pub fn file(mut self, path: &Path, required: bool) -> Result<Loader> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(self),
            Err(e) => return Err(Error::io(path, e)),
        };
        let file: Table =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        for (section, keys) in file {
            let Some(keys) = keys.as_table() else {
                return Err(Error::Config(format!(
                    "{}: `{section}` must be a [section]",
                    path.display()
                )));
            };
            for (key, value) in keys {
                let value = match (section.as_str(), key.as_str(), value) {
                    // A file named in a file is found from that file's folder.
                    ("search", "synonyms", Value::String(p))
                        if !p.is_empty() && Path::new(p).is_relative() =>
                    {
                        let base = path.parent().unwrap_or(Path::new(""));
                        Value::String(base.join(p).display().to_string())
                    }
                    (_, _, v) => v.clone(),
                };
                self.set(
                    &section,
                    key,
                    value,
                    Origin::File(path.display().to_string()),
                )?;
            }
        }
        Ok(self)
    }

    /// Overlays `POSTSEARCH_*` variables from `vars`.
    pub fn env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<Loader> {
        let mut known: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (section, keys) in &self.table {
            if let Some(keys) = keys.as_table() {
                for key in keys.keys() {
                    let name = format!("POSTSEARCH_{section}_{key}").to_uppercase();
                    known.insert(name, (section.clone(), key.clone()));
                }
            }
        }
        known.insert("POSTSEARCH_INDEX".into(), ("index".into(), "dir".into()));
        for (name, raw) in vars {
            if !known.contains_key(&name)
                && name.starts_with("POSTSEARCH_")
                && !OTHER_VARIABLES
                    .iter()
                    .any(|o| name == *o || (o.ends_with('_') && name.starts_with(o)))
            {
                self.unknown_env.push(name.clone());
            }
            if let Some((section, key)) = known.get(&name) {
                let value = self.parse_like(section, key, &raw, &name)?;
                self.set(section, key, value, Origin::Env(name.clone()))?;
            }
        }
        Ok(self)
    }

    /// Overlays one command-line flag, given as its `section.key` path.
    pub fn flag(mut self, path: &str, raw: Option<String>, flag: &str) -> Result<Loader> {
        let Some(raw) = raw else { return Ok(self) };
        let (section, key) = path.split_once('.').ok_or_else(|| {
            Error::Config(format!(
                "{flag}: expected SECTION.KEY=VALUE (e.g. ranking.title_boost=0.5), got {path:?}"
            ))
        })?;
        let value = self.parse_like(section, key, &raw, flag)?;
        self.set(section, key, value, Origin::Flag(flag.to_string()))?;
        Ok(self)
    }

    /// Parses `raw` as the type of the key's default value.
    fn parse_like(&self, section: &str, key: &str, raw: &str, source: &str) -> Result<Value> {
        let current = self
            .table
            .get(section)
            .and_then(|s| s.get(key))
            .ok_or_else(|| Error::Config(format!("{source}: unknown key {section}.{key}")))?;
        let bad = |what: &str| Error::Config(format!("{source}: expected {what}, got {raw:?}"));
        Ok(match current {
            Value::Integer(_) => Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?),
            Value::Float(_) => Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?),
            Value::Boolean(_) => {
                Value::Boolean(raw.trim().parse().map_err(|_| bad("true or false"))?)
            }
            Value::Array(_) => Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ),
            _ => Value::String(raw.to_string()),
        })
    }

    fn set(&mut self, section: &str, key: &str, value: Value, origin: Origin) -> Result<()> {
        let path = format!("{section}.{key}");
        let Some(slot) = self.table.get_mut(section).and_then(|s| s.as_table_mut()) else {
            return Err(Error::Config(format!(
                "{origin}: unknown section [{section}]"
            )));
        };
        let Some(current) = slot.get(key) else {
            return Err(Error::Config(format!("{origin}: unknown key {path}")));
        };
        // An integer where a float is expected is fine in TOML files.
        let value = match (current, value) {
            (Value::Float(_), Value::Integer(i)) => Value::Float(i as f64),
            (_, v) => v,
        };
        slot.insert(key.to_string(), value);
        self.origins.insert(path, origin);
        Ok(())
    }

    /// The final configuration, checked.
    pub fn build(self) -> Result<Effective> {
        let config: Config = Value::Table(self.table.clone())
            .try_into()
            .map_err(|e| Error::Config(e.to_string()))?;
        config.ranking.validate().map_err(Error::Config)?;
        let mut values = BTreeMap::new();
        for (section, keys) in &self.table {
            if let Some(keys) = keys.as_table() {
                for (key, v) in keys {
                    values.insert(format!("{section}.{key}"), v.to_string());
                }
            }
        }
        let mut unknown_env = self.unknown_env;
        unknown_env.sort();
        Ok(Effective {
            config,
            origins: self.origins,
            values,
            unknown_env,
        })
    }
}

/// Settings whose values are never shown (`postsearch config` masks them).
fn is_secret(path: &str) -> bool {
    matches!(path, "server.write_token" | "analytics.token")
}

impl Effective {
    /// One line per key: `section.key = value  # origin`. The write token is
    /// masked.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (path, value) in &self.values {
            let shown = if is_secret(path) && value != "\"\"" {
                "\"********\"".to_string()
            } else {
                value.clone()
            };
            let origin = self.origins.get(path).cloned().unwrap_or(Origin::Default);
            out.push_str(&format!("{path} = {shown}  # {origin}\n"));
        }
        out
    }

    /// The effective configuration as JSON: `{key: {value, origin}}`, each
    /// value of its own type (a number, a string, a list, a boolean).
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (path, value) in &self.values {
            let origin = self.origins.get(path).cloned().unwrap_or(Origin::Default);
            let value = if is_secret(path) && value != "\"\"" {
                serde_json::json!("********")
            } else {
                toml::from_str::<Table>(&format!("v = {value}"))
                    .ok()
                    .and_then(|t| serde_json::to_value(&t["v"]).ok())
                    .unwrap_or_else(|| serde_json::json!(value))
            };
            map.insert(
                path.clone(),
                serde_json::json!({"value": value, "origin": origin.to_string()}),
            );
        }
        serde_json::Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_variables_are_reported_and_json_values_are_typed() {
        let eff = Loader::new()
            .env(vec![
                ("POSTSEARCH_SERVER_ADRR".into(), "x".into()),
                ("POSTSEARCH_LIMITS_MAX_LIMIT".into(), "50".into()),
                ("POSTSEARCH_CRASH_AFTER".into(), "1".into()),
                ("POSTSEARCH_LOG_FORMAT".into(), "json".into()),
            ])
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(eff.unknown_env, ["POSTSEARCH_SERVER_ADRR"]);
        let json = eff.to_json();
        assert_eq!(json["limits.max_limit"]["value"], 50);
        assert_eq!(json["server.addr"]["value"], "127.0.0.1:7700");
        assert_eq!(json["server.read_only"]["value"], false);
        assert_eq!(json["server.cors_origins"]["value"], serde_json::json!([]));
    }

    #[test]
    fn layers_override_in_order_and_remember_origin() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(
            &file,
            "[server]\naddr = \"0.0.0.0:1\"\n[ranking]\nmeta_weight = 1\n",
        )
        .unwrap();
        let eff = Loader::new()
            .file(&file, true)
            .unwrap()
            .env(vec![
                (
                    "POSTSEARCH_SERVER_ADDR".to_string(),
                    "0.0.0.0:2".to_string(),
                ),
                ("POSTSEARCH_INDEX".to_string(), "/tmp/ix".to_string()),
                (
                    "POSTSEARCH_SERVER_CORS_ORIGINS".into(),
                    "http://a, http://b".into(),
                ),
                ("UNRELATED".to_string(), "x".to_string()),
            ])
            .unwrap()
            .flag("server.addr", Some("0.0.0.0:3".into()), "--addr")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(eff.config.server.addr, "0.0.0.0:3");
        assert_eq!(eff.config.ranking.meta_weight, 1.0);
        assert_eq!(eff.config.index.dir, PathBuf::from("/tmp/ix"));
        assert_eq!(eff.config.server.cors_origins, ["http://a", "http://b"]);
        assert_eq!(eff.origins["server.addr"], Origin::Flag("--addr".into()));
        assert!(matches!(
            eff.origins["ranking.meta_weight"],
            Origin::File(_)
        ));
        assert_eq!(eff.origins["limits.max_limit"], Origin::Default);
        assert!(eff
            .render()
            .contains("server.addr = \"0.0.0.0:3\"  # flag --addr"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(&file, "[server]\nadress = \"x\"\n").unwrap();
        let err = Loader::new().file(&file, true).err().unwrap().to_string();
        assert!(err.contains("server.adress"), "{err}");
        let err = Loader::new()
            .env(vec![("POSTSEARCH_LIMITS_MAX_LIMIT".into(), "many".into())])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("POSTSEARCH_LIMITS_MAX_LIMIT"), "{err}");
        let err = Loader::new()
            .flag("ranking.meta_weight", Some("-1".into()), "--meta-weight")
            .unwrap()
            .build()
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("meta_weight"), "{err}");
        // A key without its section (`eval --set title_boost=0.5`).
        let err = Loader::new()
            .flag("title_boost", Some("0.5".into()), "--set")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("SECTION.KEY"), "{err}");
    }

    #[test]
    fn missing_optional_file_is_skipped() {
        let eff = Loader::new()
            .file(Path::new("/nonexistent/postsearch.toml"), false)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(eff.config, Config::default());
        assert!(Loader::new()
            .file(Path::new("/nonexistent/postsearch.toml"), true)
            .is_err());
    }

    #[test]
    fn the_write_token_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let eff = Loader::new()
            .flag(
                "server.write_token_file",
                Some(path.display().to_string()),
                "--test",
            )
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            eff.config.serve_options().unwrap().server.write_token,
            "s3cret"
        );
        std::fs::write(&path, "\n").unwrap();
        let err = eff.config.serve_options().err().unwrap().to_string();
        assert!(err.contains("is empty"), "{err}");
        std::fs::remove_file(&path).unwrap();
        let err = eff.config.serve_options().err().unwrap().to_string();
        assert!(err.contains("cannot read"), "{err}");
    }

    #[test]
    fn token_is_masked() {
        let eff = Loader::new()
            .flag("server.write_token", Some("s3cret".into()), "--token")
            .unwrap()
            .build()
            .unwrap();
        assert!(!eff.render().contains("s3cret"));
        assert_eq!(eff.config.server.write_token, "s3cret");
        let eff = Loader::new()
            .env(vec![(
                "POSTSEARCH_ANALYTICS_TOKEN".into(),
                "an4lytics".into(),
            )])
            .unwrap()
            .build()
            .unwrap();
        assert!(!eff.render().contains("an4lytics"));
        assert!(!eff.to_json().to_string().contains("an4lytics"));
        assert_eq!(eff.config.analytics.token, "an4lytics");
    }

    #[test]
    fn analytics_settings_come_from_the_file_the_environment_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(
            &file,
            "[analytics]\nmax_queries_per_day = 50\nclicks = true\ndir = \"/var/lib/a\"\n",
        )
        .unwrap();
        let eff = Loader::new()
            .file(&file, true)
            .unwrap()
            .env(vec![(
                "POSTSEARCH_ANALYTICS_RETENTION_DAYS".into(),
                "30".into(),
            )])
            .unwrap()
            .flag("analytics.enabled", Some("false".into()), "--no-analytics")
            .unwrap()
            .build()
            .unwrap();
        let a = &eff.config.analytics;
        assert_eq!(
            (a.max_queries_per_day, a.clicks, a.retention_days, a.enabled),
            (50, true, 30, false)
        );
        assert_eq!(a.dir, PathBuf::from("/var/lib/a"));
        assert!(eff.unknown_env.is_empty());
        assert_eq!(
            eff.origins["analytics.enabled"],
            Origin::Flag("--no-analytics".into())
        );
        assert_eq!(eff.config.serve_options().unwrap().analytics, *a);
    }
}
