//! The automata that find a word's typo variants in a term dictionary.
//!
//! As in Meilisearch, a typo on the first letter counts as two: readers
//! rarely get the first letter wrong, and a dictionary walk that may change
//! it must visit every branch of the dictionary's root. So a word allowed
//! one typo keeps its first letter, and walks only the branch under it; a
//! word allowed two (9+ letters) also matches with its first letter
//! changed, dropped, doubled or swapped with the second when the rest is
//! exact (a walk that leaves the root once and then follows one path).

use postsearch_store::vocabulary::OneByte;
use tantivy::query::FuzzyTermQuery;
use tantivy::schema::{Field, Term};
use tantivy_fst::Automaton;

/// The automata whose union is a word's typo variants: `typed` (lower
/// case, 5+ letters) within `distance` edits, the first letter's typo
/// counting as two.
pub(crate) fn typo_automata(typed: &str, distance: u8) -> tantivy::Result<Vec<TypoAutomaton>> {
    let Some(first) = typed.chars().next() else {
        return Ok(Vec::new());
    };
    let rest = &typed[first.len_utf8()..];
    // The query only lends its automaton: its field is never searched.
    let term = Term::from_field_text(Field::from_field_id(0), rest);
    let inner = FuzzyTermQuery::new(term, distance, true).automaton()?;
    let mut automata = vec![TypoAutomaton::FirstKept {
        first: first.to_string().into_bytes(),
        rest: inner,
    }];
    if distance >= 2 {
        // The first letter replaced (x + rest), or missing (x + typed).
        for exact in [rest, typed] {
            automata.push(TypoAutomaton::FirstChanged {
                then: exact.as_bytes().to_vec(),
            });
        }
        // An extra first letter, or the first two swapped: one word each.
        let mut swapped: Vec<char> = typed.chars().collect();
        swapped.swap(0, 1);
        for exact in [rest.to_string(), swapped.into_iter().collect()] {
            automata.push(TypoAutomaton::Exact {
                word: exact.into_bytes(),
            });
        }
    }
    Ok(automata)
}

/// One way a word's typo variants are spelled.
pub(crate) enum TypoAutomaton {
    /// The first letter as typed, then the rest within the distance.
    FirstKept {
        first: Vec<u8>,
        rest: tantivy::query::DfaWrapper,
    },
    /// Any one letter, then exactly these bytes.
    FirstChanged { then: Vec<u8> },
    /// Exactly this word.
    Exact { word: Vec<u8> },
}

/// Where a [`TypoAutomaton`] is in a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypoState {
    /// Matching the first letter's bytes: how many were matched.
    First(usize),
    /// In the rest's Levenshtein automaton.
    Rest(u32),
    /// In a changed first letter: continuation bytes still to come.
    Letter(u8),
    /// Matching exact bytes: how many were matched.
    Exact(usize),
    Dead,
}

impl Automaton for TypoAutomaton {
    type State = TypoState;

    fn start(&self) -> TypoState {
        match self {
            TypoAutomaton::FirstKept { .. } => TypoState::First(0),
            TypoAutomaton::FirstChanged { .. } => TypoState::Letter(0),
            TypoAutomaton::Exact { .. } => TypoState::Exact(0),
        }
    }

    fn is_match(&self, state: &TypoState) -> bool {
        match (self, state) {
            (TypoAutomaton::FirstKept { rest, .. }, TypoState::Rest(s)) => rest.is_match(s),
            (TypoAutomaton::FirstChanged { then: word }, TypoState::Exact(n))
            | (TypoAutomaton::Exact { word }, TypoState::Exact(n)) => *n == word.len(),
            _ => false,
        }
    }

    fn can_match(&self, state: &TypoState) -> bool {
        match (self, state) {
            (_, TypoState::Dead) => false,
            (TypoAutomaton::FirstKept { rest, .. }, TypoState::Rest(s)) => rest.can_match(s),
            _ => true,
        }
    }

    fn accept(&self, state: &TypoState, byte: u8) -> TypoState {
        match (self, *state) {
            (TypoAutomaton::FirstKept { first, rest }, TypoState::First(n)) => {
                if first[n] != byte {
                    TypoState::Dead
                } else if n + 1 == first.len() {
                    TypoState::Rest(rest.start())
                } else {
                    TypoState::First(n + 1)
                }
            }
            (TypoAutomaton::FirstKept { rest, .. }, TypoState::Rest(s)) => {
                TypoState::Rest(rest.accept(&s, byte))
            }
            (TypoAutomaton::FirstChanged { .. }, TypoState::Letter(0)) => match byte {
                0x00..=0x7F => TypoState::Exact(0),
                0xC0..=0xDF => TypoState::Letter(1),
                0xE0..=0xEF => TypoState::Letter(2),
                0xF0..=0xF7 => TypoState::Letter(3),
                _ => TypoState::Dead,
            },
            (TypoAutomaton::FirstChanged { .. }, TypoState::Letter(left)) => {
                match (byte & 0xC0 == 0x80, left) {
                    (true, 1) => TypoState::Exact(0),
                    (true, _) => TypoState::Letter(left - 1),
                    (false, _) => TypoState::Dead,
                }
            }
            (TypoAutomaton::FirstChanged { then: word }, TypoState::Exact(n))
            | (TypoAutomaton::Exact { word }, TypoState::Exact(n)) => {
                if word.get(n) == Some(&byte) {
                    TypoState::Exact(n + 1)
                } else {
                    TypoState::Dead
                }
            }
            _ => TypoState::Dead,
        }
    }
}

impl OneByte for TypoAutomaton {
    fn one_byte(&self, state: &TypoState) -> Option<u8> {
        match (self, *state) {
            (TypoAutomaton::FirstKept { first, .. }, TypoState::First(n)) => first.get(n).copied(),
            (TypoAutomaton::FirstChanged { then: word }, TypoState::Exact(n))
            | (TypoAutomaton::Exact { word }, TypoState::Exact(n)) => word.get(n).copied(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(automata: &[TypoAutomaton], word: &str) -> bool {
        automata.iter().any(|a| {
            let mut s = a.start();
            for &b in word.as_bytes() {
                s = a.accept(&s, b);
                if !a.can_match(&s) {
                    return false;
                }
            }
            a.is_match(&s)
        })
    }

    #[test]
    fn one_typo_keeps_the_first_letter() {
        let a = typo_automata("deploy", 1).unwrap();
        for variant in ["deploy", "deplo", "deploys", "dpeloy", "deplay"] {
            assert!(matches(&a, variant), "{variant}");
        }
        for other in ["seploy", "eploy", "xdeploy", "edploy", "delpyo"] {
            assert!(!matches(&a, other), "{other}");
        }
    }

    #[test]
    fn two_typos_allow_a_first_letter_typo_with_the_rest_exact() {
        let a = typo_automata("kubernetes", 2).unwrap();
        for variant in [
            "kubernetes",
            "kubrenetse",
            "cubernetes",
            "ubernetes",
            "xkubernetes",
            "ukbernetes",
            "kübernetes",
        ] {
            assert!(matches(&a, variant), "{variant}");
        }
        for other in ["cubernetse", "ubernetse", "kbrnetess", "xyubernetes"] {
            assert!(!matches(&a, other), "{other}");
        }
    }

    #[test]
    fn the_one_byte_named_is_the_only_one_that_goes_on() {
        for (word, distance) in [("deploy", 1), ("kubernetes", 2), ("élément", 1)] {
            for automaton in typo_automata(word, distance).unwrap() {
                // Every state the automaton reaches, by any bytes.
                let mut seen = vec![automaton.start()];
                let mut named = 0;
                let mut at = 0;
                while at < seen.len() {
                    let state = seen[at];
                    at += 1;
                    let one = automaton.one_byte(&state);
                    named += usize::from(one.is_some());
                    for byte in 0..=u8::MAX {
                        let next = automaton.accept(&state, byte);
                        let goes_on = automaton.can_match(&next) || automaton.is_match(&next);
                        if let Some(one) = one {
                            assert!(!goes_on || byte == one, "{word} {state:?} {byte}");
                        }
                        if goes_on && !seen.contains(&next) {
                            seen.push(next);
                        }
                    }
                }
                assert!(named > 0, "{word}");
            }
        }
    }

    #[test]
    fn a_first_letter_of_several_bytes_is_matched_whole() {
        let a = typo_automata("élément", 1).unwrap();
        assert!(matches(&a, "élémant"));
        assert!(!matches(&a, "elément"));
    }
}
