//! The library's behaviour through its public API (no binary, no server):
//! the engine's contracts on small hand-made corpora, and concurrent
//! readers and writers on one index.

mod concurrency;
mod engine;
