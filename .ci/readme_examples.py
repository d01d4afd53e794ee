#!/usr/bin/env python3
"""Runs the documentation's examples against a freshly seeded server, so the docs cannot drift.

Pages, in this order: README.md, then docs/guide.md, docs/operations.md, docs/security.md,
docs/graphql-over-http.md, then any other docs/*.md by name (docs/contract/ is the API
contract, not examples). Every ```sh block that talks to the server (curl, the gql helper,
defect-control commands) and needs no Docker or cargo is run, page after page, in one bash
session (a page may use what an earlier page set); the run fails when a command fails or
any answer carries an error. Every ```js block whose first line is `// run: node` is then
run with node (graphql-ws and ws from .ci/node, pinned there), each with a timeout; it
fails when the program exits non-zero, times out or prints no event (a line with "kind").
Examples run in a scratch directory where `seed/` is the repository's, so the uploads read
the committed seed/photo.jpg and seed/level3.png.
"""
import glob, os, re, shutil, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN_DIR = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug")
NODE_DIR = os.path.join(ROOT, ".ci", "node")
SKIP = ("docker", "cargo ", "createdb", "openssl", "just ")
EXPECTED_ERROR = "# the answer is an error"
RUN_NODE = "// run: node"
NODE_TIMEOUT = 30
FIRST = ["README.md", "docs/guide.md", "docs/operations.md", "docs/security.md",
         "docs/graphql-over-http.md"]


def pages():
    """README.md and docs/*.md (not docs/contract/) in a fixed order."""
    rest = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    return FIRST + [p for p in rest if p not in FIRST]


def sh_blocks(text):
    for m in re.finditer(r"^```sh\n(.*?)^```", text, re.S | re.M):
        body = m.group(1)
        runs = "curl " in body or "gql " in body or "defect-control " in body
        if runs and not any(s in body for s in SKIP):
            yield body


def js_blocks(text):
    for m in re.finditer(r"^```js\n(.*?)^```", text, re.S | re.M):
        if m.group(1).startswith(RUN_NODE):
            yield m.group(1)


def node_modules():
    """graphql-ws and ws as .ci/node/package-lock.json pins them (npm ci when missing or stale)."""
    def installed():
        check = ("const p=require('./package.json').dependencies;"
                 "process.exit(Object.keys(p).every(n=>require('./node_modules/'+n+'/package.json').version===p[n])?0:1)")
        return subprocess.run(["node", "-e", check], cwd=NODE_DIR, capture_output=True).returncode == 0
    if not installed():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=NODE_DIR, check=True)


def main():
    texts = {p: open(os.path.join(ROOT, p), encoding="utf-8").read() for p in pages()}
    # A marker line before each block attributes every answer to its block; a block that
    # says "# the answer is an error" shows a refusal on purpose (its code is checked by
    # the tests) and only must not fail as a command.
    bodies = [(p, body) for p in texts for body in sh_blocks(texts[p])]
    programs = [(p, body) for p in texts for body in js_blocks(texts[p])]
    unrun = [p for p in texts for m in re.finditer(r"^```(?:js|javascript|mjs)\n(?!// run: node)", texts[p], re.M)]
    if unrun:  # a JavaScript example CI would not run could drift unseen
        print(f"```js blocks without `{RUN_NODE}` on their first line in: {unrun}", file=sys.stderr)
        return 1
    script = "\n".join(f"echo; echo '@@block {i}@@'\n{body}" for i, (_, body) in enumerate(bodies))
    if programs:
        node_modules()
    work = tempfile.mkdtemp(prefix="readme-")
    os.symlink(os.path.join(ROOT, "seed"), os.path.join(work, "seed"))  # seed/photo.jpg, seed/level3.png
    env = dict(os.environ,
               DATABASE_URL=f"sqlite://{work}/readme.db?mode=rwc",
               STORAGE_URL=os.path.join(work, "media"),
               BIND_ADDR="127.0.0.1:8000",
               RUST_LOG="warn",
               PATH=BIN_DIR + os.pathsep + os.environ["PATH"])
    server = subprocess.Popen([os.path.join(BIN_DIR, "defect-control"), "serve", "--seed",
                               os.path.join(ROOT, "seed", "demo.json")], env=env, cwd=work)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", 8000), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=work,
                                capture_output=True, text=True, timeout=180)
        print(result.stdout)
        print(result.stderr, file=sys.stderr)
        bad, expected, current = [], False, None
        for line in result.stdout.splitlines():
            marker = re.fullmatch(r"@@block (\d+)@@", line)
            if marker:
                current = bodies[int(marker.group(1))]
                expected = EXPECTED_ERROR in current[1]
            elif not expected and ('"errors"' in line or '{"error":' in line):
                bad.append(f"{current[0] if current else '?'}: {line}")
        failed = result.returncode != 0 or bad
        if failed:
            print(f"sh examples failed (exit {result.returncode}): {bad}", file=sys.stderr)

        # The Node programs, each on its own, after the shell blocks.
        for i, (page, body) in enumerate(programs):
            path = os.path.join(NODE_DIR, f".example-{i}.mjs")  # beside node_modules, for import
            with open(path, "w", encoding="utf-8") as f:
                f.write(body)
            try:
                run = subprocess.run(["node", path], cwd=work, env=env, capture_output=True,
                                     text=True, timeout=NODE_TIMEOUT)
                out, err, code = run.stdout, run.stderr, run.returncode
            except subprocess.TimeoutExpired as e:
                out, err, code = (e.stdout or b"").decode(), (e.stderr or b"").decode(), "timeout"
            finally:
                os.remove(path)
            print(f"@@node {i} ({page})@@\n{out}")
            print(err, file=sys.stderr)
            event = '"kind"' in out
            if code != 0 or not event:
                printed = "an event" if event else "no event"
                print(f"node example {i} of {page} failed (exit {code}, {printed} printed)",
                      file=sys.stderr)
                failed = True

        if failed:
            return 1
        counts = ", ".join(f"{p}: {sum(1 for q, _ in bodies if q == p)} sh"
                           f" + {sum(1 for q, _ in programs if q == p)} js"
                           for p in texts if any(q == p for q, _ in bodies + programs))
        print(f"Documentation examples: {len(bodies)} sh blocks and {len(programs)} Node programs "
              f"ran without errors ({counts})")
        return 0
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
