//! The query engine's contracts, on small hand-made corpora: ranking,
//! query language, facets, snippets, similar posts, suggestions.

use postsearch_engine::{
    Engine, EngineOptions, Filter, Limits, MatchMode, RankingConfig, SearchRequest, Sort,
};
use postsearch_store::index::PostIndex;
use postsearch_store::indexer::{Writer, WriterOptions};
use postsearch_store::post::{Post, Score};
use std::ops::Bound;

struct Spec<'a> {
    id: &'a str,
    title: &'a str,
    body: &'a str,
    stack: &'a [&'a str],
    tools: &'a [&'a str],
    difficulty: &'a str,
    quality: u64,
    views: u64,
}

fn post(s: &Spec) -> Post {
    let mut p = Post::new(s.id, s.title);
    p.body = Some(s.body.into());
    p.stack = Some(s.stack.iter().map(|x| x.to_string()).collect());
    p.tools = Some(s.tools.iter().map(|x| x.to_string()).collect());
    p.difficulty = Some(s.difficulty.into());
    p.view_count = Some(s.views);
    p.score = Some(Score {
        quality: Some(s.quality),
        freshness: Some(50),
        depth: Some(50),
        clarity: Some(50),
        ..Score::default()
    });
    p.topic = Some(format!("{} / {}", s.title, s.stack.first().unwrap_or(&"")));
    p.hash = Some(format!("hash-{}", s.id));
    p
}

fn engine_with(posts: &[Post]) -> Engine {
    let index = PostIndex::create_in_ram().unwrap();
    let mut w = Writer::new(&index, WriterOptions::default()).unwrap();
    for p in posts {
        w.upsert(p.clone()).unwrap();
    }
    w.commit().unwrap();
    Engine::new(index, RankingConfig::default())
}

/// An engine on `index` whose ranking is the default one as `edit` changes it.
fn ranked(index: &PostIndex, edit: impl FnOnce(&mut RankingConfig)) -> Engine {
    let mut ranking = RankingConfig::default();
    edit(&mut ranking);
    Engine::new(index.clone(), ranking)
}

fn corpus() -> Vec<Post> {
    let specs = [
        Spec { id: "p1", title: "fixing n+1 queries in django", body: "the n+1 query problem appears when a django view loops over a queryset. use select_related and prefetch_related to cut database calls.", stack: &["django", "python"], tools: &["pytest", "django-debug-toolbar"], difficulty: "intermediate", quality: 80, views: 1000 },
        Spec { id: "p2", title: "kubernetes rollout strategies", body: "a kubernetes deployment can roll out gradually. watch the readiness probe and keep a rollback plan ready for production.", stack: &["kubernetes", "devops"], tools: &["kubectl", "helm"], difficulty: "advanced", quality: 90, views: 50000 },
        Spec { id: "p3", title: "caching in rails", body: "cache invalidation is hard. rails offers fragment caching and russian doll caching; measure the hit rate before and after.", stack: &["rails", "ruby"], tools: &["redis", "rspec"], difficulty: "beginner", quality: 60, views: 300 },
        Spec { id: "p4", title: "python services memory leaks", body: "long running python workers leak memory through global caches. profile with tracemalloc and restart workers on a schedule.", stack: &["python services", "python"], tools: &["pytest", "tracemalloc"], difficulty: "advanced", quality: 70, views: 7000 },
        Spec { id: "p5", title: "flaky integration tests in django", body: "flaky tests come from shared state and time. isolate the database per test and freeze the clock in django tests.", stack: &["django", "python"], tools: &["pytest", "freezegun"], difficulty: "beginner", quality: 85, views: 2500 },
        Spec { id: "p6", title: "escaping user input", body: "never render <script>alert('x')</script> from users; escape &, <, > and quotes in every template.", stack: &["security"], tools: &["bleach"], difficulty: "beginner", quality: 75, views: 100 },
    ];
    specs.iter().map(post).collect()
}

fn ids(engine: &Engine, req: &SearchRequest) -> Vec<String> {
    engine
        .search(req)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn zero_meta_weight_orders_by_text_score_alone() {
    let engine = engine_with(&corpus());
    let req = SearchRequest {
        meta_weight: Some(0.0),
        explain: true,
        match_mode: MatchMode::Any,
        ..SearchRequest::new("django python tests")
    };
    let resp = engine.search(&req).unwrap();
    assert!(resp.hits.len() >= 3);
    for pair in resp.hits.windows(2) {
        let (a, b) = (
            pair[0].explain.as_ref().unwrap(),
            pair[1].explain.as_ref().unwrap(),
        );
        assert!(a.text >= b.text, "{} before {}", pair[0].id, pair[1].id);
        assert_eq!(pair[0].score, a.text);
    }
}

#[test]
fn at_equal_text_score_higher_meta_wins() {
    let mut low = post(&Spec {
        id: "a-low",
        title: "same title",
        body: "identical body text",
        stack: &["x"],
        tools: &[],
        difficulty: "beginner",
        quality: 10,
        views: 10,
    });
    let mut high = post(&Spec {
        id: "z-high",
        title: "same title",
        body: "identical body text",
        stack: &["x"],
        tools: &[],
        difficulty: "beginner",
        quality: 95,
        views: 100000,
    });
    low.topic = None;
    high.topic = None;
    let engine = engine_with(&[low, high]);
    let resp = engine
        .search(&SearchRequest {
            explain: true,
            ..SearchRequest::new("identical")
        })
        .unwrap();
    assert_eq!(resp.hits[0].id, "z-high");
    let (a, b) = (
        resp.hits[0].explain.clone().unwrap(),
        resp.hits[1].explain.clone().unwrap(),
    );
    assert!((a.text - b.text).abs() < 1e-6);
    assert!(a.meta > b.meta);
    // With the blend off, the tie is broken by id.
    let plain = ids(
        &engine,
        &SearchRequest {
            meta_weight: Some(0.0),
            ..SearchRequest::new("identical")
        },
    );
    assert_eq!(plain, ["a-low", "z-high"]);
}

#[test]
fn a_typo_match_ranks_below_the_exact_match() {
    let exact = post(&Spec {
        id: "exact",
        title: "notes",
        body: "we deploy with kubernetes every day",
        stack: &["x"],
        tools: &[],
        difficulty: "beginner",
        quality: 50,
        views: 10,
    });
    let typo = post(&Spec {
        id: "typo",
        title: "notes",
        body: "we deploy with kubernetis every day",
        stack: &["x"],
        tools: &[],
        difficulty: "beginner",
        quality: 50,
        views: 10,
    });
    let engine = engine_with(&[typo, exact]);
    assert_eq!(
        ids(&engine, &SearchRequest::new("kubernetes")),
        ["exact", "typo"]
    );
    assert_eq!(
        ids(&engine, &SearchRequest::new("kubernetis")),
        ["typo", "exact"]
    );
    let off = SearchRequest {
        typos: false,
        ..SearchRequest::new("kubernetes")
    };
    assert_eq!(ids(&engine, &off), ["exact"]);
    // A typo'd query finds the word and highlights it.
    let resp = engine.search(&SearchRequest::new("kubernets")).unwrap();
    assert_eq!(resp.total, 2);
    assert!(resp
        .hits
        .iter()
        .any(|h| h.snippet.contains("<mark>kubernetes</mark>")));
}

#[test]
fn short_queries_need_every_word_and_relax_when_nothing_matches() {
    let engine = engine_with(&corpus());
    let r = engine.search(&SearchRequest::new("django flaky")).unwrap();
    assert_eq!((r.total, r.relaxed), (1, false));
    let r = engine
        .search(&SearchRequest::new("django kubernetes"))
        .unwrap();
    assert!(r.relaxed);
    assert!(r.total >= 3);
    let r = engine
        .search(&SearchRequest {
            match_mode: MatchMode::All,
            ..SearchRequest::new("django kubernetes")
        })
        .unwrap();
    assert_eq!((r.total, r.relaxed), (0, false));
    // Four or more words: any word, BM25-ranked.
    let r = engine
        .search(&SearchRequest::new("django kubernetes rails memory"))
        .unwrap();
    assert!(!r.relaxed);
    assert!(r.total >= 4);
}

/// A long query searched as any of its words (relaxed when most of them
/// matched nothing, or asked for) gives the answer of the union of its
/// words: the same posts in the same order, totals and facet counts, and
/// scores up to the last bits (the union adds them in `f32`, `AnyWords` in
/// `f64`). The reference is the query with a word no post holds excluded,
/// which is searched as the union.
#[test]
fn long_queries_of_any_word_answer_as_the_union_of_their_words() {
    let index = postsearch_corpus::in_ram_index(41, 3, 150, |_, _| {});
    let engine = Engine::new(index, RankingConfig::default());
    let mut relaxed = 0;
    for (q, mode) in [
        // Common words and one no post holds: nothing rarer matches.
        ("how the zzqxunknown and of to", MatchMode::Auto),
        ("when should i qqzzunknown the and a", MatchMode::Auto),
        ("cache deploy memory django queries", MatchMode::Any),
        ("the and of a to in", MatchMode::Any),
        ("databse cachng deploymnet memroy", MatchMode::Any),
    ] {
        for (limit, offset) in [(10, 0), (20, 7)] {
            let request = |q: String| SearchRequest {
                match_mode: mode,
                limit,
                offset,
                ..SearchRequest::new(&q)
            };
            let ours = engine.search(&request(q.to_string())).unwrap();
            let union = engine
                .search(&request(format!("{q} -zzzqqqnowhere")))
                .unwrap();
            relaxed += ours.relaxed as usize;
            assert!(ours.total > 0, "{q}");
            assert_eq!(ours.hits.len(), limit.min(ours.total as usize - offset));
            assert_same_answer(&ours, &union, q);
        }
    }
    // Both ways to any word were taken: relaxed, and asked for.
    assert_eq!(relaxed, 4);
}

/// Short queries of words most posts hold are walked a window at a time
/// (`AllWords`); the answer is the intersection's, which the same query
/// with a word no post holds excluded goes through.
#[test]
fn dense_all_words_queries_answer_as_the_intersection() {
    let index = postsearch_corpus::in_ram_index(43, 3, 200, |_, _| {});
    let engine = Engine::new(index, RankingConfig::default());
    for (q, prefix) in [
        ("the and", false),
        ("the to a", false),
        ("the deploy", false),
        ("the an", true),
        ("and the", false),
    ] {
        let request = |q: String| SearchRequest {
            prefix,
            limit: 20,
            ..SearchRequest::new(&q)
        };
        let ours = engine.search(&request(q.to_string())).unwrap();
        let theirs = engine
            .search(&request(format!("{q} -zzzqqqnowhere")))
            .unwrap();
        assert!(ours.total > 100, "{q}: {}", ours.total);
        assert_same_answer(&ours, &theirs, q);
    }
}

/// Typo and prefix queries on a searcher whose segments a merge has since
/// replaced, their files deleted: the segments' vocabularies were opened
/// with the searcher's generation, so the queries answer as on the merged
/// segment (before, the generation's first such query failed with
/// `FileDoesNotExist` until the reader reloaded).
#[test]
fn typos_and_prefixes_search_segments_a_merge_has_deleted() {
    let index = postsearch_corpus::in_ram_index(47, 3, 100, |_, _| {});
    let before = Engine::new(index.clone(), RankingConfig::default());
    assert!(index.searcher().segment_readers().len() > 1);
    let mut raw: tantivy::IndexWriter<postsearch_store::document::PostDocument> =
        index.index().writer_with_num_threads(1, 20 << 20).unwrap();
    let ids = index.index().searchable_segment_ids().unwrap();
    raw.merge(&ids).wait().unwrap();
    raw.garbage_collect_files().wait().unwrap();
    raw.wait_merging_threads().unwrap();
    let requests = [
        ("databse cachng", false),
        ("deploymnet", false),
        ("the dep", true),
    ];
    let answers: Vec<_> = requests
        .iter()
        .map(|&(q, prefix)| {
            let req = SearchRequest {
                prefix,
                ..SearchRequest::new(q)
            };
            before.search(&req).unwrap()
        })
        .collect();

    index.reload().unwrap();
    assert_eq!(index.searcher().segment_readers().len(), 1);
    let after = Engine::new(index, RankingConfig::default());
    for ((q, prefix), ours) in requests.into_iter().zip(answers) {
        let req = SearchRequest {
            prefix,
            ..SearchRequest::new(q)
        };
        let theirs = after.search(&req).unwrap();
        assert!(ours.total > 0, "{q}");
        assert_same_answer(&ours, &theirs, q);
    }
}

/// `ours` and `theirs` answer `q` alike: the same posts in the same order,
/// totals, relaxation, facet counts and snippets, and scores up to their
/// last bits (sums taken in another order or precision).
fn assert_same_answer(
    ours: &postsearch_engine::SearchResponse,
    theirs: &postsearch_engine::SearchResponse,
    q: &str,
) {
    assert_eq!(
        (ours.total, ours.relaxed, &ours.facets),
        (theirs.total, theirs.relaxed, &theirs.facets),
        "{q}"
    );
    let ids = |r: &postsearch_engine::SearchResponse| {
        r.hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(ours), ids(theirs), "{q}");
    for (a, b) in ours.hits.iter().zip(&theirs.hits) {
        assert!(
            (a.score - b.score).abs() <= 1e-5 * b.score.abs().max(1.0),
            "{q}: {} vs {}",
            a.score,
            b.score
        );
        assert_eq!(a.snippet, b.snippet, "{q}");
    }
}

#[test]
fn phrases_exclusions_and_split_words() {
    let engine = engine_with(&corpus());
    assert_eq!(
        ids(&engine, &SearchRequest::new("\"cache invalidation\"")),
        ["p3"]
    );
    assert!(ids(&engine, &SearchRequest::new("\"invalidation cache\"")).is_empty());
    let with = ids(&engine, &SearchRequest::new("django"));
    let without = ids(&engine, &SearchRequest::new("django -flaky"));
    assert_eq!(with.len(), 2);
    assert_eq!(without, ["p1"]);
    assert_eq!(ids(&engine, &SearchRequest::new("n+1")), ["p1"]);
    assert!(ids(&engine, &SearchRequest::new("-django"))
        .iter()
        .all(|id| id != "p1" && id != "p5"));
}

#[test]
fn field_filters_and_numeric_comparisons() {
    let engine = engine_with(&corpus());
    let mut got = ids(&engine, &SearchRequest::new("stack:python"));
    got.sort();
    assert_eq!(got, ["p1", "p4", "p5"]);
    assert_eq!(
        ids(&engine, &SearchRequest::new("stack:\"python services\"")),
        ["p4"]
    );
    assert_eq!(
        ids(
            &engine,
            &SearchRequest::new("tools:pytest difficulty:beginner")
        ),
        ["p5"]
    );
    let mut got = ids(&engine, &SearchRequest::new("quality:>=85"));
    got.sort();
    assert_eq!(got, ["p2", "p5"]);
    assert_eq!(
        ids(&engine, &SearchRequest::new("django quality:<85")),
        ["p1"]
    );
    assert_eq!(ids(&engine, &SearchRequest::new("views:>10000")), ["p2"]);
    assert_eq!(ids(&engine, &SearchRequest::new("title:caching")), ["p3"]);
    let err = engine
        .search(&SearchRequest::new("quality:>=high"))
        .unwrap_err();
    assert_eq!(err.code(), postsearch_store::ErrorCode::BadRequest);
}

#[test]
fn typed_filters_select_as_the_query_language_does() {
    let engine = engine_with(&corpus());
    let typed = |q: &str, filters: Vec<Filter>, excluded: Vec<Filter>| {
        let mut got = ids(
            &engine,
            &SearchRequest {
                filters,
                excluded_filters: excluded,
                ..SearchRequest::new(q)
            },
        );
        got.sort();
        got
    };
    let facet = |f: &str, v: &str| Filter::facet(f, v).unwrap();
    // Values are normalized as the index holds them.
    assert_eq!(
        typed("", vec![facet("stack", " Python ")], vec![]),
        ["p1", "p4", "p5"]
    );
    assert_eq!(
        typed("", vec![facet("stack", "python services")], vec![]),
        ["p4"]
    );
    assert_eq!(
        typed(
            "",
            vec![facet("stack", "python")],
            vec![facet("stack", "django")]
        ),
        ["p4"]
    );
    let at_least_85 = Filter::range("quality", Bound::Included(85), Bound::Unbounded).unwrap();
    assert_eq!(typed("", vec![at_least_85.clone()], vec![]), ["p2", "p5"]);
    // With the query's own words and filters, ANDed.
    assert_eq!(typed("django", vec![at_least_85], vec![]), ["p5"]);
    assert_eq!(
        typed(
            "stack:python tests",
            vec![facet("tools", "freezegun")],
            vec![]
        ),
        ["p5"]
    );
    // A value no query text could hold (a quote) is just a value.
    assert!(typed("", vec![facet("stack", "say \"hi\"")], vec![]).is_empty());
    // Typed filters do not count against the query's limit of 32 terms:
    // 32 words and a filter still filter; a 33rd word is refused, not
    // dropped.
    let words = "django ".repeat(32);
    assert_eq!(
        typed(&words, vec![facet("difficulty", "beginner")], vec![]),
        ["p5"]
    );
    let err = engine
        .search(&SearchRequest::new("django ".repeat(33)))
        .unwrap_err();
    assert_eq!(err.param(), Some("q"));
    // A field that is not a facet (or numeric) field is the caller's error.
    let err = engine
        .search(&SearchRequest {
            filters: vec![Filter::Facet {
                field: "colour".into(),
                value: "red".into(),
            }],
            ..SearchRequest::new("")
        })
        .unwrap_err();
    assert_eq!(err.param(), Some("filter"));
    assert!(Filter::facet("colour", "red").is_err());
    assert!(Filter::range("stack", Bound::Unbounded, Bound::Unbounded).is_err());
}

#[test]
fn prefix_matches_the_last_word_unstemmed() {
    let engine = engine_with(&corpus());
    assert!(ids(&engine, &SearchRequest::new("kuber")).is_empty());
    let req = SearchRequest {
        prefix: true,
        ..SearchRequest::new("kuber")
    };
    assert_eq!(ids(&engine, &req), ["p2"]);
    // `invalidat` is not a stem of anything, but completes `invalidation`.
    let req = SearchRequest {
        prefix: true,
        ..SearchRequest::new("cache invalidat")
    };
    assert_eq!(ids(&engine, &req), ["p3"]);
}

#[test]
fn sorts_break_ties_by_id() {
    let engine = engine_with(&corpus());
    let by = |sort| {
        ids(
            &engine,
            &SearchRequest {
                sort,
                limit: 10,
                ..SearchRequest::new("")
            },
        )
    };
    assert_eq!(by(Sort::Views), ["p2", "p4", "p5", "p1", "p3", "p6"]);
    assert_eq!(by(Sort::Quality), ["p2", "p5", "p1", "p6", "p4", "p3"]);
    // Paging walks the same order.
    let page = |offset| {
        ids(
            &engine,
            &SearchRequest {
                sort: Sort::Views,
                limit: 2,
                offset,
                ..SearchRequest::new("")
            },
        )
    };
    assert_eq!([page(0), page(2), page(4)].concat(), by(Sort::Views));
}

#[test]
fn facet_counts_are_disjunctive() {
    let engine = engine_with(&corpus());
    let r = engine.search(&SearchRequest::new("")).unwrap();
    assert_eq!(r.facets["stack"]["python"], 3);
    assert_eq!(r.facets["difficulty"]["beginner"], 3);
    assert_eq!(r.facets["quality"]["85-100"], 2);
    // Selecting difficulty=beginner: the difficulty counts ignore it, the
    // others are narrowed by it.
    let r = engine
        .search(&SearchRequest::new("").facet("difficulty", "beginner"))
        .unwrap();
    assert_eq!(r.total, 3);
    assert_eq!(r.facets["difficulty"]["advanced"], 2);
    assert_eq!(r.facets["difficulty"]["beginner"], 3);
    assert_eq!(r.facets["stack"]["python"], 1);
    assert_eq!(r.facets["stack"].get("kubernetes"), None);
    // OR within a field, AND across.
    let r = engine
        .search(
            &SearchRequest::new("")
                .facet("difficulty", "beginner")
                .facet("difficulty", "advanced")
                .facet("stack", "python"),
        )
        .unwrap();
    assert_eq!(r.total, 2);
    let r = engine
        .search(&SearchRequest::new("").facet("quality", "85-100"))
        .unwrap();
    assert_eq!(r.total, 2);
    assert_eq!(r.facets["quality"]["70-84"], 3);
    assert!(engine
        .search(&SearchRequest::new("").facet("colour", "red"))
        .is_err());
}

#[test]
fn hits_are_html_safe_and_keep_stored_values() {
    let engine = engine_with(&corpus());
    let r = engine.search(&SearchRequest::new("alert")).unwrap();
    let hit = &r.hits[0];
    assert!(!hit.snippet.contains("<script>"));
    assert!(hit.snippet.contains("&lt;script&gt;<mark>alert</mark>"));
    assert_eq!(hit.stack, ["security"]);
    let r = engine.search(&SearchRequest::new("kubernetes")).unwrap();
    assert_eq!(r.hits[0].title, "kubernetes rollout strategies");
    assert_eq!(
        r.hits[0].title_html,
        "<mark>kubernetes</mark> rollout strategies"
    );
}

#[test]
fn similar_posts_skip_self_and_duplicates() {
    let mut posts = corpus();
    let mut dup = posts[0].clone();
    dup.id = "p1-copy".into();
    posts.push(dup); // same hash as p1
    let mut near = posts[4].clone();
    near.id = "p5-near".into();
    near.hash = Some("other".into());
    near.title = "django tests that flake".into();
    posts.push(near);
    let engine = engine_with(&posts);
    let r = engine.similar("p1", 5).unwrap();
    let got: Vec<_> = r.hits.iter().map(|h| h.id.as_str()).collect();
    assert!(!got.contains(&"p1") && !got.contains(&"p1-copy"), "{got:?}");
    assert!(got[0] == "p5" || got[0] == "p5-near", "{got:?}");
    let r = engine.similar("p5", 5).unwrap();
    assert_eq!(r.hits[0].id, "p5-near");
    assert!(engine.similar("missing", 5).is_err());
    let r = engine
        .similar_to_text(
            "draft",
            "our django view makes n+1 queries to the database",
            3,
        )
        .unwrap();
    assert_eq!(r.hits[0].id, "p1");
}

/// Many exact copies of `p1` (its hash, other ids) and a post like it: more
/// copies than similar posts weighs candidates; and posts on another
/// subject, so that p1's words are not in half the posts (too common to
/// weigh).
fn p1_copies_and_a_near_post() -> Vec<Post> {
    let mut posts = corpus();
    for i in 0..150 {
        let mut other = Post::new(format!("garden{i}"), "tomatoes in the garden");
        other.body = Some("water the tomato plants early in the morning".into());
        posts.push(other);
    }
    for i in 0..80 {
        let mut copy = posts[0].clone();
        copy.id = format!("p1-copy{i}");
        posts.push(copy);
    }
    let mut near = posts[0].clone();
    near.id = "p1-near".into();
    near.hash = Some("other".into());
    near.title = "n+1 queries in a django view".into();
    posts.push(near);
    posts
}

/// The ids of the posts most like `id`.
fn similar_ids(engine: &Engine, id: &str, limit: usize) -> Vec<String> {
    let r = engine.similar(id, limit).unwrap();
    r.hits.into_iter().map(|h| h.id).collect()
}

#[test]
fn similar_posts_are_not_crowded_out_by_copies_of_the_source() {
    // The copies rank first on text and are skipped as candidates, not
    // only when the answer is read: the post like p1 is still found.
    let engine = engine_with(&p1_copies_and_a_near_post());
    let got = similar_ids(&engine, "p1", 3);
    assert_eq!(got.first().map(String::as_str), Some("p1-near"), "{got:?}");
    assert!(got.iter().all(|id| !id.starts_with("p1-copy")), "{got:?}");
}

#[test]
fn an_index_whose_values_are_also_in_the_term_index_is_read_and_written_as_it_is() {
    // Indexes built before the numeric, date, `hash` and `problem` values
    // became columns only keep their schema: opened, written to (their
    // new segments as they were) and answered alike.
    let dir = tempfile::tempdir().unwrap();
    tantivy::Index::builder()
        .schema(postsearch_store::schema::schema_with_indexed_values())
        .register_plugin(std::sync::Arc::new(
            postsearch_store::vocabulary::VocabularyPlugin,
        ))
        .create_in_dir(dir.path())
        .unwrap();
    let old = PostIndex::open(dir.path()).unwrap();
    assert_eq!(
        old.index().schema(),
        postsearch_store::schema::schema_with_indexed_values()
    );
    let posts = p1_copies_and_a_near_post();
    let mut w = Writer::new(&old, WriterOptions::default()).unwrap();
    for p in &posts {
        w.upsert(p.clone()).unwrap();
    }
    w.commit().unwrap();
    let old = Engine::new(old, RankingConfig::default());
    let new = engine_with(&posts);
    assert_ne!(new.index().index().schema(), old.index().index().schema());
    for (q, total) in [
        ("quality:>=85", 2),
        ("views:>10000", 1),
        ("django quality:<85", 82),
        ("n+1 queries", 82),
    ] {
        let total_of = |engine: &Engine| engine.search(&SearchRequest::new(q)).unwrap().total;
        assert_eq!((total_of(&old), total_of(&new)), (total, total), "{q}");
    }
    assert_eq!(ids(&old, &SearchRequest::new("quality:>=85")), ["p2", "p5"]);
    assert_eq!(similar_ids(&old, "p1", 3), similar_ids(&new, "p1", 3));
    assert_eq!(similar_ids(&old, "p1", 3)[0], "p1-near");
}

#[test]
fn suggestions_complete_words_and_titles() {
    let engine = engine_with(&corpus());
    let r = engine.suggest("kube", 5).unwrap();
    assert!(r
        .suggestions
        .iter()
        .any(|s| s.kind == "term" && s.text == "kubernetes"));
    assert!(r
        .suggestions
        .iter()
        .any(|s| s.kind == "title" && s.id.as_deref() == Some("p2")));
    let r = engine.suggest("fixing n+1 que", 5).unwrap();
    assert!(r
        .suggestions
        .iter()
        .any(|s| s.text == "fixing n 1 queries" || s.kind == "title"));
    assert!(engine.suggest("", 5).unwrap().suggestions.is_empty());
}

/// Posts whose 4,200 rare words sort before `cache`, the word of 40 posts.
fn rare_words_then_cache() -> Vec<Post> {
    let mut posts: Vec<Post> = (0..4_200)
        .map(|i| Post::new(format!("rare{i}"), format!("entry ca{i:04}")))
        .collect();
    posts.extend((0..40).map(|i| Post::new(format!("cache{i}"), "cache entry")));
    posts
}

#[test]
fn a_short_prefix_completes_to_its_most_frequent_words_wherever_they_sort() {
    // Before, completions came from the first 2,000 words of a prefix's
    // range: `c` completed to `ca0000`… and never reached `cache`.
    let dir = tempfile::tempdir().unwrap();
    let index = PostIndex::open_or_create(dir.path()).unwrap();
    let opts = WriterOptions::one_thread();
    let mut w = Writer::new(&index, opts).unwrap();
    for p in rare_words_then_cache() {
        w.upsert(p).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    let check = |index: &PostIndex| {
        let engine = Engine::new(index.clone(), RankingConfig::default());
        let first = engine.suggest("c", 5).unwrap().suggestions.remove(0);
        assert_eq!((first.text.as_str(), first.count), ("cache", Some(40)));
        let r = engine
            .search(&SearchRequest {
                q: "c".into(),
                prefix: true,
                limit: 100,
                ..SearchRequest::default()
            })
            .unwrap();
        let cache = r.hits.iter().filter(|h| h.id.starts_with("cache")).count();
        assert_eq!(cache, 40, "total {}", r.total);
    };
    check(&index);
    // A segment written before the tables existed gets one built.
    let mut removed = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "prefixes") {
            std::fs::remove_file(path).unwrap();
            removed += 1;
        }
    }
    assert_eq!(removed, index.searcher().segment_readers().len());
    let reopened = PostIndex::open(dir.path()).unwrap();
    check(&reopened);
    // A damaged table is an error naming its file and the way out.
    let segment = reopened.searcher().segment_readers()[0].segment_id();
    let damaged = dir
        .path()
        .join(format!("{}.prefixes", segment.uuid_string()));
    std::fs::write(&damaged, b"not a table").unwrap();
    let engine = Engine::new(
        PostIndex::open(dir.path()).unwrap(),
        RankingConfig::default(),
    );
    let err = engine.suggest("c", 5).unwrap_err().to_string();
    assert!(
        err.contains(".prefixes") && err.contains("--rebuild"),
        "{err}"
    );
}

#[test]
fn a_lone_letter_completes_to_its_eight_most_frequent_words() {
    // Twelve words of `q`, the i-th in 20 - i posts of its own, beside `zed`.
    let posts: Vec<Post> = (0..12u8)
        .flat_map(|i| {
            let word = format!("q{}", (b'a' + i) as char);
            (0..20 - usize::from(i))
                .map(move |n| Post::new(format!("{word}{n}"), format!("zed {word}")))
        })
        .collect();
    let engine = engine_with(&posts);
    let total = |q: &str| {
        let req = SearchRequest {
            q: q.into(),
            prefix: true,
            ..SearchRequest::default()
        };
        engine.search(&req).unwrap().total
    };
    // Alone, the first keystroke: the 8 most frequent (20 + 19 + … + 13).
    assert_eq!(total("q"), 132);
    // After another word, all twelve (20 + … + 9); two letters, all theirs.
    assert_eq!(total("zed q"), 174);
    assert_eq!(total("qa"), 20);
}

#[test]
fn title_suggestions_hold_the_typed_words_once_each() {
    let mut posts = corpus();
    // p7 shares p2's title; p8 mentions a rollout only in its body.
    let mut twin = posts[1].clone();
    twin.id = "p7".into();
    posts.push(twin);
    let mut body_only = posts[2].clone();
    body_only.id = "p8".into();
    body_only.body = Some("kubernetes rollout notes".into());
    posts.push(body_only);
    let engine = engine_with(&posts);
    let titles: Vec<String> = engine
        .suggest("kubernetes roll", 10)
        .unwrap()
        .suggestions
        .into_iter()
        .filter(|s| s.kind == "title")
        .map(|s| s.text)
        .collect();
    assert_eq!(titles, ["kubernetes rollout strategies"]);
}

#[test]
fn limits_are_enforced() {
    let engine = engine_with(&corpus());
    for (req, param) in [
        (
            SearchRequest {
                limit: 101,
                ..SearchRequest::new("x")
            },
            "limit",
        ),
        (
            SearchRequest {
                offset: 20_000,
                ..SearchRequest::new("x")
            },
            "offset",
        ),
        (SearchRequest::new("x".repeat(2000)), "q"),
    ] {
        match engine.search(&req) {
            Err(postsearch_store::Error::BadRequest { param: p, .. }) => assert_eq!(p, param),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn configured_limits_are_the_ones_enforced() {
    let index = engine_with(&corpus()).index().clone();
    let raised = Engine::with_options(
        index,
        EngineOptions {
            limits: Limits {
                max_limit: 500,
                ..Limits::default()
            },
            ..EngineOptions::default()
        },
    );
    let req = SearchRequest {
        limit: 300,
        ..SearchRequest::new("django")
    };
    assert_eq!(raised.search(&req).unwrap().hits.len(), 2);
    assert!(raised.similar("p1", 300).is_ok());
    let err = raised
        .search(&SearchRequest { limit: 501, ..req })
        .unwrap_err();
    assert_eq!(err.param(), Some("limit"));
}

fn note(id: &str, body: &str) -> Post {
    let mut p = post(&Spec {
        id,
        title: "notes",
        body,
        stack: &["x"],
        tools: &[],
        difficulty: "beginner",
        quality: 50,
        views: 10,
    });
    p.topic = None;
    p
}

#[test]
fn an_abbreviation_finds_the_full_form_scored_below_the_word_typed() {
    let engine = engine_with(&[
        note("short", "we roll out k8s clusters every day"),
        note("long", "we roll out kubernetes clusters every day"),
        note("other", "we roll out servers every day"),
    ]);
    assert_eq!(ids(&engine, &SearchRequest::new("k8s")), ["short", "long"]);
    assert_eq!(
        ids(&engine, &SearchRequest::new("kubernetes clusters")),
        ["long", "short"]
    );
    let off = SearchRequest {
        synonyms: false,
        ..SearchRequest::new("k8s")
    };
    assert_eq!(ids(&engine, &off), ["short"]);
    // The synonym is highlighted, and --explain says what was searched.
    let resp = engine
        .search(&SearchRequest {
            explain: true,
            ..SearchRequest::new("K8s")
        })
        .unwrap();
    assert!(resp.hits[1].snippet.contains("<mark>kubernetes</mark>"));
    assert_eq!(resp.synonyms.len(), 1);
    assert_eq!(resp.synonyms[0].typed, "K8s");
    assert_eq!(resp.synonyms[0].forms, ["kubernetes"]);
    let quiet = engine.search(&SearchRequest::new("k8s")).unwrap();
    assert!(quiet.synonyms.is_empty(), "only with explain");
}

#[test]
fn multi_word_synonyms_match_as_phrases_either_way() {
    let engine = engine_with(&[
        note(
            "full",
            "caching builds in GitHub Actions with a key per lockfile",
        ),
        note(
            "short",
            "caching builds in gh actions with a key per lockfile",
        ),
        note(
            "apart",
            "GitHub stores the cache; actions of the build restore it",
        ),
    ]);
    // Two typed words: the rule covers both, the form is a phrase.
    let found = ids(&engine, &SearchRequest::new("gh actions caching"));
    assert_eq!(found, ["short", "full"]);
    let resp = engine
        .search(&SearchRequest::new("gh actions caching"))
        .unwrap();
    assert!(
        resp.hits[1]
            .snippet
            .contains("<mark>GitHub</mark> <mark>Actions</mark>"),
        "{}",
        resp.hits[1].snippet
    );
    // The other way: the full form finds the abbreviation.
    let back = ids(&engine, &SearchRequest::new("github actions lockfile"));
    assert_eq!(back, ["full", "short"]);
    // A long query (any word may match) keeps the typed words on their own.
    let any = ids(
        &engine,
        &SearchRequest::new("gh actions restore the cache of builds"),
    );
    assert_eq!(any.len(), 3);
    // A phrase asks for exactly what it says.
    let exact = ids(&engine, &SearchRequest::new("\"gh actions\""));
    assert_eq!(exact, ["short"]);
}

#[test]
fn one_way_rules_and_replaced_rules() {
    let engine = engine_with(&[
        note("go", "a go service behind a load balancer"),
        note("golang", "a golang service behind a load balancer"),
    ]);
    assert_eq!(
        ids(&engine, &SearchRequest::new("golang service")),
        ["golang", "go"]
    );
    assert_eq!(ids(&engine, &SearchRequest::new("go service")), ["go"]);
    // New rules apply to the next search, on every clone of the engine.
    let clone = engine.clone();
    let rules = postsearch_engine::Synonyms::parse("[one_way]\n\"go\" = [\"golang\"]").unwrap();
    engine.set_synonyms(rules);
    assert_eq!(
        ids(&clone, &SearchRequest::new("go service")),
        ["go", "golang"]
    );
    assert_eq!(ids(&clone, &SearchRequest::new("golang")), ["golang"]);
}

#[test]
fn distinct_results_show_one_post_per_duplicate_group() {
    let copy = |id: &str, hash: &str, quality: u64, body: &str| {
        let mut p = post(&Spec {
            id,
            title: "notes on caching",
            body,
            stack: &[if id.starts_with('b') {
                "rails"
            } else {
                "django"
            }],
            tools: &[],
            difficulty: "beginner",
            quality,
            views: 10,
        });
        p.topic = None;
        p.hash = (!hash.is_empty()).then(|| hash.to_string());
        p
    };
    let posts = [
        copy("a1", "h-a", 40, "cache the rendered page"),
        copy("a2", "h-a", 90, "cache the rendered page"),
        copy("a3", "h-a", 60, "cache the rendered page"),
        copy("b1", "h-b", 50, "cache the query results in redis"),
        copy("c1", "", 50, "cache nothing at all, ever, anywhere here"),
        copy("c2", "", 50, "cache nothing at all, ever, anywhere here"),
    ];
    // Copies spread over two segments: a group is merged across them.
    let index = PostIndex::create_in_ram().unwrap();
    let mut w = Writer::new(&index, WriterOptions::default()).unwrap();
    for (i, p) in posts.iter().enumerate() {
        w.upsert(p.clone()).unwrap();
        if i == 1 {
            w.commit().unwrap();
        }
    }
    w.commit().unwrap();
    let engine = Engine::new(index.clone(), RankingConfig::default());
    assert!(engine.index().searcher().segment_readers().len() >= 2);
    let all = engine.search(&SearchRequest::new("cache")).unwrap();
    assert_eq!(all.total, 6);
    assert!(all.distinct.is_none() && all.hits.iter().all(|h| h.group_size.is_none()));
    let req = SearchRequest {
        distinct: Some(postsearch_engine::Distinct::Hash),
        ..SearchRequest::new("cache")
    };
    let one = engine.search(&req).unwrap();
    // a2 (the best of its group), b1, and the two posts without a hash.
    assert_eq!(one.total, 4);
    assert_eq!(one.distinct.unwrap().posts, 6);
    let got: Vec<(&str, u64)> = one
        .hits
        .iter()
        .map(|h| (h.id.as_str(), h.group_size.unwrap()))
        .collect();
    assert!(got.contains(&("a2", 3)), "{got:?}");
    assert!(got.contains(&("b1", 1)) && got.contains(&("c1", 1)) && got.contains(&("c2", 1)));
    assert_eq!(got.len(), 4);
    // Facet counts still count posts.
    assert_eq!(one.facets["stack"]["django"], 5);
    // Pages page over groups.
    let page = engine
        .search(&SearchRequest {
            limit: 2,
            offset: 2,
            ..req.clone()
        })
        .unwrap();
    let first: Vec<String> = one.hits[2..].iter().map(|h| h.id.clone()).collect();
    let paged: Vec<String> = page.hits.iter().map(|h| h.id.clone()).collect();
    assert_eq!(paged, first);
    // A filter that leaves one copy leaves a group of one.
    let filtered = engine
        .search(&SearchRequest::new("cache quality:<50").tap_distinct())
        .unwrap();
    assert_eq!(filtered.hits.len(), 1);
    assert_eq!(
        (filtered.hits[0].id.as_str(), filtered.hits[0].group_size),
        ("a1", Some(1))
    );
    // Copies deleted: the one left is a post of its own.
    w.delete("a2").unwrap();
    w.delete("a3").unwrap();
    w.commit().unwrap();
    index.reload().unwrap();
    let after = engine.search(&req).unwrap();
    assert_eq!((after.total, after.distinct.unwrap().posts), (4, 4));
    assert!(after
        .hits
        .iter()
        .any(|h| h.id == "a1" && h.group_size == Some(1)));
}

trait TapDistinct {
    fn tap_distinct(self) -> Self;
}

impl TapDistinct for SearchRequest {
    fn tap_distinct(mut self) -> Self {
        self.distinct = Some(postsearch_engine::Distinct::Hash);
        self
    }
}

#[test]
fn long_queries_can_need_most_of_their_words() {
    let posts = [
        note("two", "alpha bravo and nothing else of note here"),
        note("one", "alpha and nothing else of note here at all"),
    ];
    let q = "alpha bravo charlie delta";
    let any = ids(&engine_with(&posts), &SearchRequest::new(q));
    assert_eq!(any, ["two", "one"]);
    let index = engine_with(&posts).index().clone();
    let half = ranked(&index, |r| r.min_should_match = 0.5);
    assert_eq!(ids(&half, &SearchRequest::new(q)), ["two"]);
    // Nothing with half the words: relaxed to any word.
    let r = half
        .search(&SearchRequest::new("alpha xray yankee zulu"))
        .unwrap();
    assert!(r.relaxed);
    assert_eq!(r.total, 2);
    // Explicit modes are as they were.
    let all = SearchRequest {
        match_mode: MatchMode::Any,
        ..SearchRequest::new(q)
    };
    assert_eq!(ids(&half, &all).len(), 2);
    assert!(RankingConfig {
        min_should_match: 1.5,
        ..RankingConfig::default()
    }
    .validate()
    .is_err());
}

#[test]
fn common_words_of_long_queries_only_add_to_scores() {
    // "the" is in every post; "zebra" in one.
    let mut posts: Vec<Post> = (0..10)
        .map(|i| note(&format!("p{i}"), "the plain text of a post"))
        .collect();
    posts.push(note("z", "the zebra crossing"));
    let index = engine_with(&posts).index().clone();
    // "the" is kept (not left out as a stop word) to see what it adds.
    let common = ranked(&index, |r| r.stop_word_share = 0.0);
    let off = ranked(&index, |r| {
        r.common_word_share = 0.0;
        r.stop_word_share = 0.0;
    });
    let q = SearchRequest::new("how the zebra runs");
    let (with, without) = (common.search(&q).unwrap(), off.search(&q).unwrap());
    // Only the post a rarer word matched; with the union's score.
    assert_eq!((with.total, without.total), (1, 11));
    assert_eq!(with.hits[0].id, "z");
    assert_eq!(without.hits[0].id, "z");
    assert!((with.hits[0].score - without.hits[0].score).abs() < 1e-4);
    assert!(!with.relaxed);
    // Nothing rarer matches: relaxed to any word.
    let r = common
        .search(&SearchRequest::new("how the xray runs"))
        .unwrap();
    assert!(r.relaxed);
    assert_eq!(r.total, 11);
    // Short queries are not concerned.
    assert_eq!(
        common
            .search(&SearchRequest::new("the zebra"))
            .unwrap()
            .total,
        1
    );
    assert_eq!(common.search(&SearchRequest::new("the")).unwrap().total, 11);
}

#[test]
fn words_in_nearly_every_post_are_left_out_of_long_queries() {
    // "the" and "post" are in every post, "zebra" in one, "crossing" in
    // two; enough posts for them to be left out (a word of a small index
    // is not: see `ranking.stop_word_share`).
    let mut posts: Vec<Post> = (0..1000)
        .map(|i| note(&format!("p{i}"), "the plain text of a post"))
        .collect();
    posts.push(note("z", "the zebra crossing post"));
    posts.push(note("c", "the crossing post"));
    let on = engine_with(&posts);
    let off = ranked(on.index(), |r| r.stop_word_share = 0.0);
    let long = SearchRequest::new("the zebra crossing post");
    let (a, b) = (on.search(&long).unwrap(), off.search(&long).unwrap());
    // The same posts match (the common words only added to scores), and
    // they score as the query without the words left out.
    assert_eq!((a.total, b.total), (2, 2));
    assert_eq!(ids(&on, &long), ["z", "c"]);
    let rest = off.search(&SearchRequest::new("zebra crossing")).unwrap();
    assert!((a.hits[0].score - rest.hits[0].score).abs() < 1e-4);
    assert!(b.hits[0].score > a.hits[0].score, "kept, they add a little");
    // A query of nothing but such words keeps them.
    let only = on.search(&SearchRequest::new("the post the post")).unwrap();
    assert_eq!(only.total, 1002);
    // Short queries are not concerned: all words are needed.
    assert_eq!(
        on.search(&SearchRequest::new("the zebra")).unwrap().total,
        1
    );
    // In a small index, no word is left out: the same scores as with the
    // rule off.
    let few = engine_with(&posts[990..]);
    let (r, kept) = (
        few.search(&long).unwrap(),
        ranked(few.index(), |r| r.stop_word_share = 0.0)
            .search(&long)
            .unwrap(),
    );
    assert_eq!((r.total, kept.total), (2, 2));
    assert!((r.hits[0].score - kept.hits[0].score).abs() < 1e-6);
}

#[test]
fn a_typo_on_the_first_letter_counts_as_two() {
    let posts = [
        note("d", "deploy the service"),
        note("k", "kubernetes clusters"),
    ];
    let e = engine_with(&posts);
    // One typo allowed (5-8 letters): not on the first letter.
    assert_eq!(ids(&e, &SearchRequest::new("deplyo")), ["d"]);
    assert!(ids(&e, &SearchRequest::new("seploy")).is_empty());
    // Two allowed (9+ letters): the first letter's typo with the rest exact.
    assert_eq!(ids(&e, &SearchRequest::new("cubernetes")), ["k"]);
    assert_eq!(ids(&e, &SearchRequest::new("kuberentes")), ["k"]);
    assert!(ids(&e, &SearchRequest::new("cuberentes")).is_empty());
}

#[test]
fn a_title_typed_from_memory_finds_its_post_first() {
    // Both posts hold every word; only one title holds them. Without the
    // bonus, the post that repeats the words in its body ranks first.
    let mut body_heavy = note(
        "body",
        "postgres index bloat after vacuum: postgres index bloat, vacuum, index bloat after vacuum again",
    );
    body_heavy.title = "notes on databases".into();
    let mut titled = note("title", "a short note");
    titled.title = "postgres index bloat after vacuum".into();
    let on = engine_with(&[body_heavy, titled]);
    let off = ranked(on.index(), |r| r.title_coverage = 0.0);
    let q = SearchRequest::new("vacuum bloat postgres after index");
    assert_eq!(ids(&off, &q)[0], "body");
    assert_eq!(ids(&on, &q)[0], "title");
    let (a, b) = (on.search(&q).unwrap(), off.search(&q).unwrap());
    assert_eq!(a.total, b.total, "the bonus changes no match");
    assert!(a.hits[0].score > b.hits.iter().find(|h| h.id == "title").unwrap().score);
    // Three words: no bonus (a title is not told from a short query).
    let short = SearchRequest::new("postgres index bloat");
    let score = |e: &Engine| {
        e.search(&short)
            .unwrap()
            .hits
            .into_iter()
            .find(|h| h.id == "title")
            .unwrap()
            .score
    };
    assert!((score(&on) - score(&off)).abs() < 1e-6);
}
