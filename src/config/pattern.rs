//! IAM-style wildcard matching: `*` matches any run of characters, `?` one.

/// Whether `text` matches `pattern` (case-sensitive, as IAM ARNs are).
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative matcher with single-star backtracking: linear in practice.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether everything `narrow` can match is also matched by `wide`.
/// Exact for literal `narrow`; for patterns it treats `narrow` as text, so
/// `prod-*` is within `prod-*` and `*`, but `*` is not within `prod-*`.
pub fn within(narrow: &str, wide: &str) -> bool {
    matches(wide, narrow)
}

/// Whether the two patterns can match a common string, approximately: either
/// matches the other as text. Used for guardrails on actions (`*` overlaps `iam:*`).
pub fn overlaps(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    matches(&a, &b) || matches(&b, &a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question_mark() {
        assert!(matches(
            "arn:aws:rds:*:db:prod-*",
            "arn:aws:rds:us-east-1:db:prod-orders"
        ));
        assert!(!matches(
            "arn:aws:rds:*:db:prod-*",
            "arn:aws:rds:us-east-1:db:staging-1"
        ));
        assert!(matches("db-?", "db-1"));
        assert!(!matches("db-?", "db-12"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(!matches("abc", "abcd"));
    }

    #[test]
    fn within_and_overlaps() {
        assert!(within("prod-1", "prod-*"));
        assert!(within("prod-*", "*"));
        assert!(!within("*", "prod-*"));
        assert!(overlaps("*", "iam:*"));
        assert!(overlaps("IAM:PassRole", "iam:*"));
        assert!(!overlaps("s3:GetObject", "iam:*"));
    }
}
