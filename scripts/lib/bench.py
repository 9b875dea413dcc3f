#!/usr/bin/env python3
"""jit's scale benchmark: generates the repos and the IAM population, measures
jit against yardsticks run in the same session, prints figures as it goes and,
last, one JSON object. See docs/performance.md for what each figure means.

  bench.py JIT MOTO_SERVER WORKDIR

Environment: USERS (2000), LIVE (10000), ARCHIVED (100000), APPLY_GRANTS
(1000), RUNS (3), LATENCY_MS (50).
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
JIT, MOTO, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
USERS = int(os.environ.get("USERS", 2000))
LIVE = int(os.environ.get("LIVE", 10000))
ARCHIVED = int(os.environ.get("ARCHIVED", 100000))
APPLY_GRANTS = int(os.environ.get("APPLY_GRANTS", 1000))
RUNS = int(os.environ.get("RUNS", 3))
LATENCY_MS = float(os.environ.get("LATENCY_MS", 50))
NOW = "2026-11-23T09:00:00Z"
STARTED = time.monotonic()
peak_kib = 0
peak_of = ""
children = []


def say(text):
    print(f"[{time.monotonic() - STARTED:6.1f}s] {text}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"bench: nothing listens on port {port}")


def start(args, **kw):
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    children.append(p)
    return p


def moto_server():
    port = free_port()
    start([MOTO, "-H", "127.0.0.1", "-p", str(port)], env={**os.environ, "MOTO_ACCOUNT_ID": ""})
    wait_port(port)
    return port


def iam(port):
    return boto3.client("iam", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def create_users(port, n):
    client = iam(port)
    for u in range(n):
        client.create_user(UserName=f"u{u}")
    client.create_user(UserName="sec")


def env_for(port):
    return {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1", "RUST_LOG": "error", "NO_COLOR": "1"}


def run(args, env=None, cwd=None, keep=True):
    """Runs a command to its end: (wall seconds, peak RSS KiB, stdout). A jit
    run's peak RSS counts towards peak_rss_mb. With keep=False the output is
    dropped: a child's ru_maxrss includes what this process held when it
    forked, so holding 200 MB of audit JSON here would count as jit's."""
    global peak_kib, peak_of
    t = time.monotonic()
    # stderr goes to a file: two pipes read one after the other would block
    # a child that fills the second (apply reports every write on stderr).
    with tempfile.TemporaryFile() as err_file:
        p = subprocess.Popen(args, stdout=subprocess.PIPE if keep else subprocess.DEVNULL,
                             stderr=err_file, env=env, cwd=cwd)
        out_chunks = []
        while keep:
            chunk = p.stdout.read(1 << 20)
            if not chunk:
                break
            out_chunks.append(chunk)
        _, status, usage = os.wait4(p.pid, 0)
        err_file.seek(0)
        err = err_file.read()
    wall = time.monotonic() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if args[0] == JIT and usage.ru_maxrss > peak_kib:
        peak_kib = usage.ru_maxrss
        peak_of = " ".join(a for a in args[1:] if not a.startswith("/") and a not in ("-C", "--now", NOW))
    if p.returncode not in (0, 2):
        sys.exit(f"bench: {' '.join(args)} failed ({p.returncode}):\n{err.decode()[-2000:]}")
    return wall, usage.ru_maxrss, b"".join(out_chunks)


def median_of(args, env=None, runs=RUNS):
    """Median wall seconds of `runs` runs after one warm-up, and the last stdout."""
    run(args, env)
    walls, out = [], b""
    for _ in range(runs):
        wall, _, out = run(args, env)
        walls.append(wall)
    return statistics.median(walls), out


def paired(a, b, env=None, runs=RUNS):
    """A and B in turn, after a warm-up of each: medians of each, and the median ratio A/B."""
    run(a, env, keep=False)
    run(b, env, keep=False)
    wa, wb, ratios = [], [], []
    for _ in range(runs):
        x, _, _ = run(a, env, keep=False)
        y, _, _ = run(b, env, keep=False)
        wa.append(x)
        wb.append(y)
        ratios.append(x / y)
    return statistics.median(wa), statistics.median(wb), statistics.median(ratios)


def generate(dest, users, live, archived):
    return start([sys.executable, os.path.join(HERE, "genrepo.py"), dest, "--users", str(users),
                  "--live", str(live), "--archived", str(archived)])


def plan_json(repo, env):
    _, _, out = run([JIT, "-C", repo, "--now", NOW, "plan", "--json"], env)
    return json.loads(out)


def main():
    os.makedirs(WORK, exist_ok=True)
    live_repo, archived_repo, apply_repo = (os.path.join(WORK, d) for d in ("live", "archived", "apply"))
    figures = {"users": USERS, "grants": LIVE}

    say(f"generating repos: {LIVE} live; {LIVE} live + {ARCHIVED} archived; {APPLY_GRANTS} live")
    gens = [generate(archived_repo, USERS, LIVE, ARCHIVED),
            generate(live_repo, USERS, LIVE, 0),
            generate(apply_repo, APPLY_GRANTS // 2, APPLY_GRANTS, 0)]
    port = moto_server()
    create_users(port, USERS)
    say(f"moto on :{port} with {USERS} users")
    gens[1].wait()
    gens[2].wait()
    if gens[1].returncode or gens[2].returncode:
        sys.exit("bench: generating repos failed")
    env = env_for(port)

    # 1. Populate IAM with every live grant (itself a figure), then plan.
    wall, _, _ = run([JIT, "-C", live_repo, "--now", NOW, "apply", "--auto-approve", "--no-push"], env)
    say(f"apply of {LIVE} grants into moto (no added latency): {wall:.1f}s")
    plan = plan_json(live_repo, env)
    assert plan["summary"] == {"grant": 0, "update": 0, "revoke": 0, "archive": 0}, plan["summary"]
    figures["plan_iam_calls"] = plan["stats"]["iam_calls"]
    # What reading IAM grant by grant would take: one GetUserPolicy per
    # grant, and one ListUserPolicies per user to find what jit must revoke.
    figures["per_grant_calls"] = LIVE + USERS
    locals_ms = []
    run([JIT, "-C", live_repo, "--now", NOW, "plan", "--json"], env)  # warm-up
    for _ in range(RUNS):
        stats = plan_json(live_repo, env)["stats"]
        locals_ms.append(stats["elapsed_ms"] - stats["iam_ms"])
    figures["plan_local_ms"] = statistics.median(locals_ms)
    git_log, _ = median_of(["git", "-C", live_repo, "log", "--first-parent", "--name-status"])
    figures["git_log_ms"] = round(git_log * 1000)
    figures["plan_local_ratio"] = round(figures["plan_local_ms"] / figures["git_log_ms"], 2)
    say(f"plan: {figures['plan_iam_calls']} IAM calls (per grant: {figures['per_grant_calls']}), "
        f"local {figures['plan_local_ms']} ms vs git log {figures['git_log_ms']} ms")

    # 2. The same live set behind 100,000 archived requests.
    gens[0].wait()
    if gens[0].returncode:
        sys.exit("bench: generating the archived repo failed")
    say("archived repo ready")
    plan_cmd = lambda repo: [JIT, "-C", repo, "--now", NOW, "plan", "--json"]
    with_archive, without, ratio = paired(plan_cmd(archived_repo), plan_cmd(live_repo), env)
    figures["archive_ratio"] = round(ratio, 2)
    say(f"plan with {ARCHIVED} archived: {with_archive:.2f}s, without: {without:.2f}s")

    # 3. The same on copies that hold git's commit-graph (git gc, git
    # maintenance or `git commit-graph write` keep one; a fresh clone has
    # none). The audit reads every commit object either way.
    graphed = []
    for repo in (archived_repo, live_repo):
        copy = repo + "-graph"
        subprocess.run(["cp", "-r", repo, copy], check=True)
        subprocess.run(["git", "-C", copy, "commit-graph", "write", "--reachable"], check=True)
        graphed.append(copy)
    with_archive, without, ratio = paired(plan_cmd(graphed[0]), plan_cmd(graphed[1]), env)
    figures["archive_ratio_commit_graph"] = round(ratio, 2)
    say(f"with a commit-graph: {with_archive:.2f}s, without archived: {without:.2f}s")
    for copy in graphed:
        subprocess.run(["rm", "-rf", copy], check=True)

    # 4. Audit of the long history against git log of every message.
    audit, git_body, ratio = paired(
        [JIT, "-C", archived_repo, "--now", NOW, "audit", "--format", "json"],
        ["git", "-C", archived_repo, "log", "--format=%H%x00%B"], env)
    figures["audit_ms"] = round(audit * 1000)
    figures["git_log_body_ms"] = round(git_body * 1000)
    figures["audit_ratio"] = round(ratio, 2)
    say(f"audit: {audit:.2f}s vs git log bodies {git_body:.2f}s")

    # 5. Apply through latency, parallel against one at a time.
    apply_port = moto_server()
    proxy_port = free_port()
    start([sys.executable, os.path.join(HERE, "latency_proxy.py"), str(proxy_port), str(apply_port),
           "--ms", str(LATENCY_MS)])
    wait_port(proxy_port)
    apply_env = env_for(proxy_port)
    walls = {}
    for label, extra in (("serial", ["--parallelism", "1", "--concurrency", "1"]), ("default", [])):
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{apply_port}/moto-api/reset", method="POST")).read()
        create_users(apply_port, APPLY_GRANTS // 2)
        wall, _, _ = run([JIT, "-C", apply_repo, "--now", NOW, *extra[:2], "apply", "--auto-approve",
                          "--no-push", *extra[2:]], apply_env)
        walls[label] = wall
        say(f"apply of {APPLY_GRANTS} grants, {label}, {LATENCY_MS:.0f} ms per call: {wall:.1f}s")
    figures["apply_speedup"] = round(walls["serial"] / walls["default"], 1)
    figures["peak_rss_mb"] = round(peak_kib / 1024)
    figures["peak_rss_command"] = f"jit {peak_of}"
    figures["bench_seconds"] = round(time.monotonic() - STARTED)
    print(json.dumps(figures), flush=True)


try:
    main()
finally:
    for p in children:
        if p.poll() is None:
            p.kill()
