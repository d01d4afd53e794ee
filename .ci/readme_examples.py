#!/usr/bin/env python3
"""Runs the README's examples against a freshly seeded server, so the README cannot drift.

Every ```sh block that talks to the server (curl, the gql helper, defect-control
commands) and needs no Docker or cargo is run, in order, in one bash session; the run
fails when a command fails or any answer carries an error.
"""
import os, re, shutil, socket, struct, subprocess, sys, tempfile, time, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN_DIR = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug")
SKIP = ("docker", "cargo ", "createdb", "openssl", "just ")
EXPECTED_ERROR = "# the answer is an error"


def blocks(text):
    for m in re.finditer(r"```sh\n(.*?)```", text, re.S):
        body = m.group(1)
        runs = "curl " in body or "gql " in body or "defect-control " in body
        if runs and not any(s in body for s in SKIP):
            yield body


def png(path, w=64, h=48):
    raw = b"".join(b"\x00" + bytes(v for x in range(w) for v in (x * 4 % 256, y * 5 % 256, 90))
                   for y in range(h))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    # A marker line before each block attributes every answer to its block; a block that
    # says "# the answer is an error" shows a refusal on purpose (its code is checked by
    # the tests) and only must not fail as a command.
    bodies = list(blocks(readme))
    script = "\n".join(f"echo; echo '@@block {i}@@'\n{body}" for i, body in enumerate(bodies))
    work = tempfile.mkdtemp(prefix="readme-")
    png(os.path.join(work, "photo.jpg"))  # the content, not the name, decides the type
    png(os.path.join(work, "level3.png"), 320, 200)  # the "Plans and pins" drawing
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
                                capture_output=True, text=True, timeout=120)
        print(result.stdout)
        print(result.stderr, file=sys.stderr)
        bad, expected = [], False
        for line in result.stdout.splitlines():
            marker = re.fullmatch(r"@@block (\d+)@@", line)
            if marker:
                expected = EXPECTED_ERROR in bodies[int(marker.group(1))]
            elif not expected and ('"errors"' in line or '{"error":' in line):
                bad.append(line)
        if result.returncode != 0 or bad:
            print(f"README examples failed (exit {result.returncode}): {bad}", file=sys.stderr)
            return 1
        runs = len(list(blocks(readme)))
        print(f"README examples: {runs} blocks ran without errors")
        return 0
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
