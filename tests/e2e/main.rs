//! End-to-end tests: the real `postsearch` binary and the real server on a
//! free port, driven as users and clients drive them (the command line,
//! HTTP, the Meilisearch Python client, headless Chromium), one test binary
//! for all of them.

mod common;

mod abuse;
mod analytics;
mod bench;
mod browser;
mod cli;
mod crash;
mod deploy;
mod eval;
mod hardening;
mod http;
mod meili_browser;
mod meili_http;
mod meili_python;
mod props;
mod replicas;
mod synonyms;
