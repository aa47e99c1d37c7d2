//! Synonyms, applied at query time: `k8s rollout` also finds the posts that
//! say Kubernetes. A rule maps a sequence of words (as typed, lowercased and
//! folded, not stemmed) to other sequences of words; a group of words that
//! all mean the same makes one rule per member. Each form is searched as
//! its words (a phrase when there are several), scored below the words
//! typed (see [`crate::ranking::RankingConfig::synonym_penalty`]).
//!
//! The rules are a built-in set of common technical abbreviations
//! ([`BUILTIN_GROUPS`], [`BUILTIN_ONE_WAY`]), overlaid with those of a TOML
//! file ([`Synonyms::parse`]): a rule of the file replaces the built-in rule
//! for the same words, and an empty one removes it.
//!
//! ```toml
//! groups = [["k8s", "kubernetes", "kube"], ["rs", "rust"]]
//! [one_way]                       # the left finds the right only
//! "gh actions" = ["github actions"]
//! "cd" = []                       # no synonyms for `cd`
//! ```

use postsearch_store::analysis::{tokens, words_analyzer};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Groups of words and phrases that mean the same, each finding the others.
pub const BUILTIN_GROUPS: &[&[&str]] = &[
    &["k8s", "kubernetes"],
    &["js", "javascript"],
    &["ts", "typescript"],
    &["pg", "postgres", "postgresql"],
    &["py", "python"],
    &["tf", "terraform"],
    &["gh actions", "github actions"],
    &["ci cd", "cicd"],
    &["ci", "continuous integration"],
    &["db", "database"],
    &["repo", "repository"],
    &["env", "environment"],
    &["config", "configuration"],
    &["regex", "regexp", "regular expression"],
    &["mongo", "mongodb"],
    &["node.js", "nodejs", "node js"],
    &["ml", "machine learning"],
    &["llm", "large language model"],
    &["vm", "virtual machine"],
    &["os", "operating system"],
    &["cli", "command line"],
    &["ui", "user interface"],
    &["ux", "user experience"],
    &["i18n", "internationalization"],
    &["l10n", "localization"],
    &["a11y", "accessibility"],
    &["gcp", "google cloud"],
    &["aws", "amazon web services"],
    &["async", "asynchronous"],
    &["auth", "authentication"],
    &["perf", "performance"],
    &["deps", "dependencies"],
    &["docs", "documentation"],
];

/// One-way rules: the word on the left also finds those on the right, not
/// the reverse (`golang` is Go, but `go` is a verb far more often).
pub const BUILTIN_ONE_WAY: &[(&str, &[&str])] = &[
    ("golang", &["go"]),
    ("cd", &["continuous delivery", "continuous deployment"]),
    ("authn", &["authentication"]),
    ("authz", &["authorization"]),
];

/// Most words on the left of a rule.
pub const MAX_RULE_WORDS: usize = 4;
/// Most forms one rule adds.
pub const MAX_FORMS: usize = 8;

/// A set of synonym rules; by default, the built-in ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synonyms {
    /// Words typed → the forms they also find (each a list of words).
    rules: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    /// Words whose rules this set removes when it overlays another.
    removed: BTreeSet<Vec<String>>,
}

/// A synonym file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SynonymFile {
    #[serde(default)]
    groups: Vec<Vec<String>>,
    #[serde(default)]
    one_way: BTreeMap<String, Vec<String>>,
}

impl Default for Synonyms {
    fn default() -> Self {
        Synonyms::builtin()
    }
}

/// No rules.
pub static NONE: Synonyms = Synonyms {
    rules: BTreeMap::new(),
    removed: BTreeSet::new(),
};

impl Synonyms {
    /// No rules.
    pub fn none() -> Synonyms {
        Synonyms {
            rules: BTreeMap::new(),
            removed: BTreeSet::new(),
        }
    }

    /// The built-in rules.
    pub fn builtin() -> Synonyms {
        let mut s = Synonyms::none();
        for group in BUILTIN_GROUPS {
            s.add_group(group.iter().copied())
                .expect("built-in groups are valid");
        }
        for (from, to) in BUILTIN_ONE_WAY {
            s.add_one_way(from, to.iter().copied())
                .expect("built-in rules are valid");
        }
        s
    }

    /// The rules of a synonym file's text (see the module documentation),
    /// to overlay on others with [`Synonyms::overlay`].
    pub fn parse(text: &str) -> Result<Synonyms, String> {
        let file: SynonymFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut s = Synonyms::none();
        for (i, group) in file.groups.iter().enumerate() {
            s.add_group(group.iter().map(String::as_str))
                .map_err(|e| format!("groups[{i}]: {e}"))?;
        }
        for (from, to) in &file.one_way {
            if to.is_empty() {
                s.removed
                    .insert(words(from).map_err(|e| format!("one_way: {e}"))?);
                continue;
            }
            s.add_one_way(from, to.iter().map(String::as_str))
                .map_err(|e| format!("one_way.{from:?}: {e}"))?;
        }
        Ok(s)
    }

    /// The rules a configuration sets: the built-in ones (when `builtin`),
    /// overlaid with those of `file` (when given).
    pub fn configured(builtin: bool, file: Option<&Path>) -> Result<Synonyms, String> {
        let mut s = if builtin {
            Synonyms::builtin()
        } else {
            Synonyms::none()
        };
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            let own = Synonyms::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            s.overlay(own);
        }
        Ok(s)
    }

    /// Lays `top` over these rules: its rules replace those for the same
    /// words, and the words it removes lose theirs.
    pub fn overlay(&mut self, top: Synonyms) {
        for gone in &top.removed {
            self.rules.remove(gone);
        }
        self.rules.extend(top.rules);
    }

    /// Adds a group: each member finds every other.
    pub fn add_group<'a>(
        &mut self,
        members: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), String> {
        let members = members
            .into_iter()
            .map(words)
            .collect::<Result<Vec<_>, _>>()?;
        if members.len() < 2 {
            return Err("a group needs at least two members".into());
        }
        for (i, from) in members.iter().enumerate() {
            for (j, to) in members.iter().enumerate() {
                if i != j {
                    self.insert(from.clone(), to.clone())?;
                }
            }
        }
        Ok(())
    }

    /// Adds a one-way rule: `from` also finds each of `to`.
    pub fn add_one_way<'a>(
        &mut self,
        from: &str,
        to: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), String> {
        let from = words(from)?;
        let mut any = false;
        for form in to {
            self.insert(from.clone(), words(form)?)?;
            any = true;
        }
        if !any {
            return Err("a rule needs at least one synonym".into());
        }
        Ok(())
    }

    fn insert(&mut self, from: Vec<String>, to: Vec<String>) -> Result<(), String> {
        if from.len() > MAX_RULE_WORDS {
            return Err(format!(
                "{:?} has more than {MAX_RULE_WORDS} words",
                from.join(" ")
            ));
        }
        if from == to {
            return Ok(());
        }
        let forms = self.rules.entry(from.clone()).or_default();
        forms.insert(to);
        if forms.len() > MAX_FORMS {
            return Err(format!(
                "{:?} has more than {MAX_FORMS} synonyms",
                from.join(" ")
            ));
        }
        Ok(())
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The number of rules (words typed with synonyms).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// The forms the words `typed` also find (empty when none).
    pub fn forms(&self, typed: &[String]) -> Option<&BTreeSet<Vec<String>>> {
        self.rules.get(typed)
    }

    /// Every rule as Meilisearch's `synonyms` setting writes it: words
    /// typed → the forms they also find.
    pub fn to_map(&self) -> BTreeMap<String, Vec<String>> {
        self.rules
            .iter()
            .map(|(from, to)| (from.join(" "), to.iter().map(|f| f.join(" ")).collect()))
            .collect()
    }

    /// The longest rule that starts at `words[start]`: how many words it
    /// covers and its forms.
    pub fn longest_at(
        &self,
        words: &[Option<Vec<String>>],
        start: usize,
    ) -> Option<(usize, &BTreeSet<Vec<String>>)> {
        let mut key: Vec<String> = Vec::new();
        let mut best = None;
        for (len, w) in words[start..].iter().enumerate() {
            let Some(w) = w else { break };
            key.extend(w.iter().cloned());
            if key.len() > MAX_RULE_WORDS {
                break;
            }
            if let Some(forms) = self.rules.get(&key) {
                best = Some((len + 1, forms));
            }
        }
        best
    }
}

/// The words of a rule's side: lowercased and folded, not stemmed.
pub fn words(text: &str) -> Result<Vec<String>, String> {
    let w: Vec<String> = tokens(&mut words_analyzer(), text)
        .into_iter()
        .map(|(t, _, _)| t)
        .collect();
    if w.is_empty() {
        return Err(format!("{text:?} has no word"));
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        words(s).unwrap()
    }

    #[test]
    fn groups_go_every_way_and_one_way_rules_do_not() {
        let s = Synonyms::builtin();
        assert!(s.forms(&w("k8s")).unwrap().contains(&w("kubernetes")));
        assert!(s.forms(&w("kubernetes")).unwrap().contains(&w("k8s")));
        assert!(s.forms(&w("golang")).unwrap().contains(&w("go")));
        assert!(s.forms(&w("go")).is_none());
        let pg = s.forms(&w("PG")).unwrap();
        assert!(pg.contains(&w("postgres")) && pg.contains(&w("postgresql")));
    }

    #[test]
    fn the_file_adds_replaces_and_removes_rules() {
        let file = Synonyms::parse(
            r#"
            groups = [["rs", "rust"], ["k8s", "kube"]]
            [one_way]
            "GH actions" = ["GitHub Actions workflow"]
            "golang" = []
            "#,
        )
        .unwrap();
        let mut s = Synonyms::builtin();
        s.overlay(file);
        assert!(s.forms(&w("rs")).unwrap().contains(&w("rust")));
        let gh = s.forms(&w("gh actions")).unwrap();
        assert_eq!(gh.len(), 1, "replaced: {gh:?}");
        assert!(gh.contains(&w("github actions workflow")));
        let k8s = s.forms(&w("k8s")).unwrap();
        assert_eq!(k8s.iter().collect::<Vec<_>>(), [&w("kube")]);
        assert!(s.forms(&w("golang")).is_none(), "removed");
        assert!(s.forms(&w("js")).is_some(), "other built-ins kept");
    }

    #[test]
    fn configured_reads_the_file_and_names_it_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("synonyms.toml");
        std::fs::write(&path, "groups = [[\"a1\", \"b2\"]]").unwrap();
        let own = Synonyms::configured(false, Some(&path)).unwrap();
        assert_eq!(own.len(), 2);
        assert!(own.forms(&w("k8s")).is_none());
        assert_eq!(
            Synonyms::configured(true, None).unwrap(),
            Synonyms::builtin()
        );
        std::fs::write(&path, "groups = 3").unwrap();
        let err = Synonyms::configured(true, Some(&path)).unwrap_err();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        let missing = dir.path().join("none.toml");
        let err = Synonyms::configured(true, Some(&missing)).unwrap_err();
        assert!(err.contains("cannot read"), "{err}");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        for (text, wanted) in [
            (
                "groups = [[\"alone\"]]",
                "groups[0]: a group needs at least two members",
            ),
            ("groups = [[\"x\", \"--\"]]", "has no word"),
            ("colour = 1", "unknown field"),
            ("[one_way]\n\"a b c d e\" = [\"f\"]", "more than 4 words"),
        ] {
            let err = Synonyms::parse(text).unwrap_err();
            assert!(err.contains(wanted), "{text}: {err}");
        }
    }

    #[test]
    fn the_longest_rule_wins() {
        let s = Synonyms::builtin();
        let typed: Vec<Option<Vec<String>>> = ["gh", "actions", "cache"]
            .iter()
            .map(|t| Some(w(t)))
            .collect();
        let (len, forms) = s.longest_at(&typed, 0).unwrap();
        assert_eq!(len, 2);
        assert!(forms.contains(&w("github actions")));
        assert!(s.longest_at(&typed, 2).is_none());
        // A clause that takes no part (a phrase) ends the span.
        let cut = vec![Some(w("gh")), None];
        assert!(s.longest_at(&cut, 0).is_none());
        // "node.js" is one word; "ci/cd" is two, as the index splits them.
        let node = vec![Some(w("Node.js"))];
        assert!(s.longest_at(&node, 0).unwrap().1.contains(&w("nodejs")));
        let cicd = vec![Some(w("CI/CD"))];
        assert!(s.longest_at(&cicd, 0).unwrap().1.contains(&w("cicd")));
    }

    #[test]
    fn meilisearch_map_lists_each_rule() {
        let map = Synonyms::builtin().to_map();
        assert_eq!(map["k8s"], vec!["kubernetes".to_string()]);
        assert!(map["github actions"].contains(&"gh actions".to_string()));
    }
}
