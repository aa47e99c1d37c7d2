//! Word pools and sentence templates for the synthetic corpus.
//!
//! Templates use `{slot}` placeholders filled by [`super::fill`]: `problem`,
//! `stack`, `tool`, `symptom`, `scenario`, `difficulty`, `language`,
//! `metric`, `component`, `action`, `risk`, `team`, `time`, `artifact`,
//! `adj`, `outcome`, `cause`, `place`,
//! `constraint`, `concept`.
//!
//! The pools are split by what they hold: [`problems`], [`stacks`],
//! single [`words`] and phrases, and [`sentences`].

/// A problem a post is about, with a few concrete symptoms of it.
pub struct Problem {
    pub name: &'static str,
    pub symptoms: [&'static str; 3],
}

/// A technology stack: its name, area and parent (the post's `stack` list),
/// its code language and the tools a post about it may mention.
pub struct Stack {
    pub name: &'static str,
    pub area: &'static str,
    pub parent: &'static str,
    pub language: &'static str,
    pub tools: &'static [&'static str],
}

pub(super) const fn problem(name: &'static str, symptoms: [&'static str; 3]) -> Problem {
    Problem { name, symptoms }
}

pub(super) const fn stack(
    name: &'static str,
    area: &'static str,
    parent: &'static str,
    language: &'static str,
    tools: &'static [&'static str],
) -> Stack {
    Stack {
        name,
        area,
        parent,
        language,
        tools,
    }
}

mod problems;
mod sentences;
mod stacks;
mod words;

pub use problems::PROBLEMS;
pub use sentences::*;
pub use stacks::STACKS;
pub use words::*;
