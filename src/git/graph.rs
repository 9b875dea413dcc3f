//! git's commit-graph (`objects/info/commit-graph`, or the split layers
//! under `objects/info/commit-graphs/`), which `git gc`, `git maintenance`
//! and `git commit-graph write` keep: each commit's root tree and parents by
//! position, so the first-parent chain is followed without inflating one
//! commit object per commit (what most of a long history costs a plan).
//!
//! Only an index of objects the store already holds: a commit it does not
//! list (written after it) is read from its object, and a file that does not
//! read as the format says is not used at all. Git itself trusts the file
//! the same way: it is local to the clone, never fetched or pushed.

use std::path::Path;

use git2::{Oid, Repository};

/// The layers of a repository's commit-graph, base first.
pub struct CommitGraph {
    layers: Vec<Layer>,
}

struct Layer {
    data: Vec<u8>,
    /// Offsets of the fan-out, object-id and commit-data chunks.
    fanout: usize,
    oids: usize,
    commits: usize,
    /// Commits in this layer, and in the layers below it.
    count: u32,
    below: u32,
}

const HASH: usize = 20;
const COMMIT: usize = HASH + 16;
const NO_PARENT: u32 = 0x7000_0000;

/// A commit as the graph records it: its root tree and first parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphCommit {
    pub oid: Oid,
    pub tree: Oid,
    /// The first parent's position, if it has one.
    pub parent: Option<u32>,
}

impl CommitGraph {
    /// The repository's commit-graph, if it has one that reads as git's
    /// format (version 1, SHA-1) in every layer.
    pub fn open(repo: &Repository) -> Option<CommitGraph> {
        let info = repo.commondir().join("objects/info");
        if let Ok(data) = std::fs::read(info.join("commit-graph")) {
            return CommitGraph::from_layers(vec![data]);
        }
        let chain = std::fs::read_to_string(info.join("commit-graphs/commit-graph-chain")).ok()?;
        let layers = chain
            .lines()
            .map(|hash| {
                let ok = hash.len() == 2 * HASH && hash.bytes().all(|b| b.is_ascii_hexdigit());
                ok.then(|| read(&info.join(format!("commit-graphs/graph-{hash}.graph"))))
                    .flatten()
            })
            .collect::<Option<Vec<_>>>()?;
        CommitGraph::from_layers(layers)
    }

    fn from_layers(files: Vec<Vec<u8>>) -> Option<CommitGraph> {
        let mut layers: Vec<Layer> = Vec::with_capacity(files.len());
        for (index, data) in files.into_iter().enumerate() {
            let below = layers
                .last()
                .map_or(Some(0), |l| l.below.checked_add(l.count))?;
            layers.push(Layer::parse(data, index, below)?);
        }
        layers.last()?.below.checked_add(layers.last()?.count)?;
        Some(CommitGraph { layers })
    }

    /// How many commits the graph lists (every layer).
    pub fn commits(&self) -> usize {
        self.layers.iter().map(|l| l.count as usize).sum()
    }

    /// A commit's position in the graph, if the graph lists it.
    pub fn position(&self, oid: Oid) -> Option<u32> {
        self.layers
            .iter()
            .find_map(|layer| layer.find(oid.as_bytes()))
    }

    /// The commit at `position`; `None` when the position or what it
    /// records is out of the file's bounds (the caller reads the object).
    pub fn commit(&self, position: u32) -> Option<GraphCommit> {
        let layer = self
            .layers
            .iter()
            .find(|l| position >= l.below && position - l.below < l.count)?;
        let local = (position - layer.below) as usize;
        let oid = Oid::from_bytes(layer.slice(layer.oids + local * HASH, HASH)?).ok()?;
        let entry = layer.slice(layer.commits + local * COMMIT, COMMIT)?;
        let tree = Oid::from_bytes(&entry[..HASH]).ok()?;
        let first = u32::from_be_bytes(entry[HASH..HASH + 4].try_into().ok()?);
        let parent = match first {
            NO_PARENT => None,
            // A first parent is always a position (only the second can
            // point into the extra-edges list), and always a lower layer's
            // or this one's.
            p if p < layer.below + layer.count => Some(p),
            _ => return None,
        };
        Some(GraphCommit { oid, tree, parent })
    }
}

fn read(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

impl Layer {
    /// Checks the header, the chunk table and the three chunks used.
    fn parse(data: Vec<u8>, index: usize, below: u32) -> Option<Layer> {
        let header = data.get(..8)?;
        if &header[..4] != b"CGPH" || header[4] != 1 || header[5] != 1 {
            return None;
        }
        let (chunks, bases) = (usize::from(header[6]), usize::from(header[7]));
        if bases != index {
            return None;
        }
        let body_end = data.len().checked_sub(HASH)?;
        let table = data.get(8..8 + (chunks + 1) * 12)?;
        let mut offsets = Vec::with_capacity(chunks + 1);
        for entry in table.chunks_exact(12) {
            let offset = usize::try_from(u64::from_be_bytes(entry[4..].try_into().ok()?)).ok()?;
            if offset > body_end || offsets.last().is_some_and(|&(_, o)| offset < o) {
                return None;
            }
            offsets.push((<[u8; 4]>::try_from(&entry[..4]).ok()?, offset));
        }
        let chunk = |id: &[u8; 4]| {
            let i = offsets[..chunks].iter().position(|(c, _)| c == id)?;
            Some((offsets[i].1, offsets[i + 1].1 - offsets[i].1))
        };
        let (fanout, fanout_len) = chunk(b"OIDF")?;
        let (oids, oids_len) = chunk(b"OIDL")?;
        let (commits, commits_len) = chunk(b"CDAT")?;
        if fanout_len != 256 * 4 {
            return None;
        }
        let mut layer = Layer {
            data,
            fanout,
            oids,
            commits,
            count: 0,
            below,
        };
        let mut last = 0;
        for bucket in 0..256 {
            let n = layer.fan(bucket)?;
            if n < last {
                return None;
            }
            last = n;
        }
        layer.count = last;
        let n = last as usize;
        (oids_len == n * HASH && commits_len == n * COMMIT).then_some(layer)
    }

    fn slice(&self, at: usize, len: usize) -> Option<&[u8]> {
        self.data.get(at..at.checked_add(len)?)
    }

    /// How many ids sort before the first byte `bucket + 1`.
    fn fan(&self, bucket: usize) -> Option<u32> {
        let bytes = self.slice(self.fanout + bucket * 4, 4)?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    }

    /// The global position of `oid` in this layer, by the fan-out and a
    /// binary search of the sorted ids.
    fn find(&self, oid: &[u8]) -> Option<u32> {
        let first = usize::from(oid[0]);
        let lo = if first == 0 { 0 } else { self.fan(first - 1)? };
        let hi = self.fan(first)?;
        let (mut lo, mut hi) = (lo as usize, (hi as usize).min(self.count as usize));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.slice(self.oids + mid * HASH, HASH)?.cmp(oid) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.below + mid as u32),
            }
        }
        None
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use git2::Signature;
    use std::process::Command;

    fn commit(repo: &Repository, parents: &[Oid], file: &str) -> Oid {
        let mut root = repo.treebuilder(None).unwrap();
        let blob = repo.blob(file.as_bytes()).unwrap();
        root.insert(file, blob, 0o100644).unwrap();
        let tree = repo.find_tree(root.write().unwrap()).unwrap();
        let sig = Signature::new("a", "a@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
        let parents: Vec<_> = parents
            .iter()
            .map(|p| repo.find_commit(*p).unwrap())
            .collect();
        let parents: Vec<_> = parents.iter().collect();
        repo.commit(None, &sig, &sig, file, &tree, &parents)
            .unwrap()
    }

    /// Runs git in `repo`, which must succeed.
    pub(crate) fn git(repo: &Repository, args: &[&str]) {
        let out = Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(args)
            .output()
            .expect("git must be installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every commit's tree and first parent, as the objects say.
    fn expected(repo: &Repository, oid: Oid) -> (Oid, Option<Oid>) {
        let c = repo.find_commit(oid).unwrap();
        (c.tree_id(), c.parent_ids().next())
    }

    fn agrees(repo: &Repository, graph: &CommitGraph, oid: Oid) {
        let at = graph.position(oid).expect("listed");
        let got = graph.commit(at).unwrap();
        assert_eq!(got.oid, oid);
        let parent = got.parent.map(|p| graph.commit(p).unwrap().oid);
        assert_eq!((got.tree, parent), expected(repo, oid));
    }

    #[test]
    fn reads_trees_and_first_parents_in_one_file_and_in_split_layers() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let mut chain = vec![commit(&repo, &[], "root")];
        for i in 0..40 {
            let side = commit(&repo, &[chain[chain.len() - 1]], &format!("side{i}"));
            let main = commit(&repo, &[chain[chain.len() - 1]], &format!("main{i}"));
            // Every third commit merges the side line in as a second parent.
            let next = if i % 3 == 0 {
                commit(&repo, &[main, side], &format!("merge{i}"))
            } else {
                main
            };
            chain.push(next);
        }
        let tip = *chain.last().unwrap();
        repo.reference("refs/heads/main", tip, true, "").unwrap();
        assert!(CommitGraph::open(&repo).is_none(), "no graph written yet");

        git(&repo, &["commit-graph", "write", "--reachable"]);
        let graph = CommitGraph::open(&repo).expect("one file");
        assert_eq!(graph.layers.len(), 1);
        chain.iter().for_each(|&oid| agrees(&repo, &graph, oid));
        assert_eq!(graph.position(Oid::from_bytes(&[7; 20]).unwrap()), None);

        // Split layers: the newer commits' parents are in the base layer.
        std::fs::remove_file(dir.path().join("objects/info/commit-graph")).unwrap();
        git(&repo, &["commit-graph", "write", "--reachable", "--split"]);
        for i in 0..5 {
            chain.push(commit(
                &repo,
                &[*chain.last().unwrap()],
                &format!("late{i}"),
            ));
        }
        repo.reference("refs/heads/main", *chain.last().unwrap(), true, "")
            .unwrap();
        git(
            &repo,
            &["commit-graph", "write", "--reachable", "--split=no-merge"],
        );
        let graph = CommitGraph::open(&repo).expect("split layers");
        assert_eq!(graph.layers.len(), 2);
        chain.iter().for_each(|&oid| agrees(&repo, &graph, oid));
    }

    #[test]
    fn a_file_that_does_not_read_as_the_format_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let a = commit(&repo, &[], "a");
        let b = commit(&repo, &[a], "b");
        repo.reference("refs/heads/main", b, true, "").unwrap();
        git(&repo, &["commit-graph", "write", "--reachable"]);
        let path = dir.path().join("objects/info/commit-graph");
        let good = std::fs::read(&path).unwrap();
        assert!(CommitGraph::from_layers(vec![good.clone()]).is_some());
        // Cut anywhere, or with a lying count, it is refused whole.
        for cut in [0, 7, 8, 40, good.len() / 2, good.len() - 21] {
            assert!(
                CommitGraph::from_layers(vec![good[..cut].to_vec()]).is_none(),
                "{cut}"
            );
        }
        let mut lying = good.clone();
        let fanout = CommitGraph::from_layers(vec![good.clone()]).unwrap().layers[0].fanout;
        lying[fanout + 255 * 4 + 3] += 1;
        assert!(CommitGraph::from_layers(vec![lying]).is_none());
        let mut sha256 = good;
        sha256[5] = 2;
        assert!(CommitGraph::from_layers(vec![sha256]).is_none());
    }
}
