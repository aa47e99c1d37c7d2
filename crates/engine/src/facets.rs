//! Facet selections (`--facet stack=python`, `facet=quality:85-100`) and the
//! score buckets.

use postsearch_store::error::{Error, Result};
use postsearch_store::schema::{FACET_FIELDS, SCORE_FIELDS};
use postsearch_store::values::facet_value;
use std::collections::BTreeMap;

/// The range buckets of every score part: (label, lowest, highest).
pub const BUCKETS: [(&str, u64, u64); 4] = [
    ("0-49", 0, 49),
    ("50-69", 50, 69),
    ("70-84", 70, 84),
    ("85-100", 85, 100),
];

/// The bucket index of a score value (values above 100 fall in the last).
#[inline]
pub fn bucket_of(v: u64) -> usize {
    match v {
        0..=49 => 0,
        50..=69 => 1,
        70..=84 => 2,
        _ => 3,
    }
}

/// The selected values of one facet field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// A string facet: normalized values, any of which passes.
    Values { field: String, values: Vec<String> },
    /// A score facet: bucket indexes, any of which passes.
    Buckets { field: String, buckets: Vec<usize> },
}

impl Selection {
    /// The field selected on.
    pub fn field(&self) -> &str {
        match self {
            Selection::Values { field, .. } | Selection::Buckets { field, .. } => field,
        }
    }
}

/// Resolves request selections (field → values) into [`Selection`]s,
/// rejecting unknown fields and bucket labels.
pub fn resolve(selected: &BTreeMap<String, Vec<String>>) -> Result<Vec<Selection>> {
    let mut out = Vec::new();
    for (field, values) in selected {
        let values: Vec<&String> = values.iter().filter(|v| !v.trim().is_empty()).collect();
        if values.is_empty() {
            continue;
        }
        if FACET_FIELDS.contains(&field.as_str()) {
            let mut vals: Vec<String> = values.iter().map(|v| facet_value(v)).collect();
            vals.sort();
            vals.dedup();
            out.push(Selection::Values {
                field: field.clone(),
                values: vals,
            });
        } else if SCORE_FIELDS.contains(&field.as_str()) {
            let mut buckets = Vec::new();
            for v in values {
                let b = BUCKETS
                    .iter()
                    .position(|(label, _, _)| label == &v.trim())
                    .ok_or_else(|| {
                        Error::bad_request(
                            "facet",
                            format!("{field}: unknown bucket {v:?} (0-49, 50-69, 70-84, 85-100)"),
                        )
                    })?;
                buckets.push(b);
            }
            out.push(Selection::Buckets {
                field: field.clone(),
                buckets,
            });
        } else {
            return Err(Error::bad_request(
                "facet",
                format!(
                    "unknown facet field {field:?} (stack, tools, difficulty, code_language, quality, freshness, depth, clarity)"
                ),
            ));
        }
    }
    Ok(out)
}

/// Parses `field=value` or `field:value` (the CLI and HTTP forms).
pub fn parse_selection(s: &str) -> Result<(String, String)> {
    let (field, value) = s.split_once(['=', ':']).ok_or_else(|| {
        Error::bad_request(
            "facet",
            format!("expected FIELD:VALUE (or FIELD=VALUE), got {s:?}"),
        )
    })?;
    Ok((field.trim().to_string(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_range() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(49), 0);
        assert_eq!(bucket_of(50), 1);
        assert_eq!(bucket_of(84), 2);
        assert_eq!(bucket_of(85), 3);
        assert_eq!(bucket_of(100), 3);
    }

    #[test]
    fn selections_resolve_and_normalize() {
        let mut m = BTreeMap::new();
        m.insert("stack".into(), vec!["Python ".into(), "python".into()]);
        m.insert("quality".into(), vec!["85-100".into()]);
        let s = resolve(&m).unwrap();
        assert_eq!(
            s[1],
            Selection::Values {
                field: "stack".into(),
                values: vec!["python".into()]
            }
        );
        assert_eq!(
            s[0],
            Selection::Buckets {
                field: "quality".into(),
                buckets: vec![3]
            }
        );
        m.insert("colour".into(), vec!["red".into()]);
        assert!(resolve(&m).is_err());
    }

    #[test]
    fn selection_syntax() {
        assert_eq!(
            parse_selection("stack=python services").unwrap(),
            ("stack".into(), "python services".into())
        );
        assert_eq!(parse_selection("tools:git").unwrap().1, "git");
        assert!(parse_selection("nothing").is_err());
    }
}
