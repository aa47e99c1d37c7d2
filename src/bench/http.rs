//! The HTTP target of a benchmark: a tokio runtime and a keep-alive hyper
//! client sending the queries to a running server.

use super::{merge_all, BenchOptions, BenchQuery, Live, Plan, Recorder};
use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, Instant};

/// A fetch that failed: while sending or while reading the answer.
enum FetchError {
    Send(hyper_util::client::legacy::Error),
    Read(hyper::Error),
}

/// A server to send the queries to: a tokio runtime and a keep-alive client.
pub(super) struct HttpTarget {
    runtime: tokio::runtime::Runtime,
    client: Client<HttpConnector, Empty<Bytes>>,
    uris: Vec<hyper::Uri>,
}

impl HttpTarget {
    pub(super) fn new(
        base: &str,
        queries: &[BenchQuery],
        concurrency: usize,
    ) -> Result<HttpTarget> {
        let base = base.trim_end_matches('/');
        if !base.starts_with("http://") {
            bail!("--url must be http://HOST:PORT (got {base:?}; https is not supported)");
        }
        let uris = queries
            .iter()
            .map(|q| {
                format!("{base}{}", q.path)
                    .parse::<hyper::Uri>()
                    .with_context(|| format!("bad URL {base}{}", q.path))
            })
            .collect::<Result<Vec<_>>>()?;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(concurrency)
            .max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = {
            let _guard = runtime.enter();
            Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(concurrency)
                .pool_idle_timeout(Duration::from_secs(90))
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .build(connector)
        };
        Ok(HttpTarget {
            runtime,
            client,
            uris,
        })
    }

    pub(super) fn run(&self, opts: &BenchOptions, plan: &Plan, live: &Live) -> Result<Recorder> {
        self.runtime.block_on(async {
            // The workers borrow the plan and the queries, so they are
            // joined in place rather than spawned ('static); the multi-
            // thread runtime still drives the connections' I/O.
            let workers = (0..opts.concurrency).map(|_| self.worker(opts, plan, live));
            let recorders = futures_util::future::join_all(workers).await;
            Ok(merge_all(recorders))
        })
    }

    async fn worker(&self, opts: &BenchOptions, plan: &Plan, live: &Live) -> Recorder {
        let n = opts.queries.len() as u64;
        let mut rec = Recorder::new();
        while let Some((i, due)) = plan.take() {
            // Closed loop: due now, so no timer at all (tokio's timer ticks
            // in whole milliseconds: sleeping "until now" waits for the
            // next tick, ~0.5 ms on average, which would be counted as
            // latency). Open loop: wait for the scheduled time.
            if due > Instant::now() {
                tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            }
            let k = (i % n) as usize;
            let error = match tokio::time::timeout(opts.timeout, self.fetch(&self.uris[k])).await {
                Err(_) => Some("timeout".to_string()),
                Ok(Err(e)) => Some(classify(&e).to_string()),
                Ok(Ok(status)) if !(200..300).contains(&status) => Some(format!("http_{status}")),
                Ok(Ok(_)) => None,
            };
            rec.record(live, opts.queries[k].kind, due.elapsed(), error);
        }
        rec
    }

    async fn fetch(&self, uri: &hyper::Uri) -> Result<u16, FetchError> {
        let resp = self
            .client
            .get(uri.clone())
            .await
            .map_err(FetchError::Send)?;
        let status = resp.status().as_u16();
        resp.into_body().collect().await.map_err(FetchError::Read)?;
        Ok(status)
    }
}

fn classify(e: &FetchError) -> &'static str {
    let hyper_error = match e {
        FetchError::Send(e) if e.is_connect() => return "connect",
        FetchError::Send(e) => {
            std::error::Error::source(e).and_then(|s| s.downcast_ref::<hyper::Error>())
        }
        FetchError::Read(e) => Some(e),
    };
    match hyper_error {
        Some(e) if e.is_timeout() => "timeout",
        Some(e) if e.is_incomplete_message() || e.is_closed() => "closed",
        _ => "io",
    }
}
