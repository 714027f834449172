"""The sandbox's GitHub: a small stateful GitHub REST API for login-release's rehearsals and tests.

Usage: python github_server.py --origin BARE_GIT --state FILE --ready FILE
                               [--repo OWNER/NAME] [--user LOGIN] [--protect BRANCH]... [--detach]

It serves, on a free loopback port, the part of GitHub's REST API the release commands use, with
payloads shaped like GitHub's: the repository, labels, pull requests (list with state/head/base
filters, create, get, update, labels through the issues API), reviews, merges, commits and
releases. Its git is the sandbox's bare origin: a PR's head and base are that origin's branches, a
merge writes real commits there (`merge`: a two-parent merge commit, `squash`: one single-parent
commit, `rebase`: the head's commits replayed), a release of a missing tag creates the tag, as
GitHub does.

What it checks, as GitHub does: every API request carries `Authorization: Bearer|token <token>`
(any non-empty token; it is never logged or stored); the token's user may not approve its own
PR; a protected branch (`--protect`) takes a merge only after an approving review; a merge whose
`sha` is not the head's is refused (409); a PR needs commits between base and head.

The sandbox plays the reviewer through control endpoints under /_sandbox/ (loopback only, no
token): approve a PR as a named reviewer, merge or close it as that reviewer, seed a release,
dump the state. `login-release sandbox approve` and the Rust launcher
(`login_release::sandbox::github`) use them.

State lives in memory and is written to --state after every change (read back on start), so the
sandbox directory shows what GitHub holds. When started without --detach the server exits once
its parent's end of stdin closes, so a crashed test run leaves no server behind.
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_VERSION = "2022-11-28"
CONTROL = "/_sandbox/"
LOCK = threading.RLock()
ARGS = None
STATE = None


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    def __init__(self, status, message, errors=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def validation(message, resource="PullRequest", code="custom", field=None):
    err = {"resource": resource, "code": code}
    if field:
        err["field"] = field
    if code == "custom":
        err["message"] = message
    return ApiError(422, "Validation Failed", [err])


# --- git over the bare origin -------------------------------------------------------------------

def git(*args, env=None, check=True):
    full_env = dict(os.environ)
    full_env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
                     "GIT_TERMINAL_PROMPT": "0"})
    if env:
        full_env.update(env)
    out = subprocess.run(["git", "--git-dir", ARGS.origin, *args], env=full_env,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    if check and out.returncode != 0:
        raise ApiError(500, f"git {' '.join(args)} failed: {out.stderr.strip()}")
    return out


def branch_sha(branch):
    out = git("rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}", check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def tag_sha(tag):
    out = git("rev-parse", "--verify", "-q", f"refs/tags/{tag}", check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def resolve(commitish):
    out = git("rev-parse", "--verify", "-q", f"{commitish}^{{commit}}", check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def default_branch():
    out = git("symbolic-ref", "-q", "--short", "HEAD", check=False)
    return out.stdout.strip() or "main"


def commits_between(base, head):
    out = git("rev-list", "--reverse", f"{base}..{head}")
    return [c for c in out.stdout.split() if c]


def merge_tree(ours, theirs, merge_base=None):
    """The merged tree, or None on a conflict."""
    args = ["merge-tree", "--write-tree", "--no-messages"]
    if merge_base:
        args.append(f"--merge-base={merge_base}")
    out = git(*args, ours, theirs, check=False)
    if out.returncode == 1:
        return None
    if out.returncode != 0:
        raise ApiError(500, f"git merge-tree failed: {out.stderr.strip()}")
    return out.stdout.split()[0]


def person_env(kind, name, email, date=None):
    env = {f"GIT_{kind}_NAME": name, f"GIT_{kind}_EMAIL": email}
    if date:
        env[f"GIT_{kind}_DATE"] = date
    return env


def user_email(login):
    return f"{login}@users.noreply.github.com"


def commit_tree(tree, parents, message, author, author_date=None):
    env = person_env("AUTHOR", author, user_email(author), author_date)
    env.update(person_env("COMMITTER", "GitHub", "noreply@github.com"))
    args = ["commit-tree", tree]
    for p in parents:
        args += ["-p", p]
    out = subprocess.run(["git", "--git-dir", ARGS.origin, *args], input=message, text=True,
                         capture_output=True, timeout=60,
                         env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1",
                              "GIT_CONFIG_GLOBAL": "/dev/null", **env})
    if out.returncode != 0:
        raise ApiError(500, f"git commit-tree failed: {out.stderr.strip()}")
    return out.stdout.strip()


def update_ref(ref, new, old):
    out = git("update-ref", ref, new, old, check=False)
    if out.returncode != 0:
        raise ApiError(409, "Base branch was modified. Review and try the merge again.")


def commit_info(sha):
    out = git("log", "-1", "--format=%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%T%x00%B",
              sha, "--", check=False)
    if out.returncode != 0 or not out.stdout:
        return None
    h, parents, an, ae, ad, cn, ce, cd, tree, body = out.stdout.split("\x00", 9)
    return {"sha": h, "parents": parents.split(), "author": (an, ae, ad),
            "committer": (cn, ce, cd), "tree": tree, "message": body.rstrip("\n")}


# --- state -------------------------------------------------------------------------------------

def fresh_state():
    return {"next_id": 1000, "next_number": 1, "labels": {}, "pulls": {}, "releases": [],
            "reviews": {}}


def load_state():
    try:
        with open(ARGS.state) as f:
            return json.load(f)
    except FileNotFoundError:
        return fresh_state()


def save_state():
    tmp = f"{ARGS.state}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(STATE, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, ARGS.state)


def next_id():
    STATE["next_id"] += 1
    return STATE["next_id"]


# --- rendering, shaped like GitHub's payloads --------------------------------------------------

class Render:
    def __init__(self, base):
        self.base = base
        self.owner, self.name = ARGS.repo.split("/", 1)

    def api(self, rest=""):
        return f"{self.base}/repos/{ARGS.repo}{rest}"

    def web(self, rest=""):
        return f"{self.base}/{ARGS.repo}{rest}"

    def user(self, login):
        return {"login": login, "id": zlib.crc32(login.encode()) % 10_000_000, "type": "User",
                "html_url": f"{self.base}/{login}"}

    def repo(self):
        return {"id": 33946212, "node_id": "MDEwOlJlcG9zaXRvcnkzMzk0NjIxMg==", "name": self.name,
                "full_name": ARGS.repo, "private": False, "owner": self.user(self.owner),
                "html_url": self.web(), "url": self.api(), "default_branch": default_branch(),
                "allow_merge_commit": True, "allow_squash_merge": True,
                "allow_rebase_merge": True,
                "permissions": {"admin": False, "maintain": False, "push": True,
                                "triage": True, "pull": True}}

    def label(self, name):
        l = STATE["labels"].get(name) or {"id": 0, "name": name, "color": "ededed",
                                          "description": None}
        return {"id": l["id"], "node_id": f"LA_{l['id']}", "url": self.api(
            f"/labels/{urllib.parse.quote(name)}"), "name": name, "color": l["color"],
            "description": l.get("description"), "default": False}

    def pr_ref(self, pr, which):
        ref = pr[f"{which}_ref"]
        frozen = pr.get(f"{which}_sha_at_close")
        sha = frozen or branch_sha(ref) or ""
        return {"label": f"{self.owner}:{ref}", "ref": ref, "sha": sha,
                "user": self.user(self.owner), "repo": self.repo()}

    def pull(self, pr, full=False):
        n = pr["number"]
        out = {"url": self.api(f"/pulls/{n}"), "id": pr["id"], "node_id": f"PR_{pr['id']}",
               "html_url": self.web(f"/pull/{n}"), "number": n, "state": pr["state"],
               "locked": False, "title": pr["title"], "user": self.user(pr["user"]),
               "body": pr["body"], "labels": [self.label(l) for l in pr["labels"]],
               "created_at": pr["created_at"], "updated_at": pr["updated_at"],
               "closed_at": pr["closed_at"], "merged_at": pr["merged_at"],
               "merge_commit_sha": pr["merge_commit_sha"], "draft": pr.get("draft", False),
               "head": self.pr_ref(pr, "head"), "base": self.pr_ref(pr, "base"),
               "author_association": "MEMBER"}
        if full:
            out["merged"] = pr["merged_at"] is not None
            out["merged_by"] = self.user(pr["merged_by"]) if pr.get("merged_by") else None
            mergeable = None
            if pr["state"] == "open":
                base, head = branch_sha(pr["base_ref"]), branch_sha(pr["head_ref"])
                mergeable = bool(base and head and merge_tree(base, head))
            out["mergeable"] = mergeable
            out["mergeable_state"] = ("clean" if mergeable else "dirty") if mergeable is not None \
                else "unknown"
            out["commits"] = len(commits_between(pr["base_sha_at_close"] or pr["base_ref"],
                                                 pr["head_sha_at_close"] or pr["head_ref"])) \
                if (branch_sha(pr["head_ref"]) or pr["head_sha_at_close"]) else 0
        return out

    def review(self, pr_number, r):
        return {"id": r["id"], "node_id": f"PRR_{r['id']}", "user": self.user(r["user"]),
                "body": r["body"], "state": r["state"],
                "html_url": self.web(f"/pull/{pr_number}#pullrequestreview-{r['id']}"),
                "pull_request_url": self.api(f"/pulls/{pr_number}"),
                "submitted_at": r["submitted_at"], "commit_id": r["commit_id"],
                "author_association": "MEMBER"}

    def release(self, r):
        return {"url": self.api(f"/releases/{r['id']}"), "id": r["id"],
                "node_id": f"RE_{r['id']}", "html_url": self.web(f"/releases/tag/{r['tag_name']}"),
                "tag_name": r["tag_name"], "target_commitish": r["target_commitish"],
                "name": r["name"], "body": r["body"], "draft": r["draft"],
                "prerelease": r["prerelease"], "created_at": r["created_at"],
                "published_at": None if r["draft"] else r["created_at"],
                "author": self.user(r["author"]), "assets": []}

    def commit(self, c):
        an, ae, ad = c["author"]
        cn, ce, cd = c["committer"]
        return {"sha": c["sha"], "node_id": f"C_{c['sha']}", "url": self.api(f"/commits/{c['sha']}"),
                "html_url": self.web(f"/commit/{c['sha']}"),
                "commit": {"message": c["message"], "tree": {"sha": c["tree"]},
                           "author": {"name": an, "email": ae, "date": ad},
                           "committer": {"name": cn, "email": ce, "date": cd}},
                "parents": [{"sha": p, "url": self.api(f"/commits/{p}")} for p in c["parents"]]}


# --- the operations ----------------------------------------------------------------------------

def find_pr(number):
    pr = STATE["pulls"].get(str(number))
    if pr is None:
        raise ApiError(404, "Not Found")
    return pr


def add_label_defs(names):
    for name in names:
        if name not in STATE["labels"]:
            STATE["labels"][name] = {"id": next_id(), "name": name, "color": "ededed",
                                     "description": None}


def create_pr(body, user):
    title, head, base = body.get("title"), body.get("head"), body.get("base")
    if not title:
        raise validation("title", code="missing_field", field="title")
    if not head or not base:
        raise validation("head/base", code="missing_field", field="head" if not head else "base")
    if ":" in head:
        owner, head = head.split(":", 1)
        if owner != ARGS.repo.split("/")[0]:
            raise validation("head", code="invalid", field="head")
    if branch_sha(head) is None:
        raise validation("head", code="invalid", field="head")
    if branch_sha(base) is None:
        raise validation("base", code="invalid", field="base")
    for pr in STATE["pulls"].values():
        if pr["state"] == "open" and pr["head_ref"] == head and pr["base_ref"] == base:
            owner = ARGS.repo.split("/")[0]
            raise validation(f"A pull request already exists for {owner}:{head}.")
    if not commits_between(base, head):
        raise validation(f"No commits between {base} and {head}")
    number = STATE["next_number"]
    STATE["next_number"] += 1
    stamp = now()
    pr = {"number": number, "id": next_id(), "title": title, "body": body.get("body"),
          "head_ref": head, "base_ref": base, "state": "open", "user": user, "labels": [],
          "created_at": stamp, "updated_at": stamp, "closed_at": None, "merged_at": None,
          "merge_commit_sha": None, "merged_by": None, "draft": bool(body.get("draft")),
          "head_sha_at_close": None, "base_sha_at_close": None}
    STATE["pulls"][str(number)] = pr
    return pr


def add_review(pr, user, event, body="", commit_id=None):
    states = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
    if event not in states:
        raise validation("event", resource="PullRequestReview", code="invalid", field="event")
    if pr["state"] != "open":
        raise validation("Can not review a closed pull request", resource="PullRequestReview")
    if event != "COMMENT" and user == pr["user"]:
        word = "approve" if event == "APPROVE" else "request changes on"
        raise validation(f"Can not {word} your own pull request", resource="PullRequestReview")
    review = {"id": next_id(), "user": user, "body": body or "", "state": states[event],
              "submitted_at": now(), "commit_id": commit_id or branch_sha(pr["head_ref"])}
    STATE["reviews"].setdefault(str(pr["number"]), []).append(review)
    pr["updated_at"] = now()
    return review


def approved(pr):
    """An approval is the latest review of its reviewer, on any commit (as GitHub keeps stale
    approvals unless the branch protection dismisses them)."""
    latest = {}
    for r in STATE["reviews"].get(str(pr["number"]), []):
        if r["state"] in ("APPROVED", "CHANGES_REQUESTED"):
            latest[r["user"]] = r["state"]
    return "APPROVED" in latest.values() and "CHANGES_REQUESTED" not in latest.values()


def merge_pr(pr, user, method, sha=None, commit_title=None, commit_message=None):
    if method not in ("merge", "squash", "rebase"):
        raise validation("merge_method", resource="PullRequest", code="invalid",
                         field="merge_method")
    if pr["state"] != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    base_ref, head_ref = pr["base_ref"], pr["head_ref"]
    base, head = branch_sha(base_ref), branch_sha(head_ref)
    if head is None or base is None:
        raise ApiError(405, "Pull Request is not mergeable")
    if sha and sha != head:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    if base_ref in ARGS.protect and not approved(pr):
        raise ApiError(405, "At least 1 approving review is required by reviewers with write "
                            "access.")
    commits = commits_between(base, head)
    if not commits:
        raise ApiError(405, "Pull Request is not mergeable")
    tree = merge_tree(base, head)
    if tree is None:
        raise ApiError(405, "Pull Request is not mergeable")
    n, owner = pr["number"], ARGS.repo.split("/")[0]
    if method == "merge":
        title = commit_title or f"Merge pull request #{n} from {owner}/{head_ref}"
        message = f"{title}\n\n{commit_message if commit_message is not None else pr['title']}\n"
        new = commit_tree(tree, [base, head], message, user)
    elif method == "squash":
        title = commit_title or f"{pr['title']} (#{n})"
        if commit_message is None:
            subjects = [commit_info(c)["message"] for c in commits]
            commit_message = "\n\n".join(f"* {s}" for s in subjects)
        new = commit_tree(tree, [base], f"{title}\n\n{commit_message}\n", user)
    else:
        new = base
        for c in commits:
            info = commit_info(c)
            if len(info["parents"]) != 1:
                raise ApiError(405, "This branch can't be rebased")
            t = merge_tree(new, c, merge_base=info["parents"][0])
            if t is None:
                raise ApiError(405, "This branch can't be rebased")
            if t == commit_info(new)["tree"]:
                # Already upstream (say, squash-merged before): dropped, as git rebase does.
                continue
            an, _ae, ad = info["author"]
            new = commit_tree(t, [new], info["message"] + "\n", an, ad)
    if new == base:
        raise ApiError(405, "Pull Request is not mergeable")
    update_ref(f"refs/heads/{base_ref}", new, base)
    stamp = now()
    pr.update({"state": "closed", "merged_at": stamp, "closed_at": stamp, "updated_at": stamp,
               "merge_commit_sha": new, "merged_by": user, "head_sha_at_close": head,
               "base_sha_at_close": base, "merge_method": method})
    return {"sha": new, "merged": True, "message": "Pull Request successfully merged"}


def close_pr(pr):
    if pr["state"] == "open":
        stamp = now()
        pr.update({"state": "closed", "closed_at": stamp, "updated_at": stamp,
                   "head_sha_at_close": branch_sha(pr["head_ref"]),
                   "base_sha_at_close": branch_sha(pr["base_ref"])})


def create_release(body, user):
    tag = body.get("tag_name")
    if not tag:
        raise validation("tag_name", resource="Release", code="missing_field", field="tag_name")
    if any(r["tag_name"] == tag for r in STATE["releases"]):
        raise validation("tag_name", resource="Release", code="already_exists", field="tag_name")
    target = body.get("target_commitish") or default_branch()
    draft = bool(body.get("draft"))
    if tag_sha(tag) is None and not draft:
        # GitHub makes the tag from target_commitish when it does not exist.
        at = resolve(target)
        if at is None:
            raise validation("target_commitish", resource="Release", code="invalid",
                             field="target_commitish")
        git("update-ref", f"refs/tags/{tag}", at)
    release = {"id": next_id(), "tag_name": tag, "target_commitish": target,
               "name": body.get("name"), "body": body.get("body"), "draft": draft,
               "prerelease": bool(body.get("prerelease")), "created_at": now(), "author": user}
    STATE["releases"].append(release)
    return release


# --- HTTP --------------------------------------------------------------------------------------

def paginate(items, query, url):
    per_page = min(int(query.get("per_page", ["30"])[0]), 100)
    page = max(int(query.get("page", ["1"])[0]), 1)
    chunk = items[(page - 1) * per_page: page * per_page]
    last = max((len(items) + per_page - 1) // per_page, 1)
    links = []

    def link(p, rel):
        q = {k: v[0] for k, v in query.items()}
        q["per_page"], q["page"] = str(per_page), str(p)
        return f'<{url}?{urllib.parse.urlencode(q)}>; rel="{rel}"'
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(page - 1, "prev"), link(1, "first")]
    return chunk, ({"Link": ", ".join(links)} if links else {})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "login-release-sandbox-github"

    def log_message(self, fmt, *args):
        # The request line only (method, path, status): never a header, so never the token.
        sys.stderr.write(f"{self.log_date_time_string()} {fmt % args}\n")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def send_json(self, status, body, headers=None):
        data = (json.dumps(body, indent=1) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Api-Version-Selected", API_VERSION)
        self.send_header("X-RateLimit-Limit", "5000")
        self.send_header("X-RateLimit-Remaining", "4999")
        self.send_header("X-RateLimit-Used", "1")
        self.send_header("X-RateLimit-Resource", "core")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_text(self, page):
        status, text = page
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "Problems parsing JSON")

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        base = f"http://{self.headers.get('Host') or '127.0.0.1'}"
        try:
            body = self.read_body() if method in ("POST", "PUT", "PATCH") else {}
            with LOCK:
                if url.path == f"/{ARGS.repo}" or url.path.startswith(f"/{ARGS.repo}/"):
                    self.send_text(web_page(url.path[len(ARGS.repo) + 1:]))
                    return
                if url.path.startswith(CONTROL):
                    status, answer, headers = control(method, url.path[len(CONTROL):], body,
                                                      Render(base))
                else:
                    authorize(self.headers.get("Authorization"))
                    status, answer, headers = api(method, url.path, query, body, Render(base),
                                                  f"{base}{url.path}")
        except ApiError as e:
            status, headers = e.status, {}
            answer = {"message": e.message, "documentation_url": "https://docs.github.com/rest",
                      "status": str(e.status)}
            if e.errors:
                answer["errors"] = e.errors
        self.send_json(status, answer, headers)


def web_page(rest):
    """What the html_url links show: a plain-text page of the PR or release (no token, as a
    public repository's pages need none)."""
    parts = [urllib.parse.unquote(p) for p in rest.split("/") if p]
    if len(parts) == 2 and parts[0] == "pull" and parts[1].isdigit():
        pr = STATE["pulls"].get(parts[1])
        if pr is None:
            return 404, "Not Found\n"
        state = "merged" if pr["merged_at"] else pr["state"]
        lines = [f"#{pr['number']} {pr['title']} ({state})",
                 f"{pr['head_ref']} -> {pr['base_ref']}, by {pr['user']}",
                 f"labels: {', '.join(pr['labels']) or 'none'}"]
        for r in STATE["reviews"].get(parts[1], []):
            lines.append(f"review: {r['state']} by {r['user']} at {r['submitted_at']}")
        if pr["merged_at"]:
            lines.append(f"merged by {pr['merged_by']} at {pr['merged_at']} "
                         f"({pr.get('merge_method')}): {pr['merge_commit_sha']}")
        return 200, "\n".join(lines + ["", pr["body"] or ""]) + "\n"
    if len(parts) == 3 and parts[:2] == ["releases", "tag"]:
        for x in STATE["releases"]:
            if x["tag_name"] == parts[2]:
                return 200, f"{x['name']} ({x['tag_name']})\n\n{x['body'] or ''}\n"
        return 404, "Not Found\n"
    pulls = sorted(STATE["pulls"].values(), key=lambda p: p["number"])
    lines = [f"{ARGS.repo} (the sandbox's GitHub)", ""]
    lines += [f"#{p['number']} {p['title']} ({'merged' if p['merged_at'] else p['state']})"
              for p in pulls]
    lines += [f"release {x['name']} ({x['tag_name']})" for x in STATE["releases"]]
    return 200, "\n".join(lines) + "\n"


def authorize(header):
    if not header:
        raise ApiError(401, "Requires authentication")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in ("bearer", "token") or not token.strip():
        raise ApiError(401, "Bad credentials")


def api(method, path, query, body, r, url):
    user = ARGS.user
    if (method, path) == ("GET", "/user"):
        return 200, r.user(user), {}
    prefix = f"/repos/{ARGS.repo}"
    if path != prefix and not path.startswith(prefix + "/"):
        raise ApiError(404, "Not Found")
    parts = [urllib.parse.unquote(p) for p in path[len(prefix):].split("/") if p]
    route = (method, *parts)
    if route == ("GET",):
        return 200, r.repo(), {}
    if route == ("GET", "labels"):
        items, h = paginate([r.label(n) for n in sorted(STATE["labels"])], query, url)
        return 200, items, h
    if len(parts) == 2 and route[:2] == ("GET", "labels"):
        if parts[1] not in STATE["labels"]:
            raise ApiError(404, "Not Found")
        return 200, r.label(parts[1]), {}
    if route == ("POST", "labels"):
        name = body.get("name")
        if not name:
            raise validation("name", resource="Label", code="missing_field", field="name")
        if name in STATE["labels"]:
            raise validation("name", resource="Label", code="already_exists", field="name")
        STATE["labels"][name] = {"id": next_id(), "name": name,
                                 "color": body.get("color") or "ededed",
                                 "description": body.get("description")}
        save_state()
        return 201, r.label(name), {}
    if route == ("GET", "pulls"):
        return list_pulls(query, r, url)
    if route == ("POST", "pulls"):
        pr = create_pr(body, user)
        save_state()
        return 201, r.pull(pr, full=True), {}
    if len(parts) >= 2 and parts[0] in ("pulls", "issues") and parts[1].isdigit():
        pr = find_pr(int(parts[1]))
        rest = tuple(parts[2:])
        if parts[0] == "issues" and rest == ("labels",):
            if method == "GET":
                return 200, [r.label(l) for l in pr["labels"]], {}
            if method == "POST":
                names = body if isinstance(body, list) else body.get("labels", [])
                add_label_defs(names)
                pr["labels"] += [n for n in names if n not in pr["labels"]]
                pr["updated_at"] = now()
                save_state()
                return 200, [r.label(l) for l in pr["labels"]], {}
        if parts[0] == "pulls" and rest == ():
            if method == "GET":
                return 200, r.pull(pr, full=True), {}
            if method == "PATCH":
                for k in ("title", "body"):
                    if k in body:
                        pr[k] = body[k]
                if "base" in body and pr["state"] == "open":
                    if branch_sha(body["base"]) is None:
                        raise validation("base", code="invalid", field="base")
                    pr["base_ref"] = body["base"]
                if body.get("state") == "closed":
                    close_pr(pr)
                elif body.get("state") == "open" and pr["state"] == "closed" \
                        and not pr["merged_at"]:
                    pr.update({"state": "open", "closed_at": None, "head_sha_at_close": None,
                               "base_sha_at_close": None})
                pr["updated_at"] = now()
                save_state()
                return 200, r.pull(pr, full=True), {}
        if parts[0] == "pulls" and rest == ("reviews",):
            if method == "GET":
                reviews = [r.review(pr["number"], x)
                           for x in STATE["reviews"].get(str(pr["number"]), [])]
                items, h = paginate(reviews, query, url)
                return 200, items, h
            if method == "POST":
                review = add_review(pr, user, body.get("event", "COMMENT"), body.get("body"),
                                    body.get("commit_id"))
                save_state()
                return 200, r.review(pr["number"], review), {}
        if parts[0] == "pulls" and rest == ("merge",):
            if method == "GET":
                if pr["merged_at"]:
                    return 204, None, {}
                raise ApiError(404, "Not Found")
            if method == "PUT":
                answer = merge_pr(pr, user, body.get("merge_method", "merge"), body.get("sha"),
                                  body.get("commit_title"), body.get("commit_message"))
                save_state()
                return 200, answer, {}
    if len(parts) >= 2 and route[:2] == ("GET", "commits"):
        # A sha or a ref; a branch name may hold slashes (stages/prod).
        ref = "/".join(parts[1:])
        sha = resolve(ref)
        info = commit_info(sha) if sha else None
        if info is None:
            raise validation(f"No commit found for SHA: {ref}", resource="Commit")
        return 200, r.commit(info), {}
    if route == ("GET", "releases"):
        newest = sorted(STATE["releases"], key=lambda x: (x["created_at"], x["id"]), reverse=True)
        items, h = paginate([r.release(x) for x in newest], query, url)
        return 200, items, h
    if route == ("POST", "releases"):
        release = create_release(body, user)
        save_state()
        return 201, r.release(release), {}
    if route == ("GET", "releases", "latest"):
        published = [x for x in STATE["releases"] if not x["draft"] and not x["prerelease"]]
        if not published:
            raise ApiError(404, "Not Found")
        return 200, r.release(max(published, key=lambda x: (x["created_at"], x["id"]))), {}
    if len(parts) == 3 and parts[:2] == ["releases", "tags"] and method == "GET":
        for x in STATE["releases"]:
            if x["tag_name"] == parts[2]:
                return 200, r.release(x), {}
        raise ApiError(404, "Not Found")
    if len(parts) == 2 and parts[0] == "releases" and parts[1].isdigit() and method == "GET":
        for x in STATE["releases"]:
            if x["id"] == int(parts[1]):
                return 200, r.release(x), {}
        raise ApiError(404, "Not Found")
    raise ApiError(404, "Not Found")


def list_pulls(query, r, url):
    state = query.get("state", ["open"])[0]
    head = query.get("head", [None])[0]
    base = query.get("base", [None])[0]
    sort = query.get("sort", ["created"])[0]
    direction = query.get("direction", ["desc" if sort == "created" else "asc"])[0]
    owner = ARGS.repo.split("/")[0]
    items = []
    for pr in STATE["pulls"].values():
        if state != "all" and pr["state"] != state:
            continue
        if head:
            h_owner, _, h_ref = head.partition(":")
            if not h_ref or h_owner != owner or pr["head_ref"] != h_ref:
                continue
        if base and pr["base_ref"] != base:
            continue
        items.append(pr)
    key = {"created": lambda p: (p["created_at"], p["number"]),
           "updated": lambda p: (p["updated_at"], p["number"])}.get(
        sort, lambda p: (p["created_at"], p["number"]))
    items.sort(key=key, reverse=direction == "desc")
    page, h = paginate([r.pull(p) for p in items], query, url)
    return 200, page, h


def control(method, path, body, r):
    parts = [p for p in path.split("/") if p]
    if (method, *parts) == ("GET", "health"):
        return 200, {"ok": True, "repo": ARGS.repo}, {}
    if (method, *parts) == ("GET", "state"):
        return 200, STATE, {}
    if (method, *parts) == ("POST", "releases"):
        release = create_release(body, body.get("author") or ARGS.user)
        save_state()
        return 201, r.release(release), {}
    if method == "POST" and len(parts) == 3 and parts[0] == "pulls" and parts[1].isdigit():
        pr = find_pr(int(parts[1]))
        reviewer = body.get("reviewer") or "sandbox-reviewer"
        if parts[2] == "approve":
            review = add_review(pr, reviewer, "APPROVE", body.get("body") or "Looks good to me.")
            save_state()
            return 200, r.review(pr["number"], review), {}
        if parts[2] == "merge":
            # With "approve", the review and the merge are one change of state (the reviewer who
            # approves and merges at once): nobody polling sees the PR approved but open between.
            review = None
            if body.get("approve"):
                review = add_review(pr, reviewer, "APPROVE", body.get("body") or "Looks good to me.")
            try:
                answer = merge_pr(pr, reviewer, body.get("method", "merge"), body.get("sha"))
            except ApiError:
                if review is not None:
                    STATE["reviews"][str(pr["number"])].remove(review)
                raise
            save_state()
            extra = {"review": r.review(pr["number"], review)} if review is not None else {}
            return 200, {**answer, **extra, "pull": r.pull(pr, full=True)}, {}
        if parts[2] == "close":
            close_pr(pr)
            save_state()
            return 200, r.pull(pr, full=True), {}
    raise ApiError(404, f"unknown control request {method} {CONTROL}{path}")


def _exit_with_parent():
    try:
        sys.stdin.read()
    finally:
        os._exit(0)


def main():
    global ARGS, STATE
    p = argparse.ArgumentParser()
    p.add_argument("--origin", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--repo", default="18F/identity-idp")
    p.add_argument("--user", default="release-manager")
    p.add_argument("--protect", action="append", default=[])
    p.add_argument("--detach", action="store_true")
    ARGS = p.parse_args()
    STATE = load_state()
    if not args_ok():
        sys.exit(f"github_server: {ARGS.origin} is not a git repository")
    if not ARGS.detach:
        threading.Thread(target=_exit_with_parent, daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    tmp = f"{ARGS.ready}.tmp"
    with open(tmp, "w") as f:
        json.dump({"port": port, "pid": os.getpid()}, f)
    os.replace(tmp, ARGS.ready)
    sys.stderr.write(f"serving {ARGS.repo} on http://127.0.0.1:{port} (origin {ARGS.origin})\n")
    sys.stderr.flush()
    server.serve_forever()


def args_ok():
    return git("rev-parse", "--git-dir", check=False).returncode == 0


if __name__ == "__main__":
    main()
