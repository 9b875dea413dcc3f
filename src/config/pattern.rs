//! IAM-style wildcard patterns: `*` matches any run of characters, `?` one.
//!
//! Besides matching text, jit compares patterns with patterns: a request's
//! resource pattern is allowed only if every string it can match is matched
//! by a contract pattern (containment), and a role action is denied by a
//! guardrail if some action matches both (overlap). Both answers are exact,
//! computed over the patterns' automata, and bounded: containment can be
//! exponential in the worst case, so it has a work budget and reports
//! [`TooComplex`] past it (callers then refuse, never allow).

use std::collections::{HashMap, VecDeque};

/// Longest pattern jit compares with another pattern (characters).
pub const MAX_PATTERN_LEN: usize = 2048;

/// Work budget of one containment check (automaton steps times width).
const MAX_WORK: usize = 20_000_000;

/// The patterns could not be compared within jit's bounds. Callers treat it
/// as "not allowed" and say why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooComplex {
    #[error("pattern is {0} characters long; jit compares patterns of at most {MAX_PATTERN_LEN}")]
    TooLong(usize),
    #[error(
        "patterns `{0}` and `{1}` are too complex to compare (too many `?` after a `*`); simplify one of them"
    )]
    Budget(String, String),
}

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

fn is_wild(c: char) -> bool {
    c == '*' || c == '?'
}

fn check_len(p: &[char]) -> Result<(), TooComplex> {
    if p.len() > MAX_PATTERN_LEN {
        return Err(TooComplex::TooLong(p.len()));
    }
    Ok(())
}

/// Whether every string `narrow` can match is also matched by `wide`
/// (case-sensitive). Exact; `Err` only past jit's bounds.
pub fn within(narrow: &str, wide: &str) -> Result<bool, TooComplex> {
    Ok(counterexample(narrow, wide)?.is_none())
}

/// A string `narrow` matches and `wide` does not, if there is one.
pub fn counterexample(narrow: &str, wide: &str) -> Result<Option<String>, TooComplex> {
    let n: Vec<char> = narrow.chars().collect();
    let w: Vec<char> = wide.chars().collect();
    check_len(&n)?;
    check_len(&w)?;
    if !n.iter().any(|&c| is_wild(c)) {
        return Ok((!matches(wide, narrow)).then(|| narrow.to_string()));
    }
    if narrow == wide || (!w.is_empty() && w.iter().all(|&c| c == '*')) {
        return Ok(None);
    }
    Containment::new(&n, &w).search(narrow, wide)
}

/// The search for a counterexample: the narrow pattern's automaton (a
/// position in `n`) in product with the wide pattern's automaton made
/// deterministic (the set of positions in `w` a prefix can reach).
struct Containment<'a> {
    n: &'a [char],
    w: &'a [char],
    /// Characters that can make a difference to `w`: its literals, then one
    /// stand-in for every other character.
    classes: Vec<char>,
    words: usize,
}

type Set = Vec<u64>;

/// How a state was reached: from which state, reading which character
/// (`None`: a star of `n` matched nothing more).
type Step = Option<(usize, Option<char>)>;

struct Node {
    at: usize,
    set: Set,
    from: Step,
}

/// The states found so far, and those still to expand.
#[derive(Default)]
struct Walk {
    seen: HashMap<(usize, Set), usize>,
    nodes: Vec<Node>,
    queue: VecDeque<usize>,
}

impl Walk {
    fn visit(&mut self, at: usize, set: Set, from: Step) {
        if self.seen.contains_key(&(at, set.clone())) {
            return;
        }
        self.seen.insert((at, set.clone()), self.nodes.len());
        self.queue.push_back(self.nodes.len());
        self.nodes.push(Node { at, set, from });
    }
}

impl<'a> Containment<'a> {
    fn new(n: &'a [char], w: &'a [char]) -> Containment<'a> {
        let mut classes: Vec<char> = w.iter().copied().filter(|&c| !is_wild(c)).collect();
        classes.sort_unstable();
        classes.dedup();
        let other = ('a'..='z')
            .chain('0'..='9')
            .chain(['-', '_', '/', ':', '.'])
            .chain((0x100u32..).filter_map(char::from_u32))
            .find(|c| !classes.contains(c))
            .expect("some character is not in the pattern");
        classes.push(other);
        Containment {
            n,
            w,
            classes,
            words: (w.len() + 1).div_ceil(64),
        }
    }

    fn has(s: &Set, k: usize) -> bool {
        s[k / 64] >> (k % 64) & 1 == 1
    }

    fn add(s: &mut Set, k: usize) {
        s[k / 64] |= 1 << (k % 64);
    }

    /// Adds the positions reachable by skipping stars (a star may match nothing).
    fn close(&self, s: &mut Set) {
        for k in 0..self.w.len() {
            if Self::has(s, k) && self.w[k] == '*' {
                Self::add(s, k + 1);
            }
        }
    }

    fn start(&self) -> Set {
        let mut s = vec![0; self.words];
        Self::add(&mut s, 0);
        self.close(&mut s);
        s
    }

    fn step(&self, s: &Set, c: char) -> Set {
        let mut out = vec![0; self.words];
        for k in 0..self.w.len() {
            if !Self::has(s, k) {
                continue;
            }
            match self.w[k] {
                '*' => Self::add(&mut out, k),
                '?' => Self::add(&mut out, k + 1),
                lit if lit == c => Self::add(&mut out, k + 1),
                _ => {}
            }
        }
        self.close(&mut out);
        out
    }

    fn search(&self, narrow: &str, wide: &str) -> Result<Option<String>, TooComplex> {
        // Breadth-first over (position in n, set of positions in w), keeping
        // how each state was reached for the witness.
        let mut walk = Walk::default();
        walk.visit(0, self.start(), None);
        let mut work = 0usize;
        let accept = self.w.len();
        while let Some(id) = walk.queue.pop_front() {
            let (i, s) = (walk.nodes[id].at, walk.nodes[id].set.clone());
            // An empty set fails whatever follows (every rest of `n` can be
            // completed); at the end of `n`, `w` must accept.
            let dead = s.iter().all(|&x| x == 0);
            if dead || i == self.n.len() && !Self::has(&s, accept) {
                return Ok(Some(self.witness(&walk.nodes, id)));
            }
            if i == self.n.len() {
                continue;
            }
            work += self.classes.len() * (self.w.len() + 1);
            if work > MAX_WORK {
                return Err(TooComplex::Budget(narrow.to_string(), wide.to_string()));
            }
            match self.n[i] {
                '*' => {
                    walk.visit(i + 1, s.clone(), Some((id, None)));
                    for &c in &self.classes {
                        walk.visit(i, self.step(&s, c), Some((id, Some(c))));
                    }
                }
                '?' => {
                    for &c in &self.classes {
                        walk.visit(i + 1, self.step(&s, c), Some((id, Some(c))));
                    }
                }
                lit => walk.visit(i + 1, self.step(&s, lit), Some((id, Some(lit)))),
            }
        }
        Ok(None)
    }

    /// The string read on the way to `id`, completed to a match of `n`.
    fn witness(&self, nodes: &[Node], id: usize) -> String {
        let mut chars = Vec::new();
        let mut at = id;
        while let Some((parent, c)) = nodes[at].from {
            chars.extend(c);
            at = parent;
        }
        chars.reverse();
        let other = *self.classes.last().expect("the stand-in class");
        for &t in &self.n[nodes[id].at..] {
            match t {
                '*' => {}
                '?' => chars.push(other),
                lit => chars.push(lit),
            }
        }
        chars.into_iter().collect()
    }
}

/// Whether some string matches both patterns (case-sensitive). Exact and
/// polynomial: a walk over pairs of positions.
pub fn overlaps(a: &str, b: &str) -> Result<bool, TooComplex> {
    Ok(common_string(a, b)?.is_some())
}

/// Whether some IAM action matches both patterns; IAM actions ignore case.
pub fn actions_overlap(a: &str, b: &str) -> Result<bool, TooComplex> {
    overlaps(&a.to_lowercase(), &b.to_lowercase())
}

/// Whether every string `narrow` matches is matched by `wide`, ignoring case
/// (for IAM actions).
pub fn actions_within(narrow: &str, wide: &str) -> Result<bool, TooComplex> {
    within(&narrow.to_lowercase(), &wide.to_lowercase())
}

/// A string both patterns match, if there is one.
pub fn common_string(a: &str, b: &str) -> Result<Option<String>, TooComplex> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    check_len(&a)?;
    check_len(&b)?;
    let (la, lb) = (a.len() + 1, b.len() + 1);
    // parent[i * lb + j]: how the pair was reached (None: not yet).
    let mut parent: Vec<Option<Step>> = vec![None; la * lb];
    let mut queue = VecDeque::new();
    parent[0] = Some(None);
    queue.push_back(0usize);
    while let Some(id) = queue.pop_front() {
        let (i, j) = (id / lb, id % lb);
        if i == a.len() && j == b.len() {
            let mut out = Vec::new();
            let mut at = id;
            while let Some(Some((from, c))) = parent[at] {
                out.extend(c);
                at = from;
            }
            out.reverse();
            return Ok(Some(out.into_iter().collect()));
        }
        let mut visit = |next: usize, c: Option<char>, queue: &mut VecDeque<usize>| {
            if parent[next].is_none() {
                parent[next] = Some(Some((id, c)));
                queue.push_back(next);
            }
        };
        if i < a.len() && a[i] == '*' {
            visit((i + 1) * lb + j, None, &mut queue);
        }
        if j < b.len() && b[j] == '*' {
            visit(i * lb + j + 1, None, &mut queue);
        }
        if i < a.len() && j < b.len() {
            let (ta, tb) = (a[i], b[j]);
            let c = match (is_wild(ta), is_wild(tb)) {
                (false, false) if ta != tb => continue,
                (false, _) => ta,
                (true, false) => tb,
                (true, true) => 'x',
            };
            let ni = if ta == '*' { i } else { i + 1 };
            let nj = if tb == '*' { j } else { j + 1 };
            if (ni, nj) != (i, j) {
                visit(ni * lb + nj, Some(c), &mut queue);
            }
        }
    }
    Ok(None)
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
    fn within_compares_patterns_on_both_sides() {
        let w = |n, p| within(n, p).unwrap();
        assert!(w("prod-1", "prod-*"));
        assert!(w("prod-*", "*"));
        assert!(w("prod-*", "prod-*"));
        assert!(!w("*", "prod-*"));
        // The widening attack: a `*` is not one character.
        assert!(!w("db:shard-*", "db:shard-?"));
        assert!(w("db:shard-?", "db:shard-*"));
        assert!(!w("db:shard-?", "db:shard-1"));
        // `*?` and `?*` are the same language.
        assert!(w("a*?", "a?*") && w("a?*", "a*?"));
        assert!(!w("a*", "a?*"));
        assert_eq!(
            counterexample("db:shard-*", "db:shard-?")
                .unwrap()
                .as_deref(),
            Some("db:shard-")
        );
    }

    #[test]
    fn overlaps_is_exact() {
        let o = |a, b| actions_overlap(a, b).unwrap();
        assert!(o("*", "iam:*"));
        assert!(o("IAM:PassRole", "iam:*"));
        assert!(o("ia?:PassRole", "iam:PassRole"));
        assert!(o("*:CreateAccessKey", "iam:*"));
        assert!(o("i*", "*e"));
        assert!(!o("s3:GetObject", "iam:*"));
        assert!(!o("s3:*", "iam:*"));
        assert!(!o("a?", "a??"));
    }

    #[test]
    fn bounds_are_errors_not_hangs() {
        let long = "a".repeat(MAX_PATTERN_LEN + 1);
        assert!(matches!(within(&long, "*"), Err(TooComplex::TooLong(_))));
        // A wide pattern whose deterministic automaton is exponential.
        let wide = format!("*a{}", "?".repeat(40));
        let narrow = format!("*{}", "?".repeat(40));
        let t = std::time::Instant::now();
        let got = within(&narrow, &wide);
        assert!(
            matches!(got, Err(TooComplex::Budget(..)) | Ok(false)),
            "{got:?}"
        );
        assert!(t.elapsed().as_secs() < 20);
    }
}
