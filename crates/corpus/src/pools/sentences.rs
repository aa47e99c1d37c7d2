//! Sentence templates: openers, body sentences, checklists and notes.

/// First sentence of a post.
pub const INTRO_OPENERS: &[&str] = &[
    "a reliable {stack} setup is less about clever code and more about repeatable habits.",
    "{problem} is one of those issues that looks small in {stack} until it shows up in production.",
    "most teams running {stack} meet {problem} sooner or later, usually at the worst possible time.",
    "this post collects what we learned about {problem} while maintaining a {stack} codebase.",
    "if you work with {stack}, you have probably seen {symptom}.",
    "{problem} rarely has a single cause, and {stack} projects are no exception.",
    "we spent several weeks on {problem} in {stack}, and most of the time went into measuring rather than coding.",
    "the symptoms of {problem} in {stack} are easy to recognise once you have seen {symptom}.",
];

/// Second sentence of a post.
pub const INTRO_FOLLOWUPS: &[&str] = &[
    "in this guide, we look at {problem} {scenario} and keep the steps focused on production work.",
    "the notes below walk through {problem} {scenario}, from the first measurement to the final rollout.",
    "here we cover {problem} {scenario}, with the checks we now run before every release.",
    "the approach below is deliberately {adj}, and it was tested {scenario}.",
    "what follows is a {adj} walkthrough of {problem} {scenario}, written for {team}.",
    "everything here was tried {scenario}, so the advice leans towards {adj} changes.",
];

/// Sentences for the middle sections; a post draws from them without
/// repetition.
pub const SENTENCES: &[&str] = &[
    "start by writing down what the system currently does.",
    "include the route, the expected input, the slow query or failing command, and the exact place where the user notices the problem.",
    "this small baseline prevents random changes and makes the final result easier to verify.",
    "the first useful improvement is usually visibility.",
    "collect the {metric}, the {metric}, and the {metric} before changing code.",
    "if those numbers are not available, add a lightweight log line or health check instead of guessing.",
    "for performance work, change one variable at a time.",
    "measure the before state, apply the smallest safe change, and compare the result.",
    "for this {stack} case, keep the owner, expected result, and rollback note in the same place.",
    "keep the implementation boring on purpose.",
    "a clear function name, a small configuration array, and one predictable code path will usually survive future maintenance better than a clever abstraction.",
    "the alphanode approach is to prefer a small verified change over a broad rewrite.",
    "in {stack}, {problem} often starts in the {component}, not where the error finally appears.",
    "we used {tool} to capture the {metric} and {tool} to confirm the change did not move the {metric}.",
    "the quickest win was to {action}, which removed most of the noise.",
    "after that, we decided to {action} and {action}.",
    "the typical warning sign is {symptom}.",
    "when {symptom} shows up, check the {component} first.",
    "a common mistake is to {action} without a baseline, which turns every later discussion into guesswork.",
    "the risk of skipping this step is {risk}.",
    "ignoring {problem} for too long usually ends in {risk}.",
    "{team} should be able to read the {artifact} and understand why the change was made.",
    "write the {artifact} while the details are fresh, not after the next incident.",
    "we keep a {artifact} next to the code so that {team} can find it without asking.",
    "{tool} is useful here because it shows the {metric} per request instead of an average.",
    "do not trust a single run; repeat the measurement {time} and keep the numbers.",
    "a {adj} change is easier to review, easier to revert, and easier to explain to {team}.",
    "the goal is not a perfect {metric} but a {metric} that stays inside an agreed budget.",
    "once the {component} was isolated, the real cause of {problem} became obvious.",
    "in our case, {outcome}.",
    "the result was modest but real: {outcome}.",
    "it is tempting to blame {stack} itself, but most of the time the issue is in how the {component} is configured.",
    "{stack} gives you enough hooks to see what is going on, as long as someone turns them on.",
    "set up {tool} early, even if the first dashboards are ugly.",
    "we reviewed the {artifact} {time} and removed anything that no longer matched reality.",
    "treat the {component} as a shared resource with a clear owner.",
    "the {metric} tells you whether the fix works; the {metric} tells you whether it costs too much.",
    "keep an eye on the {metric} for at least a day after the change, because some effects only appear under real traffic.",
    "if {tool} is already part of the {stack} toolchain, use it before adding anything new.",
    "adding another tool is rarely the answer; to {action} is usually cheaper.",
    "before you {action}, agree with {team} on what success looks like.",
    "the same pattern applies to the {component} and the {component}, so fix it once and reuse the approach.",
    "a {adj} rollout plan matters more than the code change itself.",
    "roll the change out to a small share of traffic first and watch the {metric}.",
    "if the numbers move in the wrong direction, roll back first and investigate second.",
    "small teams feel {problem} more because there is no one whose full-time job is the {component}.",
    "on larger systems, {problem} tends to hide behind averages, so look at percentiles.",
    "we learned to {action} {time}, which caught two regressions before they reached users.",
    "automate the check so that {problem} cannot quietly come back.",
    "a short {artifact} with numbers is worth more than a long one with opinions.",
    "the {component} was doing far more work than anyone expected, mostly because of {symptom}.",
    "pair the change with a test that fails if {symptom} returns.",
    "none of this requires a new framework; it requires {adj} habits and a little patience.",
    "be explicit about defaults, because implicit defaults in {stack} differ between versions.",
    "log the decision in the {artifact} so that {team} does not repeat the investigation next year.",
    "we also found that the {component} and the {component} were fighting over the same limits.",
    "{tool} made the problem visible within minutes, which was the turning point.",
    "when in doubt, {action}; it is cheap and easy to undo.",
    "most of the effort went into proving the fix, not writing it, and that is normal for {problem}.",
    "the change should be {adj} and {adj}, and the {artifact} should say how to undo it.",
    "check the {metric} {scenario} as well, because that is where the surprises hide.",
    "{problem} tends to reappear whenever the {component} changes, so keep the checks in ci.",
    "the numbers from {tool} and {tool} did not agree at first, which pointed to a measurement bug rather than a code bug.",
    "explain the trade-off in plain words: what gets faster, what gets slower, and what it costs.",
    "the {language} code involved was short, which kept the review fast and focused.",
    "a minimal {language} reproduction made it much easier to discuss {problem} with {team}.",
    "in our case the root cause was {cause}.",
    "the investigation ended at {cause}, which nobody had suspected.",
    "look for {cause}; it is a surprisingly common source of {problem}.",
    "{tool} pointed straight at {cause} once we knew where to look.",
    "fixing {cause} took ten lines, while finding it took three days.",
    "the first place it hurt was {place}, through {symptom}.",
    "we reproduced it with {place} and an anonymised copy of production data.",
    "{place} is usually where users notice {problem} first.",
    "after the fix, {place} became the benchmark we run {time}.",
    "resist the urge to refactor everything around {place}; narrow scope keeps the review honest.",
    "sometimes the culprit is mundane, such as {cause}, rather than anything specific to {stack}.",
    "vendor documentation rarely mentions {cause}, so write it down for {team}.",
    "keep screenshots of the {metric} graph before and after; they settle arguments quickly.",
    "capacity headroom matters: a fix that works at today's load may buckle during seasonal peaks.",
    "consider whether the {component} even needs to exist, since deleting code is the cheapest optimisation available.",
    "budget time for cleanup, because temporary workarounds have a habit of becoming permanent architecture.",
    "our main constraint was {constraint}, which ruled out the obvious fix.",
    "with {constraint}, a gradual approach was the only realistic option.",
    "plan around {constraint} instead of pretending it does not exist.",
    "negotiating around {constraint} took longer than writing the patch itself.",
    "good engineering here means weighing convenience against durability, and choosing durability unless evidence says otherwise.",
    "it helps to understand {concept} before touching the {component}.",
    "{concept} sounds academic, but it turned out to be the practical key to {problem}.",
    "we considered {concept} and {concept}, and picked whichever was simpler to operate.",
    "a short primer on {concept} in the {artifact} saved {team} hours of reading.",
    "curiosity helps: ask why the {component} behaves this way before deciding it is broken.",
];

/// Sentences for the closing paragraph.
pub const FINAL_SENTENCES: &[&str] = &[
    "the best result is not only a faster or cleaner {stack} implementation.",
    "it is a change that another developer can inspect, understand, and safely repeat.",
    "keep the final commands, metrics, and assumptions close to the article so future maintenance is easier.",
    "{problem} will come back in some form, so the real deliverable is the habit of measuring it.",
    "if you only take one thing from this post, {action} before anything else.",
    "revisit the {artifact} {time} and update it when the {stack} setup changes.",
    "share the numbers with {team}; it makes the next change easier to approve.",
    "a {adj} fix that everyone understands beats a clever one that nobody can maintain.",
    "the work is done when the {metric} is stable and the {artifact} explains why.",
    "treat this as a starting point and adjust the defaults to your own {stack} traffic.",
];

/// Optional extra section headings.
pub const EXTRA_HEADINGS: &[&str] = &[
    "what to measure",
    "common mistakes",
    "rolling it out",
    "trade-offs",
    "how to verify the fix",
    "when not to do this",
];

/// Checklist items, in workflow order (a post keeps the order).
pub const CHECKLIST: &[&str] = &[
    "record the baseline metrics",
    "reproduce the issue locally",
    "write the rollback note",
    "pin dependency versions",
    "run linting",
    "run unit tests",
    "run one integration check",
    "review the query plan",
    "load test the critical path",
    "scan the image for vulnerabilities",
    "check resource limits",
    "confirm the migration is reversible",
    "review access permissions",
    "verify staging config",
    "verify health checks",
    "ask for a second review",
    "enable the feature flag for internal users",
    "tag the release",
    "announce the change in the team channel",
    "watch the metrics for one hour",
    "compare before and after numbers",
    "review alert thresholds",
    "remove the temporary logging",
    "clean up old feature flags",
    "confirm backups are recent",
    "rotate affected credentials",
    "update the runbook",
    "update the changelog",
    "close the tracking ticket",
];

/// Checklist items naming a tool, one of which may be added to a post.
pub const TOOL_CHECKS: &[&str] = &[
    "review the {tool} output",
    "run {tool} before merging",
    "capture a {tool} baseline",
    "keep the {tool} config in the repository",
];

pub const EMPHASES: &[&str] = &[
    "measurement",
    "safe defaults",
    "rollback planning",
    "maintainable documentation",
    "incremental rollout",
    "observability",
    "cost awareness",
    "test coverage",
    "clear ownership",
    "capacity planning",
];

pub const BRIEFS: &[&str] = &[
    "the article is written like a careful ai generated engineering draft: it explains the reason for the change, lists operational checks, and avoids pretending that one command fixes every production case.",
    "a {difficulty}-level walkthrough that treats {problem} as an engineering problem: baseline first, one change at a time, and a written rollback plan.",
    "the post reads like an internal engineering note for {stack} teams: concrete checks, explicit defaults, and no promise of a silver bullet.",
    "a structured draft that moves from symptoms to measurement to a {adj} fix, with a checklist that can be reused in {stack} projects.",
];

pub const RECOMMENDED_ACTIONS: &[&str] = &[
    "measure first, change carefully, document the result",
    "reproduce the issue before touching the code",
    "ship the smallest safe change behind a flag",
    "automate the check so it cannot regress",
    "agree on an owner and a rollback plan",
    "fix the root cause, then add a regression test",
];

/// The notes every post carries (as in the seed post).
pub const NOTES: &[&str] = &[
    "sanitized array meta is expected to render as a list in the frontend box",
    "view count is synthetic and only used for testing meta volume",
    "content is generated for import/load testing and should be reviewed before indexing",
];

/// Notes some posts carry in addition.
pub const EXTRA_NOTES: &[&str] = &[
    "images were stripped during the export",
    "code samples were shortened for the page",
    "figures in this post are illustrative",
    "the original draft was split into two posts",
];
