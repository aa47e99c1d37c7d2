//! The `postsearch` command line: argument definitions (clap) and one entry
//! point per subcommand. Each entry point parses nothing itself and calls the
//! library; `main.rs` only dispatches.
//!
//! Exit codes: 0 success; 1 a fatal error (unreadable index, nothing done);
//! 2 some posts were rejected (the rest were indexed or checked); 64 the
//! command line could not be understood; 130 interrupted (Ctrl-C: nothing
//! committed half-way).

use crate::config::{Config, Effective, Loader, DEFAULT_CONFIG_FILE};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use postsearch_engine::{
    facets::parse_selection, Distinct, Engine, MatchMode, SearchRequest, SearchResponse, Sort,
};
use postsearch_store::index::PostIndex;
use postsearch_store::indexer::{import_paths, ImportSummary, LockWait, Writer, WriterOptions};
use postsearch_store::ingest::{read_paths, ReadOptions};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Exit status when some posts were rejected.
pub const EXIT_REJECTED: i32 = 2;
/// Exit status of a command that failed (nothing done, or a fatal error).
pub const EXIT_FAILED: i32 = 1;
/// Exit status of a command line that could not be understood (sysexits'
/// `EX_USAGE`), distinct from [`EXIT_REJECTED`].
pub const EXIT_USAGE: i32 = 64;
/// Exit status of a command stopped by Ctrl-C (128 + SIGINT, as shells
/// report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Full-text search for technical posts, on Tantivy.
#[derive(Debug, Parser)]
#[command(name = "postsearch", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Index directory [default: index/, or POSTSEARCH_INDEX]
    #[arg(long, global = true, value_name = "DIR")]
    pub index: Option<PathBuf>,
    /// Configuration file [default: POSTSEARCH_CONFIG, else the first of
    /// ./postsearch.toml, ~/.config/postsearch/postsearch.toml and
    /// /etc/postsearch/postsearch.toml that exists]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log lines as text or as JSON objects (one a line, for log pipelines).
    /// Levels come from RUST_LOG (default: info for serve, warn otherwise;
    /// RUST_LOG=postsearch_server=debug logs every request).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "POSTSEARCH_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse posts and upsert them into the index by id.
    Index(IndexArgs),
    /// Parse posts without indexing; report every problem.
    Check(CheckArgs),
    /// Search the index.
    Search(SearchArgs),
    /// The posts most similar to a post.
    Similar(SimilarArgs),
    /// Completions for a search box.
    Suggest(SuggestArgs),
    /// Documents, segments, size on disk, facet cardinalities.
    Stats(JsonArg),
    /// Remove posts by id.
    Delete(DeleteArgs),
    /// Print the effective configuration and where each value came from.
    Config(JsonArg),
    /// Measure relevance against judgments: nDCG@10, Recall@100, MRR@10,
    /// P@5 (trec_eval's definitions), for the configuration and for
    /// another one to compare.
    #[command(long_about = EVAL_ABOUT)]
    Eval(EvalArgs),
    /// Copy the index's last commit to DEST (hard links where possible),
    /// safely while it is written and served: DEST is a complete index, to
    /// ship to read-only replicas (docs/deploy.md).
    Snapshot(SnapshotArgs),
    /// Serve the HTTP API, the demo page and the widget.
    Serve(ServeArgs),
    /// Write a deterministic synthetic corpus shaped like the seed post.
    Generate(GenerateArgs),
    /// Measure query latency, in-process or against a server over HTTP.
    #[command(long_about = BENCH_ABOUT)]
    Bench(BenchArgs),
    /// Print every stored post as JSON lines, as it came in: `postsearch
    /// index` of the output builds the same index.
    Export(ExportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish,
    /// powershell): `postsearch completions bash > /etc/bash_completion.d/postsearch`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `postsearch man > postsearch.1`.
    Man,
    /// What readers searched for: top queries, queries that found nothing,
    /// the zero-result rate per day, clicks (read from the analytics folder;
    /// docs/analytics.md).
    Analytics(AnalyticsArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct AnalyticsArgs {
    /// The first day (YYYY-MM-DD, UTC) [default: the last 7 days]
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// The last N days, today included (with --since: the days in both)
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Queries in each list
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
    /// Print the report as JSON (the GET /api/analytics object)
    #[arg(long)]
    pub json: bool,
}

const EVAL_ABOUT: &str = "\
Measure relevance against judgments: nDCG@10, Recall@100, MRR@10 and P@5,
with trec_eval's definitions (a ranking read by decreasing score, ties by
decreasing document id; linear gains; means over every judged query, a
query with no hits scoring 0).

Queries: BEIR JSONL ({\"_id\", \"text\"} a line) or a TSV of id<TAB>text.
Judgments: BEIR TSV (query-id corpus-id score, with or without a header)
or TREC qrels (query-id iteration corpus-id score).
The documents: the index (--index), or a BEIR corpus.jsonl (--corpus,
indexed in memory as posts: title, and text as the body).

--set KEY=VALUE changes the configuration evaluated (e.g.
--set ranking.title_boost=0.5); --compare KEY=VALUE evaluates a second one
(the first plus these changes) and lists the queries that won and lost most.

  postsearch eval --corpus scifact/corpus.jsonl --queries scifact/queries.jsonl \\
      --qrels scifact/qrels.tsv --compare ranking.title_boost=0.5";

const BENCH_ABOUT: &str = "\
Measure query latency, in-process (the library, C threads) or against a
running server over HTTP (--url, C keep-alive connections).

Closed loop by default; --rate R makes it an open loop at R requests/s,
latency counted from each request's scheduled send time. A warm-up runs
first and is discarded.

Query file (--queries): one query a line; blank lines and # comments skipped.
  n+1 queries                          keyword
  \"connection pool\" exhaustion         phrase (the query holds a quote)
  n+1 queries?facet=stack:django       faceted (PARAMS after ?, as in /api/search)
  kube?prefix=true                     prefix
  similar:alphanode-000042             similar posts of a post
  suggest:kube                         completions
  @misspelt deploymnet                 @KIND labels a query with its kind:
                                       keyword, title, phrase, misspelt,
                                       question, rare, faceted, prefix
Without a file, ~300 queries are drawn from the index's own posts (--seed),
in equal shares of the ten kinds (title words shuffled, a title word with a
letter dropped, a question of 5-8 words, a body's longest word...); in HTTP
mode that needs the index too (--index DIR) or a query file.";

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Benchmark a server at this URL (http://HOST:PORT) instead of the index.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Query file (see above) [default: a built-in mix drawn from the index]
    #[arg(long, value_name = "FILE")]
    pub queries: Option<PathBuf>,
    /// Workers: threads in-process, connections over HTTP.
    #[arg(long, short = 'c', default_value_t = 1, value_name = "C")]
    pub concurrency: usize,
    /// Seconds to measure.
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "S",
        conflicts_with = "requests"
    )]
    pub duration: f64,
    /// Stop after this many requests instead of a duration.
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// Seconds of warm-up, not measured.
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    pub warmup: f64,
    /// Open loop at this many requests per second in total.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Write a self-contained HTML report (plot and table) to this file.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Seed of the built-in query mix.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// HTTP request timeout in seconds (a slower answer is an error).
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of posts.
    #[arg(long)]
    pub count: usize,
    /// Corpus seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory (posts.jsonl, or one .txt per post in subdirectories).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// jsonl or text.
    #[arg(long, default_value = "jsonl")]
    pub format: postsearch_corpus::OutputFormat,
    /// Number of the first post (ids are alphanode-NNNNNN).
    #[arg(long, default_value_t = 0)]
    pub start: usize,
    /// realistic (word statistics of real technical writing: a growing
    /// vocabulary, identifiers, code) or templated (small word pools, the
    /// test suite's corpus).
    #[arg(long, default_value = "realistic")]
    pub style: postsearch_corpus::Style,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The queries (BEIR JSONL or id<TAB>text)
    #[arg(long, value_name = "FILE")]
    pub queries: PathBuf,
    /// The judgments (BEIR TSV or TREC qrels)
    #[arg(long, value_name = "FILE")]
    pub qrels: PathBuf,
    /// Index this BEIR corpus in memory instead of using the index
    #[arg(long, value_name = "FILE")]
    pub corpus: Option<PathBuf>,
    /// A configuration value to evaluate with (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// A change to evaluate as well, against the first (repeatable)
    #[arg(long, value_name = "KEY=VALUE")]
    pub compare: Vec<String>,
    /// Write the run (of the first configuration) in TREC's format
    #[arg(long, value_name = "FILE")]
    pub run_out: Option<PathBuf>,
    /// How many queries that won and lost most to list with --compare
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
    /// Print the measures as JSON (with each query's)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Where to write the copy (must not exist, or be an empty folder)
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,
    /// Print what was copied as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address [default: 127.0.0.1:7700]
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
    /// Directory of posts indexed when there is no index yet [default: data]
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Origins allowed by CORS, comma-separated (`*` for any)
    #[arg(long, value_name = "ORIGINS")]
    pub cors_origins: Option<String>,
    /// Serve the index as it is: writes are refused, no index is built when
    /// there is none, and nothing is written in the index folder (it may be
    /// on a read-only volume; commits by another process are picked up)
    #[arg(long)]
    pub read_only: bool,
    /// Record no search analytics (analytics.enabled = false)
    #[arg(long)]
    pub no_analytics: bool,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Files or directories (.txt, .json, .jsonl, .ndjson); `-` reads JSONL
    /// from stdin. Directories are walked in name order; hidden entries,
    /// folders holding an index (this one's own included), links to folders
    /// or to nothing, and FIFOs, sockets and devices are skipped and counted
    /// in one line; files with other extensions (backups such as
    /// `post.json.bak`, `post.txt~`) are not read. A path named here that is
    /// not a regular file or a directory is rejected, not read. Ctrl-C
    /// stops the import: nothing after the last commit is kept, and the
    /// exit status is 130.
    #[arg(required = true, value_name = "PATH", verbatim_doc_comment)]
    pub paths: Vec<PathBuf>,
    /// Build the index anew from PATH alone: built beside the old index,
    /// which keeps serving and is replaced only when the import succeeded
    /// (refused while another process writes to it).
    #[arg(long)]
    pub rebuild: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Commit after this many changed posts.
    #[arg(long, value_name = "N")]
    pub commit_every: Option<usize>,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// How a command that writes waits for the index's write lock.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Seconds to wait for the index's write lock while another process
    /// holds it (index.lock_wait_secs, 60 by default), then fail.
    #[arg(long, value_name = "SECONDS")]
    pub lock_wait: Option<u64>,
}

impl LockArgs {
    /// The configuration flag it sets.
    fn flag(&self) -> (&'static str, Option<String>, &'static str) {
        (
            "index.lock_wait_secs",
            self.lock_wait.map(|s| s.to_string()),
            "--lock-wait",
        )
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files (.txt, .json, .jsonl) or folders of them; `-` reads JSON lines
    /// from stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print each parsed post as one JSON line on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query (words, "phrases", -exclusions, field:value, quality:>=80).
    #[arg(default_value = "")]
    pub query: String,
    /// Facet filter FIELD=VALUE (repeatable; OR within a field, AND across).
    #[arg(long = "facet", value_name = "F=V")]
    pub facets: Vec<String>,
    /// relevance, views, quality or newest.
    #[arg(long, default_value = "relevance")]
    pub sort: Sort,
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// The last word also matches as a prefix.
    #[arg(long)]
    pub prefix: bool,
    /// auto, all or any.
    #[arg(long = "match", default_value = "auto")]
    pub match_mode: MatchMode,
    /// Weight of the meta score (0 = plain BM25).
    #[arg(long, value_name = "W")]
    pub meta_weight: Option<f32>,
    /// Show each hit's text, meta and final score.
    #[arg(long)]
    pub explain: bool,
    /// Turn typo tolerance off.
    #[arg(long)]
    pub no_typos: bool,
    /// Turn synonyms off (`k8s` no longer finds `kubernetes`).
    #[arg(long)]
    pub no_synonyms: bool,
    /// One post per duplicate group: `hash` (reposted content).
    #[arg(long, value_name = "FIELD")]
    pub distinct: Option<Distinct>,
    /// Print the answer as JSON (the /api/search object).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// Post id.
    pub id: String,
    /// How many similar posts.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    /// Print the answer as JSON (the /api/posts/{id}/similar object).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// What is typed so far.
    pub prefix: String,
    /// Most suggestions of each kind: word completions, and post titles.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    /// Print the answer as JSON (the /api/suggest object).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Ids of the posts to remove (all must exist: none is removed
    /// otherwise).
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Loads the layered configuration: defaults, file, environment, flags.
pub fn load_config(
    global: &GlobalArgs,
    flags: &[(&str, Option<String>, &str)],
) -> Result<Effective> {
    let mut loader = Loader::new();
    let (file, required) = config_file(global);
    loader = loader.file(&file, required)?;
    loader = loader.env(std::env::vars())?;
    loader = loader.flag(
        "index.dir",
        global.index.as_ref().map(|p| p.display().to_string()),
        "--index",
    )?;
    for (path, value, flag) in flags {
        loader = loader.flag(path, value.clone(), flag)?;
    }
    let eff = loader.build()?;
    // Once per run, however many configurations a command loads (eval).
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        for name in &eff.unknown_env {
            eprintln!(
                "postsearch: warning: {name} is not a setting and is ignored (`postsearch config` lists them)"
            );
        }
    });
    Ok(eff)
}

/// The configuration file, and whether it must exist: `--config`, else
/// `POSTSEARCH_CONFIG`, else the first of `./postsearch.toml`,
/// `$XDG_CONFIG_HOME/postsearch/postsearch.toml` (`~/.config/...`) and
/// `/etc/postsearch/postsearch.toml` that exists (none is fine).
fn config_file(global: &GlobalArgs) -> (PathBuf, bool) {
    if let Some(path) = &global.config {
        return (path.clone(), true);
    }
    if let Some(path) = std::env::var_os("POSTSEARCH_CONFIG").filter(|p| !p.is_empty()) {
        return (PathBuf::from(path), true);
    }
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|dir| dir.join("postsearch").join(DEFAULT_CONFIG_FILE));
    let candidates = [Some(PathBuf::from(DEFAULT_CONFIG_FILE)), user]
        .into_iter()
        .flatten()
        .chain([PathBuf::from("/etc/postsearch").join(DEFAULT_CONFIG_FILE)]);
    for path in candidates {
        if path.is_file() {
            return (path, false);
        }
    }
    (PathBuf::from(DEFAULT_CONFIG_FILE), false)
}

/// Whether `args` (the whole command line) run a bulk import: `index`,
/// whose writer threads allocate and free their indexing buffers segment
/// after segment (the binary then keeps freed memory rather than giving it
/// back to the system in between). False for anything that does not parse.
pub fn is_bulk_import(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    Cli::try_parse_from(args).is_ok_and(|cli| matches!(cli.command, Command::Index(_)))
}

/// Runs the CLI; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; anything else is a
            // usage error, with its own exit status.
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    let default_level = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match cli.global.log_format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().init(),
    }
    match run(cli) {
        Ok(code) => code,
        // A closed pipe (`postsearch search x | head`) is a normal end.
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("postsearch: error: {}", error_text(&e));
            let interrupted = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<postsearch_store::Error>(),
                    Some(postsearch_store::Error::Interrupted(_))
                )
            });
            if interrupted {
                EXIT_INTERRUPTED
            } else {
                EXIT_FAILED
            }
        }
    }
}

/// An error and its causes on one line, `a: b: c`, each cause once: a
/// cause whose text already ends its parent's (an I/O error a message
/// quotes) is not repeated.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Writes one line to stdout.
fn out(line: &str) -> std::io::Result<()> {
    writeln!(std::io::stdout().lock(), "{line}")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Dispatches to one entry point per command.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Index(args) => index(&cli.global, args),
        Command::Check(args) => check(args),
        Command::Search(args) => search(&cli.global, args),
        Command::Similar(args) => similar(&cli.global, args),
        Command::Suggest(args) => suggest(&cli.global, args),
        Command::Stats(args) => stats(&cli.global, args),
        Command::Delete(args) => delete(&cli.global, args),
        Command::Snapshot(args) => snapshot(&cli.global, args),
        Command::Eval(args) => eval(&cli.global, args),
        Command::Config(args) => config(&cli.global, args),
        Command::Serve(args) => serve(&cli.global, args),
        Command::Generate(args) => generate(args),
        Command::Bench(args) => bench(&cli.global, args),
        Command::Export(args) => export(&cli.global, args),
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "postsearch", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(0)
        }
        Command::Analytics(args) => analytics(&cli.global, args),
    }
}

/// `postsearch export`: every stored post, one JSON line each.
fn export(global: &GlobalArgs, args: ExportArgs) -> Result<i32> {
    let cfg = load_config(global, &[])?.config;
    let index = PostIndex::open(&cfg.index.dir)?;
    let (sink, name): (Box<dyn Write>, String) = match &args.output {
        Some(path) => (
            Box::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            ),
            path.display().to_string(),
        ),
        None => (Box::new(std::io::stdout().lock()), "stdout".into()),
    };
    let mut w = std::io::BufWriter::new(sink);
    let write_err = |e: std::io::Error| postsearch_store::Error::io(std::path::Path::new(&name), e);
    let n = index.for_each_stored(|json| {
        w.write_all(json.as_bytes()).map_err(write_err)?;
        w.write_all(b"\n").map_err(write_err)
    })?;
    w.flush().map_err(write_err)?;
    if args.output.is_some() {
        eprintln!("{n} posts exported to {name}");
    }
    Ok(0)
}

/// `postsearch index`: parse and upsert; progress on a terminal; summary
/// and every rejection on stderr.
fn index(global: &GlobalArgs, args: IndexArgs) -> Result<i32> {
    let cfg = load_config(global, &[args.lock.flag()])?.config;
    let dir = &cfg.index.dir;
    if !postsearch_store::rebuild::may_hold_an_index(dir)? {
        return Err(postsearch_store::rebuild::not_an_index(dir).into());
    }
    let bytes_read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let progress = Progress::new(
        postsearch_store::ingest::input_bytes(&args.paths),
        &bytes_read,
    );
    let mut writer_opts = WriterOptions {
        budget_bytes: cfg.index.writer_budget_mb << 20,
        lock_wait: lock_wait(&cfg),
        ..WriterOptions::default()
    };
    if let Some(n) = args.commit_every {
        writer_opts.commit_every = n.max(1);
    }
    let started = std::time::Instant::now();
    let read_opts = ReadOptions {
        stop: Some(stop_on_ctrl_c()?),
        bytes_read: Some(bytes_read.clone()),
        ..ReadOptions::default()
    };
    // Rejections are reported as they are read (the summary lists only
    // the first ones): a file of millions of bad lines costs no memory.
    let mut on_item = |item: &postsearch_store::ingest::ReadItem| {
        progress.post();
        if let Err(r) = item {
            progress.bar.suspend(|| eprintln!("{r}"));
        }
    };
    let summary = if args.rebuild {
        // Built beside the old index, which serves until the new one is
        // complete and survives any failure.
        postsearch_store::rebuild::rebuild_paths(
            dir,
            &args.paths,
            &read_opts,
            writer_opts,
            &mut on_item,
        )
    } else {
        PostIndex::open_or_create(dir).and_then(|index| {
            import_paths(&index, &args.paths, &read_opts, writer_opts, &mut on_item)
        })
    }
    .with_context(|| format!("indexing into {}", dir.display()))?;
    drop(progress);
    report_import(&summary, started.elapsed(), args.json)?;
    Ok(if summary.rejected_count == 0 {
        0
    } else {
        EXIT_REJECTED
    })
}

/// How `index` and `delete` wait for the index's write lock: up to
/// `index.lock_wait_secs`, saying so on stderr after a second.
fn lock_wait(cfg: &Config) -> LockWait {
    LockWait {
        limit: std::time::Duration::from_secs(cfg.index.lock_wait_secs),
        notice: Some(|limit| {
            eprintln!(
                "waiting up to {} s for the index's write lock: another process is writing to it \
                 (an import, or a server taking writes or rewriting a segment of deleted posts); \
                 --lock-wait sets the wait",
                limit.as_secs()
            )
        }),
    }
}

fn report_import(summary: &ImportSummary, took: std::time::Duration, json: bool) -> Result<()> {
    let mut err = std::io::stderr().lock();
    if let Some(why) = &summary.untidied {
        writeln!(
            err,
            "warning: the posts are committed, but the index's segments were not tidied \
             (merged, deleted copies dropped); the next import does it: {why}"
        )?;
    }
    let secs = took.as_secs_f64();
    let rate = summary.read() as f64 / secs.max(1e-9);
    if !summary.skipped.is_empty() {
        writeln!(err, "{} (see `postsearch index --help`)", summary.skipped)?;
    }
    if json {
        let mut value = serde_json::to_value(summary)?;
        value["seconds"] = serde_json::json!(secs);
        out(&value.to_string())?;
    } else {
        writeln!(err, "{summary} ({secs:.1} s, {rate:.0} posts/s)")?;
    }
    Ok(())
}

/// A flag set by the first Ctrl-C (SIGINT): the import stops reading,
/// commits nothing more and exits [`EXIT_INTERRUPTED`] saying what was
/// committed. A second Ctrl-C exits at once (nothing half-committed either:
/// a commit is atomic).
fn stop_on_ctrl_c() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    // SAFETY: the handler only touches an atomic and calls `_exit`, both
    // async-signal-safe.
    unsafe {
        signal_hook_registry::register(libc::SIGINT, move || {
            if set.swap(true, Ordering::SeqCst) {
                libc::_exit(EXIT_INTERRUPTED);
            }
        })
    }
    .context("installing the Ctrl-C handler")?;
    Ok(flag)
}

/// The progress of an import on a terminal (hidden otherwise): the bytes of
/// input read out of the total, with percentage, rate and time left, and the
/// posts read; once everything is read, that the last posts are being
/// indexed and committed. Updated by a thread of its own, every 150 ms.
struct Progress {
    bar: indicatif::ProgressBar,
    posts: std::sync::Arc<std::sync::atomic::AtomicU64>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn new(
        total: Option<u64>,
        bytes_read: &std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Progress {
        use std::sync::atomic::Ordering::Relaxed;
        let posts = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Progress {
                bar: indicatif::ProgressBar::hidden(),
                posts,
                done,
                ticker: None,
            };
        }
        let template = match total {
            Some(_) => {
                "{bar:30} {percent:>3}%  {binary_bytes}/{binary_total_bytes}  \
                        {binary_bytes_per_sec}  {eta} left  {msg}"
            }
            None => "{spinner} {elapsed}  {binary_bytes} read  {msg}",
        };
        let bar = indicatif::ProgressBar::new(total.unwrap_or(0))
            .with_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
        let ticker = {
            let (bar, bytes, posts, done) =
                (bar.clone(), bytes_read.clone(), posts.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Relaxed) {
                    let read = bytes.load(Relaxed);
                    bar.set_position(read);
                    let n = posts.load(Relaxed);
                    bar.set_message(if total.is_some_and(|t| read >= t) {
                        format!("{n} posts; all read: indexing the last ones and committing")
                    } else {
                        format!("{n} posts")
                    });
                    bar.tick();
                    std::thread::sleep(std::time::Duration::from_millis(150));
                }
            })
        };
        Progress {
            bar,
            posts,
            done,
            ticker: Some(ticker),
        }
    }

    /// One post (or rejection) read.
    fn post(&self) {
        self.posts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for Progress {
    /// Stops the updates and clears the bar (an import that failed too).
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

/// `postsearch check`: parse only.
fn check(args: CheckArgs) -> Result<i32> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut rejected = 0u64;
    let mut posts = 0u64;
    let mut write_error = None;
    let skipped = read_paths(
        &args.paths,
        &ReadOptions::default(),
        &mut |item| match item {
            Ok(p) => {
                posts += 1;
                if args.json && write_error.is_none() {
                    if let Err(e) = writeln!(out, "{}", p.post.to_json_line()) {
                        write_error = Some(e);
                    }
                }
            }
            Err(r) => {
                rejected += 1;
                eprintln!("{r}");
            }
        },
    )?;
    if let Some(e) = write_error {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    out.flush().ok();
    if !args.json {
        if !skipped.is_empty() {
            eprintln!("{skipped}");
        }
        eprintln!("{posts} ok, {rejected} rejected");
    }
    Ok(if rejected == 0 { 0 } else { EXIT_REJECTED })
}

fn engine(global: &GlobalArgs, flags: &[(&str, Option<String>, &str)]) -> Result<Engine> {
    let cfg = load_config(global, flags)?.config;
    let options = cfg.engine_options()?;
    let index = PostIndex::open(&cfg.index.dir)?;
    Ok(Engine::with_options(index, options))
}

/// `postsearch search`.
fn search(global: &GlobalArgs, args: SearchArgs) -> Result<i32> {
    let engine = engine(global, &[])?;
    let mut req = SearchRequest {
        q: args.query,
        sort: args.sort,
        limit: args.limit,
        offset: args.offset,
        match_mode: args.match_mode,
        prefix: args.prefix,
        meta_weight: args.meta_weight,
        explain: args.explain,
        typos: !args.no_typos,
        synonyms: !args.no_synonyms,
        distinct: args.distinct,
        ..SearchRequest::default()
    };
    for f in &args.facets {
        let (field, value) = parse_selection(f)?;
        req.facets.entry(field).or_default().push(value);
    }
    if args.json {
        out(&serde_json::to_string(&engine.search(&req)?)?)?;
        return Ok(0);
    }
    if args.explain {
        // The terms searched, after analysis: the words typed (stemmed),
        // their typo variants, completions and synonyms.
        let detailed = engine.search_detailed(&req)?;
        print_search(&detailed.response, true, req.sort)?;
        let terms: Vec<&str> = detailed.terms.iter().map(String::as_str).collect();
        out(&format!("terms searched: {}", terms.join(", ")))?;
        for (hit, e) in detailed.response.hits.iter().zip(&detailed.explanations) {
            out(&format!("\n{}: text score", hit.id))?;
            let tree: serde_json::Value = serde_json::from_str(&e.to_pretty_json())?;
            print_explanation(&tree, 1)?;
        }
    } else {
        print_search(&engine.search(&req)?, false, req.sort)?;
    }
    Ok(0)
}

/// One node of a score explanation and its details, indented by `depth`;
/// nodes of no weight (filters, words absent from the post) are left out.
fn print_explanation(node: &serde_json::Value, depth: usize) -> Result<()> {
    let value = node["value"].as_f64().unwrap_or(0.0);
    let description = node["description"].as_str().unwrap_or("");
    out(&format!(
        "{}{value:>8.3}  {description}",
        "  ".repeat(depth)
    ))?;
    for child in node["details"].as_array().into_iter().flatten() {
        if child["value"].as_f64().unwrap_or(0.0) != 0.0 {
            print_explanation(child, depth + 1)?;
        }
    }
    Ok(())
}

/// Turns `<mark>` HTML into terminal text: bold on a terminal, plain else.
fn terminal_text(html: &str, color: bool) -> String {
    let (on, off) = if color {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        ("", "")
    };
    html.replace("<mark>", on)
        .replace("</mark>", off)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn print_search(resp: &SearchResponse, explain: bool, sort: Sort) -> Result<()> {
    let color = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    let copies = match &resp.distinct {
        Some(d) if d.posts > resp.total => {
            format!(" ({} posts; copies of one post shown once)", d.posts)
        }
        _ => String::new(),
    };
    writeln!(
        out,
        "{} result{}{copies} for {:?}{} ({:.2} ms)\n",
        resp.total,
        if resp.total == 1 { "" } else { "s" },
        resp.query,
        if resp.relaxed {
            " (no post has every word; showing posts with any)"
        } else {
            ""
        },
        resp.took_ms
    )?;
    for s in &resp.synonyms {
        writeln!(out, "synonyms: {} → also {}", s.typed, s.forms.join(", "))?;
    }
    if !resp.synonyms.is_empty() {
        writeln!(out)?;
    }
    for hit in &resp.hits {
        writeln!(out, "{}", terminal_text(&hit.title_html, color))?;
        write!(
            out,
            "  {}  score {:.3}  meta {:.2}",
            hit.id, hit.score, hit.meta_score
        )?;
        // The value the hits are sorted by.
        match sort {
            Sort::Views => write!(out, "  views {}", hit.view_count.unwrap_or(0))?,
            Sort::Quality => match hit.score_parts.quality {
                Some(q) => write!(out, "  quality {q}")?,
                None => write!(out, "  quality -")?,
            },
            Sort::Newest => write!(
                out,
                "  reviewed {}",
                hit.last_reviewed.as_deref().unwrap_or("-")
            )?,
            Sort::Relevance => {}
        }
        if let Some(n) = hit.group_size.filter(|&n| n > 1) {
            write!(out, "  +{} cop{}", n - 1, if n == 2 { "y" } else { "ies" })?;
        }
        if let Some(e) = &hit.explain {
            write!(
                out,
                "  (text {:.3} × (1 + {} × {:.3}))",
                e.text, e.meta_weight, e.meta
            )?;
        }
        writeln!(out)?;
        if !explain || !hit.snippet.is_empty() {
            writeln!(out, "  {}\n", terminal_text(&hit.snippet, color))?;
        }
    }
    for (field, counts) in &resp.facets {
        let mut counts: Vec<_> = counts.iter().filter(|(_, n)| **n > 0).collect();
        if counts.is_empty() {
            continue;
        }
        counts.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let shown: Vec<String> = counts
            .iter()
            .take(8)
            .map(|(v, n)| format!("{v} ({n})"))
            .collect();
        writeln!(out, "{field}: {}", shown.join(", "))?;
    }
    Ok(())
}

/// `postsearch similar`.
fn similar(global: &GlobalArgs, args: SimilarArgs) -> Result<i32> {
    let resp = engine(global, &[])?.similar(&args.id, args.limit)?;
    if args.json {
        out(&serde_json::to_string(&resp)?)?;
        return Ok(0);
    }
    let mut out = std::io::stdout().lock();
    for hit in &resp.hits {
        writeln!(
            out,
            "{}\n  {}  score {:.3}  {}",
            hit.title,
            hit.id,
            hit.score,
            hit.stack.join(", ")
        )?;
    }
    Ok(0)
}

/// `postsearch suggest`.
fn suggest(global: &GlobalArgs, args: SuggestArgs) -> Result<i32> {
    let resp = engine(global, &[])?.suggest(&args.prefix, args.limit)?;
    if args.json {
        out(&serde_json::to_string(&resp)?)?;
        return Ok(0);
    }
    for s in &resp.suggestions {
        out(&format!("{:5}  {}", s.kind, s.text))?;
    }
    Ok(0)
}

/// `postsearch stats`.
fn stats(global: &GlobalArgs, args: JsonArg) -> Result<i32> {
    let cfg = load_config(global, &[])?.config;
    let stats = PostIndex::open(&cfg.index.dir)?.stats()?;
    if args.json {
        out(&serde_json::to_string(&stats)?)?;
        return Ok(0);
    }
    out(&format!("documents  {}", stats.documents))?;
    out(&format!("segments   {}", stats.segments))?;
    out(&format!("deleted    {}", stats.deleted))?;
    out(&format!(
        "size       {:.1} MB",
        stats.size_bytes as f64 / 1e6
    ))?;
    for (field, n) in &stats.facets {
        out(&format!("{field:<14} {n} values"))?;
    }
    Ok(0)
}

/// `postsearch delete`.
fn delete(global: &GlobalArgs, args: DeleteArgs) -> Result<i32> {
    let cfg = load_config(global, &[args.lock.flag()])?.config;
    let index = PostIndex::open(&cfg.index.dir)?;
    // All or nothing: every id is checked before any is deleted, and
    // again holding the lock (another process may have deleted some while
    // this one waited for it).
    let not_found = |missing: &[&String]| {
        for id in missing {
            eprintln!("{id}: no such post");
        }
        eprintln!(
            "nothing deleted: {} of {} ids not found",
            missing.len(),
            args.ids.len()
        );
        EXIT_FAILED
    };
    let searcher = index.searcher();
    let mut missing = Vec::new();
    for id in &args.ids {
        if index.locate(&searcher, id)?.is_none() {
            missing.push(id);
        }
    }
    if !missing.is_empty() {
        return Ok(not_found(&missing));
    }
    let wait = lock_wait(&cfg);
    let mut writer = Writer::new(
        &index,
        WriterOptions {
            lock_wait: wait,
            ..WriterOptions::default()
        },
    )?;
    for id in &args.ids {
        if !writer.delete(id)? {
            missing.push(id);
        }
    }
    if !missing.is_empty() {
        writer.abandon();
        return Ok(not_found(&missing));
    }
    writer.finish()?;
    eprintln!("{} deleted", args.ids.len());
    // Their copies are dropped from a segment they leave a fifth deleted.
    if let Err(e) = postsearch_store::indexer::tidy_segments(&index, wait) {
        eprintln!("warning: the deleted posts stay in the folder until a later merge: {e}");
    }
    Ok(0)
}

/// `postsearch config`.
fn config(global: &GlobalArgs, args: JsonArg) -> Result<i32> {
    let eff = load_config(global, &[])?;
    if args.json {
        out(&eff.to_json().to_string())?;
    } else {
        print!("{}", eff.render());
    }
    Ok(0)
}

/// `postsearch serve`: builds the index from `data/` if there is none, then
/// serves until Ctrl-C or SIGTERM.
fn serve(global: &GlobalArgs, args: ServeArgs) -> Result<i32> {
    let eff = load_config(
        global,
        &[
            ("server.addr", args.addr, "--addr"),
            (
                "server.data_dir",
                args.data.map(|p| p.display().to_string()),
                "--data",
            ),
            ("server.cors_origins", args.cors_origins, "--cors-origins"),
            (
                "server.read_only",
                args.read_only.then(|| "true".to_string()),
                "--read-only",
            ),
            (
                "analytics.enabled",
                args.no_analytics.then(|| "false".to_string()),
                "--no-analytics",
            ),
        ],
    )?;
    // Searches run on the blocking pool, one per core: more at once only
    // add context switches and per-thread allocator memory (the rest wait
    // their turn in the pool's queue), and take the cores from the request
    // tasks that answer completions inline. (100k posts, 32 connections,
    // against two per core: same throughput, p99 44–45 → 41 ms, suggest p99
    // 8 → 3.7 ms; two per core had beaten four: p99 −15…−25%, −18 MiB.)
    let options = eff.config.serve_options()?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(cores.max(2))
        .enable_all()
        .build()?;
    runtime.block_on(postsearch_server::serve(options, |addr| {
        eprintln!("postsearch: serving on http://{addr}/");
    }))?;
    Ok(0)
}

/// `postsearch analytics`: the report, read from the analytics folder
/// (no server needed; a running one writes every few seconds).
fn analytics(global: &GlobalArgs, args: AnalyticsArgs) -> Result<i32> {
    use postsearch_server::analytics::{self as an, store};
    let cfg = load_config(global, &[])?.config;
    let dir = cfg.analytics.folder(&cfg.index.dir);
    let since = match &args.since {
        Some(s) => Some(
            store::parse_day(s.trim())
                .ok_or_else(|| anyhow::anyhow!("--since must be a date YYYY-MM-DD, got {s:?}"))?,
        ),
        None => None,
    };
    if let Some(n) = args.days {
        anyhow::ensure!(
            (1..=an::MAX_REPORT_DAYS).contains(&n),
            "--days must be 1 to {}, got {n}",
            an::MAX_REPORT_DAYS
        );
    }
    let range = an::report_range(store::today(), args.days, since, args.limit);
    let (days, skipped) = store::read_days(&dir, range.from, range.to);
    for (_, why) in &skipped {
        eprintln!("postsearch: warning: skipped {why}");
    }
    let report = store::report(
        &days,
        range,
        cfg.analytics.enabled,
        cfg.analytics.clicks,
        &skipped,
    );
    if args.json {
        out(&serde_json::to_string(&report)?)?;
        return Ok(0);
    }
    let t = &report.totals;
    out(&format!(
        "{} to {} ({}): {} searches, {} with no result ({:.1}%), {} clicks ({:.1}%), {} distinct queries",
        report.from,
        report.to,
        dir.display(),
        t.searches,
        t.zero_results,
        t.zero_result_rate * 100.0,
        t.clicks,
        t.click_through_rate * 100.0,
        t.distinct_queries
    ))?;
    if t.other_searches > 0 {
        out(&format!(
            "({} searches of queries over a day's cap of {} are counted without their text)",
            t.other_searches, cfg.analytics.max_queries_per_day
        ))?;
    }
    out("\nday          searches  no result   rate  clicks")?;
    for d in &report.days {
        out(&format!(
            "{}  {:>8}  {:>9}  {:>4.1}%  {:>6}",
            d.day,
            d.searches,
            d.zero_results,
            d.zero_result_rate * 100.0,
            d.clicks
        ))?;
    }
    let list = |title: &str, queries: &[store::QueryReport]| -> Result<()> {
        out(&format!("\n{title}"))?;
        if queries.is_empty() {
            out("  (none)")?;
        }
        for q in queries {
            out(&format!(
                "  {:>7} searches  {:>6} no result  {:>5} clicks ({:>5.1}%)  {}",
                q.searches,
                q.zero_results,
                q.clicks,
                q.click_through_rate * 100.0,
                q.q
            ))?;
        }
        Ok(())
    };
    list("top queries", &report.top_queries)?;
    list(
        "top queries with no result",
        &report.top_zero_result_queries,
    )?;
    Ok(0)
}

/// `postsearch eval`.
fn eval(global: &GlobalArgs, args: EvalArgs) -> Result<i32> {
    use crate::eval;
    let pairs = |list: &[String]| -> Result<Vec<(String, String)>> {
        list.iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| anyhow::anyhow!("expected KEY=VALUE, got {kv:?}"))
            })
            .collect()
    };
    let (base, changes) = (pairs(&args.set)?, pairs(&args.compare)?);
    let queries = eval::read_queries(&args.queries)?;
    let qrels = eval::read_qrels(&args.qrels)?;
    let (index, documents) = match &args.corpus {
        Some(corpus) => eval::index_corpus(corpus)?,
        None => {
            let cfg = load_config(global, &[])?.config;
            let index = PostIndex::open(&cfg.index.dir)?;
            let docs = index.searcher().num_docs() as usize;
            (index, docs)
        }
    };
    let started = std::time::Instant::now();
    let mut configs = vec![("base".to_string(), base.clone())];
    if !changes.is_empty() {
        let mut both = base.clone();
        both.extend(changes.iter().cloned());
        let label = changes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        configs.push((label, both));
    }
    let mut results = Vec::new();
    for (label, set) in &configs {
        let flags: Vec<(&str, Option<String>, &str)> = set
            .iter()
            .map(|(k, v)| (k.as_str(), Some(v.clone()), "--set"))
            .collect();
        let cfg = load_config(global, &flags)?.config;
        let mut options = cfg.engine_options()?;
        // Judged queries are often long (a claim, a question): the limits
        // that guard a public endpoint do not apply offline.
        options.limits.max_query_bytes = usize::MAX;
        options.limits.max_query_terms = usize::MAX;
        options.limits.max_phrase_words = usize::MAX;
        options.limits.max_limit = options.limits.max_limit.max(100);
        let engine = Engine::with_options(index.clone(), options);
        let template = SearchRequest {
            with_facets: false,
            with_snippets: false,
            ..SearchRequest::default()
        };
        let (run, ms) = eval::run(&engine, &queries, &qrels, &template)?;
        if results.is_empty() {
            if let Some(path) = &args.run_out {
                let mut file = std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                );
                eval::write_trec_run(&run, &mut file, "postsearch")?;
                file.flush()?;
            }
        }
        results.push((label.clone(), eval::evaluate(&run, &qrels), ms));
    }
    if args.json {
        let configs: Vec<serde_json::Value> = results
            .iter()
            .map(|(label, e, ms)| {
                serde_json::json!({"config": label, "mean": e.mean, "mean_query_ms": ms,
                    "queries": e.queries, "per_query": e.per_query})
            })
            .collect();
        out(&serde_json::json!({"documents": documents, "configs": configs}).to_string())?;
        return Ok(0);
    }
    out(&format!(
        "{} judged queries, {documents} documents ({:.1} s)",
        results[0].1.queries,
        started.elapsed().as_secs_f64()
    ))?;
    out(&format!(
        "{:<32} {:>8} {:>10} {:>7} {:>6} {:>9}",
        "configuration", "nDCG@10", "Recall@100", "MRR@10", "P@5", "ms/query"
    ))?;
    for (label, e, ms) in &results {
        let m = e.mean;
        out(&format!(
            "{label:<32} {:>8.4} {:>10.4} {:>7.4} {:>6.4} {ms:>9.2}",
            m.ndcg_at_10, m.recall_at_100, m.mrr_at_10, m.p_at_5
        ))?;
    }
    if let [(_, a, _), (_, b, _)] = results.as_slice() {
        let text: std::collections::HashMap<&str, &str> = queries
            .iter()
            .map(|(id, t)| (id.as_str(), t.as_str()))
            .collect();
        let mut deltas: Vec<(f64, &String)> = a
            .per_query
            .iter()
            .map(|(q, m)| (b.per_query[q].ndcg_at_10 - m.ndcg_at_10, q))
            .filter(|(d, _)| *d != 0.0)
            .collect();
        deltas.sort_by(|x, y| y.0.total_cmp(&x.0));
        let won = deltas.iter().filter(|(d, _)| *d > 0.0).count();
        let lost = deltas.iter().filter(|(d, _)| *d < 0.0).count();
        out(&format!(
            "nDCG@10 changed on {} queries: {won} won, {lost} lost",
            deltas.len()
        ))?;
        let show = |d: &(f64, &String)| {
            let t: String = text
                .get(d.1.as_str())
                .unwrap_or(&"")
                .chars()
                .take(70)
                .collect();
            format!("  {:+.3}  {}  {t}", d.0, d.1)
        };
        for d in deltas.iter().filter(|(d, _)| *d > 0.0).take(args.top) {
            out(&format!("won {}", show(d)))?;
        }
        for d in deltas.iter().rev().filter(|(d, _)| *d < 0.0).take(args.top) {
            out(&format!("lost{}", show(d)))?;
        }
    }
    Ok(0)
}

/// `postsearch snapshot DEST`.
fn snapshot(global: &GlobalArgs, args: SnapshotArgs) -> Result<i32> {
    let cfg = load_config(global, &[])?.config;
    let snap = postsearch_store::snapshot::snapshot(&cfg.index.dir, &args.dest)
        .with_context(|| format!("snapshot of {}", cfg.index.dir.display()))?;
    if args.json {
        out(&serde_json::to_string(&snap)?)?;
    } else {
        eprintln!("snapshot {}: {snap}", args.dest.display());
    }
    Ok(0)
}

/// `postsearch generate`.
fn generate(args: GenerateArgs) -> Result<i32> {
    let started = std::time::Instant::now();
    let opts = postsearch_corpus::GenerateOptions {
        count: args.count,
        seed: args.seed,
        format: args.format,
        start: args.start,
        style: args.style,
    };
    let summary = postsearch_corpus::write_corpus(&opts, &args.out)
        .with_context(|| format!("writing to {}", args.out.display()))?;
    eprintln!(
        "{} posts ({} duplicates) in {} files, {:.1} MB, {:.1} s",
        summary.posts,
        summary.duplicates,
        summary.files,
        summary.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

fn seconds(name: &str, s: f64) -> Result<std::time::Duration> {
    anyhow::ensure!(
        s.is_finite() && s >= 0.0,
        "{name} must be a number of seconds, got {s}"
    );
    Ok(std::time::Duration::from_secs_f64(s))
}

/// `postsearch bench`.
fn bench(global: &GlobalArgs, args: BenchArgs) -> Result<i32> {
    use crate::bench::{BenchOptions, Stop, Target};
    let cfg = load_config(global, &[])?.config;
    let dir = &cfg.index.dir;
    let open = || {
        PostIndex::open(dir).with_context(|| {
            if args.url.is_some() {
                "the built-in query mix is drawn from the index: give --index DIR or --queries FILE"
            } else {
                "opening the index"
            }
        })
    };
    let mut index = None;
    let queries = match &args.queries {
        Some(path) => crate::bench::load_queries(path, &cfg.limits.engine())?,
        None => {
            let ix = open()?;
            let queries = crate::bench::builtin_queries(&ix, args.seed, &cfg.limits.engine())?;
            index = Some(ix);
            queries
        }
    };
    let target = match args.url {
        Some(url) => Target::Http(url.trim_end_matches('/').to_string()),
        None => {
            let ix = match index {
                Some(ix) => ix,
                None => open()?,
            };
            Target::Index(Box::new(Engine::with_options(ix, cfg.engine_options()?)))
        }
    };
    let stop = match args.requests {
        Some(n) => Stop::Requests(n),
        None => Stop::Duration(seconds("--duration", args.duration)?),
    };
    let opts = BenchOptions {
        target,
        queries,
        concurrency: args.concurrency,
        stop,
        warmup: seconds("--warmup", args.warmup)?,
        rate: args.rate,
        timeout: seconds("--timeout", args.timeout)?,
        progress: std::io::stderr().is_terminal(),
    };
    let report = crate::bench::run(&opts)?;
    if args.json {
        out(&serde_json::to_string(&report)?)?;
    } else {
        print!("{}", report.table());
    }
    if let Some(path) = &args.report {
        std::fs::write(path, report.html())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    // Nothing answered (a dead server, a wrong URL): no latency was
    // measured, so the run failed, whatever the error count says of it.
    let ok = report
        .overall
        .requests
        .saturating_sub(report.overall.errors);
    if ok == 0 {
        eprintln!(
            "postsearch: error: no request succeeded ({} errors: {:?})",
            report.overall.errors, report.errors_by_kind
        );
        return Ok(EXIT_FAILED);
    }
    Ok(0)
}
