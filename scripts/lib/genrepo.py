#!/usr/bin/env python3
"""Generates a large access repo for jit's benchmark with git fast-import.

  genrepo.py DIR --users U --live N [--archived A] [--accounts K]

Writes a standard set of definitions (U users in one team, one contract per
account, auto-approved), then A requests that were granted and archived by the
bot (two commits each: the request, and jit's archive move) and N live
requests (one commit each), all approved by merge. Commit times are spaced one
second apart ending just before --now, so every live request is active then.
"""
import argparse
import os
import subprocess
import sys

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("--users", type=int, default=2000)
p.add_argument("--live", type=int, default=10000)
p.add_argument("--archived", type=int, default=0)
p.add_argument("--accounts", type=int, default=1)
p.add_argument("--now", type=int, default=1795424400)  # 2026-11-23T09:00:00Z
args = p.parse_args()

ACCOUNT = lambda i: f"{100000000000 + i:012d}"

def definitions():
    jit = ['settings {\n  branch = "main"\n  approval = "trailers"\n  admins = ["team:security"]\n'
           '  bot {\n    name  = "jit"\n    email = "jit@bench.example"\n  }\n'
           '  quotas {\n    user_inline = 1000000\n  }\n}\n']
    for a in range(args.accounts):
        jit.append(f'account "acct-{a}" {{\n  id = "{ACCOUNT(a)}"\n}}\n')
    people = []
    for u in range(args.users):
        a = u % args.accounts
        people.append(f'user "u{u}" {{\n  email = "u{u}@bench.example"\n'
                      f'  aws   = "arn:aws:iam::{ACCOUNT(a)}:user/u{u}"\n}}\n')
    people.append('user "sec" {\n  email = "sec@bench.example"\n  aws = "arn:aws:iam::%s:user/sec"\n}\n' % ACCOUNT(0))
    people.append('team "security" { members = ["sec"] }\n')
    roles = ('role "read" {\n  description = "read"\n  statement {\n'
             '    actions   = ["s3:GetObject"]\n    resources = []\n  }\n}\n')
    contracts = []
    for a in range(args.accounts):
        contracts.append(
            f'contract "c{a}" {{\n  role = "read"\n'
            f'  resources = ["arn:aws:s3:::bench-{a}/*"]\n'
            f'  min_approvals = 0\n  auto_approve = true\n'
            f'  max_duration = "30d"\n  default_duration = "7d"\n'
            f'  owners = ["team:security"]\n  account = "acct-{a}"\n}}\n')
    return {
        "jit.hcl": "".join(jit),
        "people.hcl": "".join(people),
        "roles/read.hcl": roles,
        "contracts/contracts.hcl": "".join(contracts),
    }

def request(name, user, contract):
    return (f'request "{name}" {{\n  requester = "u{user}"\n  contract  = "{contract}"\n'
            f'  duration  = "7d"\n  reason    = "bench"\n}}\n')

out = sys.stdout.buffer
os.makedirs(args.dir, exist_ok=True)
subprocess.run(["git", "init", "-q", "-b", "main", args.dir], check=True)
fi = subprocess.Popen(["git", "-C", args.dir, "fast-import", "--quiet"], stdin=subprocess.PIPE)
w = fi.stdin.write
total = 1 + 2 * args.archived + args.live
t = args.now - total - 10
mark = 0

def data(b):
    w(b"data %d\n" % len(b))
    w(b)
    w(b"\n")

def commit(author, message, files, deletes=()):
    global t, mark
    t += 1
    mark += 1
    w(b"commit refs/heads/main\nmark :%d\n" % mark)
    w(b"author %s <%s@bench.example> %d +0000\n" % (author.encode(), author.encode(), t))
    w(b"committer Forge <forge@bench.example> %d +0000\n" % t)
    data(message.encode())
    if mark > 1:
        w(b"from :%d\n" % (mark - 1))
    for path in deletes:
        w(b"D %s\n" % path.encode())
    for path, text in files.items():
        w(b"M 100644 inline %s\n" % path.encode())
        data(text.encode())

commit("sec", "Access definitions", definitions())
for i in range(args.archived):
    name, user = f"old-{i}", i % args.users
    c = f"c{user % args.accounts}"
    path = f"requests/{name}.hcl"
    text = request(name, user, c)
    commit(f"u{user}", f"Request {name}", {path: text})
    # Ten years of months, in order, as jit files them (archive/YYYY/MM):
    # a few thousand per folder, not every request in one tree.
    month = 120 * i // max(args.archived, 1)
    folder = f"archive/{2021 + month // 12}/{1 + month % 12:02d}"
    commit("jit", f"jit: expire {name}\n\nJit-Request: {name}\nJit-Outcome: expired\n",
           {f"{folder}/{name}.hcl": text}, deletes=[path])
for i in range(args.live):
    name, user = f"r-{i}", i % args.users
    c = f"c{user % args.accounts}"
    commit(f"u{user}", f"Request {name}", {f"requests/{name}.hcl": request(name, user, c)})
fi.stdin.close()
if fi.wait() != 0:
    sys.exit("git fast-import failed")
subprocess.run(["git", "-C", args.dir, "checkout", "-q", "main"], check=True)
print(f"{args.dir}: {total} commits, {args.live} live, {args.archived} archived, {args.users} users",
      file=sys.stderr)
