#!/usr/bin/env bash
# Speed and memory of jit on a large access repo, as printed figures (no
# pass/fail): a history of N commits (default 100000) where requests were
# added and archived over and over (archive/YYYY/MM as jit writes it), plus
# a few live requests, then
# `jit status` (history walk + approvals) against `git log` as a yardstick.
#
#   scripts/bench.sh            # 100000 commits, 5 runs each
#   COMMITS=20000 RUNS=3 scripts/bench.sh
set -euo pipefail
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
commits="${COMMITS:-100000}"
runs="${RUNS:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "==> building jit (release)"
cargo build --release --quiet --manifest-path "$repo_root/Cargo.toml"
jit="$repo_root/target/release/jit"

echo "==> generating an access repo with $commits commits"
python3 - "$repo_root" "$work/access" "$commits" <<'PY'
import os, subprocess, sys
root, dest, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
subprocess.run(["git", "init", "-q", "-b", "main", dest], check=True)
defs = {}
for d, _, files in os.walk(os.path.join(root, "examples/acme")):
    for f in files:
        p = os.path.join(d, f)
        rel = os.path.relpath(p, os.path.join(root, "examples/acme"))
        if not rel.startswith("requests/"):
            defs[rel] = open(p, "rb").read()
req = lambda name: (f'request "{name}" {{\n  requester = "dave"\n  contract  = "prod-read-only"\n'
                    f'  duration  = "1h"\n  reason    = "bench"\n}}\n').encode()
import datetime
step = 30 * 60  # a commit every half hour: 100000 commits span about 5.7 years
t0 = 1763884800 - n * step  # ending 2025-11-23
out = []
def blob(data):
    out.append(b"blob\n" + b"data %d\n" % len(data) + data + b"\n")
def commit(i, who, email, msg, ops):
    ts = t0 + i * step
    m = msg.encode()
    out.append(b"commit refs/heads/main\n")
    out.append(f"author {who} <{email}> {ts} +0000\ncommitter Forge <forge@acme.example> {ts} +0000\n".encode())
    out.append(b"data %d\n" % len(m) + m + b"\n")
    out.extend(ops)
    out.append(b"\n")
ops = [f"M 100644 inline {p}\n".encode() + b"data %d\n" % len(c) + c + b"\n" for p, c in defs.items()]
commit(0, "Erin", "erin@acme.example", "Access definitions", ops)
i = 1
while i < n - 3:
    name = f"dave-{i:06d}"
    r = req(name)
    commit(i, "Dave", "dave@acme.example", f"Request {name}",
           [f"M 100644 inline requests/{name}.hcl\n".encode() + b"data %d\n" % len(r) + r + b"\n"])
    month = datetime.datetime.fromtimestamp(t0 + (i + 1) * step, datetime.timezone.utc).strftime("%Y/%m")
    commit(i + 1, "jit", "jit@acme.example", f"jit: expire {name}\n\nJit-Request: {name}\nJit-Outcome: expired\n",
           [f"R requests/{name}.hcl archive/{month}/{name}.hcl\n".encode()])
    i += 2
for k in range(3):
    name = f"dave-live-{k}"
    r = req(name)
    commit(i + k, "Dave", "dave@acme.example", f"Request {name}",
           [f"M 100644 inline requests/{name}.hcl\n".encode() + b"data %d\n" % len(r) + r + b"\n"])
subprocess.run(["git", "-C", dest, "fast-import", "--quiet"], input=b"".join(out), check=True)
subprocess.run(["git", "-C", dest, "checkout", "-q", "main"], check=True)
PY
echo "    $(git -C "$work/access" rev-list --count HEAD) commits, $(git -C "$work/access" ls-files archive | wc -l) archived requests"

measure() { # label, command...
    local label=$1; shift
    local walls=() rss=()
    "$@" >/dev/null 2>&1 || true # warm-up
    for _ in $(seq "$runs"); do
        /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>&1 || true
        read -r wall mem < <(tail -1 "$work/time")
        walls+=("$wall"); rss+=("$mem")
    done
    local med_wall med_rss
    med_wall=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    med_rss=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    printf '  %-44s median wall %6ss   median max RSS %7s KiB   (runs: %s)\n' "$label" "$med_wall" "$med_rss" "${walls[*]}"
}

echo "==> figures ($runs runs each, after one warm-up)"
now=2025-11-23T12:00:00Z
measure "git log --oneline (yardstick)" git -C "$work/access" log --oneline
measure "jit status (history walk, 3 live requests)" "$jit" -C "$work/access" status --now "$now"
measure "jit validate (working tree)" "$jit" -C "$work/access" validate
measure "jit audit --format json (every event)" "$jit" -C "$work/access" audit --format json --now "$now"
"$jit" -C "$work/access" status --now "$now" | head -5
