//! The problems posts are about, each with three symptoms.

use super::{problem, Problem};

pub const PROBLEMS: &[Problem] = &[
    problem(
        "n+1 queries",
        [
            "a page that issues hundreds of small queries",
            "list views that slow down as the data grows",
            "database call counts that scale with the number of rows",
        ],
    ),
    problem(
        "memory leaks in long-running workers",
        [
            "resident memory that climbs until the worker restarts",
            "out-of-memory kills after a few days of uptime",
            "heap snapshots that keep growing between deploys",
        ],
    ),
    problem(
        "keeping staging close to production",
        [
            "configuration drift between environments",
            "bugs that only appear after deploy",
            "stale staging data that hides edge cases",
        ],
    ),
    problem(
        "flaky integration tests",
        [
            "tests that pass locally and fail in ci",
            "random timeouts in the test suite",
            "retries that hide real failures",
        ],
    ),
    problem(
        "slow docker builds",
        [
            "layers that rebuild on every commit",
            "huge build contexts sent to the daemon",
            "dependency installs that ignore the cache",
        ],
    ),
    problem(
        "cache invalidation",
        [
            "stale values served after updates",
            "cache stampedes right after expiry",
            "inconsistent reads across nodes",
        ],
    ),
    problem(
        "zero-downtime migrations",
        [
            "table locks during schema changes",
            "long-running backfills that block writes",
            "deploys that still require a maintenance window",
        ],
    ),
    problem(
        "slow api response times",
        [
            "p99 latency spikes at peak hours",
            "endpoints that time out under load",
            "serialization overhead in hot paths",
        ],
    ),
    problem(
        "connection pool exhaustion",
        [
            "requests waiting for a free connection",
            "too many clients errors from the database",
            "idle connections held by crashed workers",
        ],
    ),
    problem(
        "noisy alerting",
        [
            "pages that fire at night without any action to take",
            "alerts that nobody owns",
            "duplicate notifications for a single incident",
        ],
    ),
    problem(
        "secret management",
        [
            "credentials committed to the repository",
            "long-lived api keys shared between services",
            "secrets copied between environments by hand",
        ],
    ),
    problem(
        "dependency upgrades",
        [
            "pinned versions several majors behind",
            "breaking changes discovered in production",
            "transitive vulnerabilities flagged by scanners",
        ],
    ),
    problem(
        "race conditions in background jobs",
        [
            "duplicate job execution",
            "lost updates between concurrent workers",
            "jobs that run before the transaction commits",
        ],
    ),
    problem(
        "slow ci pipelines",
        [
            "forty-minute pipelines for a one-line change",
            "serial test stages that could run in parallel",
            "cache misses on every run",
        ],
    ),
    problem(
        "log volume and cost",
        [
            "log bills that grow faster than traffic",
            "debug logging left on in production",
            "unstructured messages that are hard to search",
        ],
    ),
    problem(
        "rate limiting public apis",
        [
            "abusive clients exhausting capacity",
            "bursty traffic from batch integrations",
            "unfair sharing between tenants",
        ],
    ),
    problem(
        "handling timeouts and retries",
        [
            "retry storms after a short outage",
            "cascading failures between services",
            "requests retried without idempotency keys",
        ],
    ),
    problem(
        "database deadlocks",
        [
            "transactions aborted under concurrency",
            "lock ordering that differs between code paths",
            "hot rows updated by many writers",
        ],
    ),
    problem(
        "large file uploads",
        [
            "uploads that fail halfway through",
            "request bodies that exhaust memory",
            "proxies that cut off slow clients",
        ],
    ),
    problem(
        "search relevance tuning",
        [
            "results that miss obvious matches",
            "ranking that favours old content",
            "synonyms and plurals that are not handled",
        ],
    ),
    problem(
        "feature flag cleanup",
        [
            "flags that stay on for years",
            "dead branches in the code",
            "unclear flag ownership",
        ],
    ),
    problem(
        "observability gaps",
        [
            "incidents without useful traces",
            "metrics without labels",
            "missing correlation ids between services",
        ],
    ),
    problem(
        "cold starts",
        [
            "first requests that take seconds",
            "heavy initialization at import time",
            "scaling events that hurt latency",
        ],
    ),
    problem(
        "bundle size growth",
        [
            "javascript bundles that double in a year",
            "slow first paint on mobile devices",
            "unused dependencies shipped to users",
        ],
    ),
    problem(
        "timezone bugs",
        [
            "reports that shift by one day",
            "scheduled jobs that run twice at daylight saving changes",
            "naive timestamps stored in the database",
        ],
    ),
    problem(
        "pagination at scale",
        [
            "offset queries that slow down on deep pages",
            "duplicate items between pages",
            "unstable sort orders",
        ],
    ),
    problem(
        "queue backlogs",
        [
            "consumers that fall behind during peaks",
            "poison messages blocking a partition",
            "unbounded queue growth overnight",
        ],
    ),
    problem(
        "infrastructure drift",
        [
            "manual changes made in the console",
            "infrastructure that no longer matches the code",
            "surprise diffs in plan output",
        ],
    ),
    problem(
        "slow test suites",
        [
            "unit tests that hit the network",
            "fixtures rebuilt for every single test",
            "suites that take longer than the build",
        ],
    ),
    problem(
        "inconsistent error handling",
        [
            "swallowed exceptions",
            "error messages that leak internals",
            "inconsistent status codes across endpoints",
        ],
    ),
    problem(
        "api versioning",
        [
            "breaking changes shipped to old clients",
            "endpoints nobody dares to remove",
            "undocumented response changes",
        ],
    ),
    problem(
        "session management",
        [
            "users logged out at random",
            "sticky sessions that defeat load balancing",
            "session stores that grow without bounds",
        ],
    ),
    problem(
        "thread pool starvation",
        [
            "blocking calls on async executors",
            "requests queued behind slow io",
            "cpu-bound work on request threads",
        ],
    ),
    problem(
        "index bloat",
        [
            "indexes larger than the table they cover",
            "unused indexes slowing down writes",
            "vacuum that cannot keep up",
        ],
    ),
    problem(
        "cloud cost control",
        [
            "idle resources left running for months",
            "over-provisioned instances",
            "data transfer charges nobody expected",
        ],
    ),
    problem(
        "container resource limits",
        [
            "pods killed for exceeding memory limits",
            "cpu throttling under load",
            "requests and limits copied without measurement",
        ],
    ),
    problem(
        "blue-green deployments",
        [
            "traffic switched before warmup",
            "database changes that break the old version",
            "rollbacks that take too long",
        ],
    ),
    problem(
        "data consistency across services",
        [
            "orders without matching payments",
            "dual writes that slowly diverge",
            "events published before the commit",
        ],
    ),
    problem(
        "accessibility regressions",
        [
            "buttons without labels",
            "focus traps in modal dialogs",
            "colour contrast that fails audits",
        ],
    ),
    problem(
        "authentication token refresh",
        [
            "expired tokens breaking long sessions",
            "refresh races between browser tabs",
            "tokens stored in unsafe places",
        ],
    ),
    problem(
        "slow startup times",
        [
            "services that take minutes to become ready",
            "health checks that fail during boot",
            "eager loading of rarely used modules",
        ],
    ),
    problem(
        "backup and restore drills",
        [
            "backups nobody has ever restored",
            "restore times measured in days",
            "missing point-in-time recovery",
        ],
    ),
    problem(
        "schema evolution for events",
        [
            "consumers that break on new fields",
            "incompatible payload changes",
            "unversioned message formats",
        ],
    ),
    problem(
        "hot partitions",
        [
            "one shard taking most of the writes",
            "uneven key distribution",
            "throttling on a single partition",
        ],
    ),
];
