# SPDX-License-Identifier: MIT
"""check-policy against real files: the malformed table (exact first
diagnostic and exit 1), the shipped defaults, layering, JSON output, and the
size and alias-bomb limits."""
import json
import os
import subprocess
import time

import pytest

from agentcatalog import agent_policy, catalog
from buildpaths import ROOT

HERE = os.path.dirname(os.path.abspath(__file__))
MALFORMED = os.path.join(HERE, "malformed")
DEFAULTS = os.path.join(ROOT, "policy", "defaults")


def check(init, *args, timeout=10):
    return subprocess.run([init, "check-policy", *args], capture_output=True, timeout=timeout)


def expected_table():
    rows = []
    with open(os.path.join(MALFORMED, "expected.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, diag = line.rstrip("\n").split("\t", 1)
            rows.append((name, diag))
    return rows


def test_table_covers_every_file():
    names = {n for n, _ in expected_table()}
    files = {f for f in os.listdir(MALFORMED) if f.endswith(".yaml")}
    assert names == files
    assert len(files) >= 40


@pytest.mark.parametrize("name,diag", expected_table(), ids=[n for n, _ in expected_table()])
def test_malformed_first_diagnostic(init_binary, name, diag):
    path = os.path.join(MALFORMED, name)
    out = check(init_binary, path)
    assert out.returncode == 1
    assert out.stdout == b""
    first = out.stderr.decode("utf-8", "replace").splitlines()[0]
    assert first == f"{path}:{diag}"


@pytest.mark.parametrize("name", sorted(os.listdir(DEFAULTS)))
def test_default_is_accepted_and_reparses(init_binary, tmp_path, name):
    out = check(init_binary, os.path.join(DEFAULTS, name))
    assert out.returncode == 0, out.stderr
    assert out.stderr == b""
    effective = tmp_path / "effective.yaml"
    effective.write_bytes(out.stdout)
    again = check(init_binary, "--json", str(effective))
    assert again.returncode == 0, again.stderr
    # The effective policy is a fixed point: read back, it means the same.
    original = check(init_binary, "--json", os.path.join(DEFAULTS, name))
    assert json.loads(again.stdout) == json.loads(original.stdout)


def test_layering_two_files(init_binary, tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("services: [github]\ndomains: [a.example.com]\nports: [443]\ndns: {min_ttl: 60}\n")
    over = tmp_path / "over.yaml"
    over.write_text("domains: [b.example.com, a.example.com]\ncidrs: [198.51.100.0/24]\n"
                    "ports: [8443]\nselfcheck: {blocked: blocked.example.com}\n")
    out = check(init_binary, "--json", str(base), str(over))
    assert out.returncode == 0, out.stderr
    assert out.stderr == b"", "a repeat across layers is not worth a warning"
    p = json.loads(out.stdout)
    assert {"a.example.com", "b.example.com", "github.com"} <= set(p["domains"])
    assert p["domains"].count("a.example.com") == 1
    assert p["cidrs"] == ["198.51.100.0/24"]
    assert p["ports"] == [8443], "the override's ports replace the base's"
    assert p["service_ports"] == {"github": [22]}, "github adds 22, for its own destinations"
    assert p["dns"]["min_ttl"] == 60, "a scalar the override does not set is kept"
    assert p["selfcheck"] == {"allowed": None, "blocked": "blocked.example.com", "strict": False}


def test_json_output(init_binary, tmp_path):
    claude = tmp_path / "claude.yaml"
    claude.write_text(agent_policy(next(a for a in catalog() if a.name == "claude")))
    out = check(init_binary, "--json", str(claude))
    assert out.returncode == 0, out.stderr
    p = json.loads(out.stdout)
    assert p["services"] == ["anthropic", "github"]
    assert "api.anthropic.com" in p["domains"] and "github.com" in p["domains"]
    assert p["ports"] == [80, 443]
    assert p["service_ports"] == {"github": [22]}
    assert p["needs_github_meta"] is True
    assert p["github"]["meta_url"] == "https://api.github.com/meta"
    assert p["dns"] == {"min_ttl": 30, "grace": 120}


def test_duplicates_warn_with_both_positions(init_binary, tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text("domains:\n  - api.example.com\n  - API.example.com.\nports: [443, 443]\n")
    out = check(init_binary, str(f))
    assert out.returncode == 0
    err = out.stderr.decode()
    assert f"{f}:3:5: warning: duplicate domain \"api.example.com\" (first at {f}:2:5)" in err
    assert f"{f}:4:14: warning: duplicate port 443 (first at {f}:4:9)" in err
    assert out.stdout.decode().count("api.example.com") == 1


def test_every_error_is_reported(init_binary, tmp_path):
    f = tmp_path / "many.yaml"
    f.write_text("ports: [0]\ndomains: [bad_host.example]\ncidrs: [nonsense]\n")
    lines = check(init_binary, str(f)).stderr.decode().splitlines()
    assert [l.split(": error:")[0] for l in lines] == [f"{f}:1:9", f"{f}:2:11", f"{f}:3:9"]


def test_file_over_one_mib_is_refused(init_binary, tmp_path):
    f = tmp_path / "big.yaml"
    body = b"services: [github]\n"
    f.write_bytes(body + b"#" * (1024 * 1024 + 1 - len(body) - 1) + b"\n")
    assert f.stat().st_size == 1024 * 1024 + 1
    out = check(init_binary, str(f))
    assert out.returncode == 1
    assert out.stderr.decode().startswith(f"{f}: error: file is 1048577 bytes")


def test_file_of_exactly_one_mib_is_read(init_binary, tmp_path):
    f = tmp_path / "limit.yaml"
    body = b"services: [github]\n"
    f.write_bytes(body + b"#" * (1024 * 1024 - len(body) - 1) + b"\n")
    assert check(init_binary, str(f)).returncode == 0


def test_alias_bomb_is_refused_quickly(init_binary, tmp_path):
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i-1}"] * 10) + "]")
    f = tmp_path / "bomb.yaml"
    f.write_text("\n".join(lines) + "\nservices: *a29\n")
    started = time.monotonic()
    out = check(init_binary, str(f), timeout=5)
    assert time.monotonic() - started < 2
    assert out.returncode == 1
    assert "anchors (&name) are not allowed" in out.stderr.decode()


def test_usage_errors(init_binary, tmp_path):
    assert check(init_binary).returncode == 2
    assert check(init_binary, "--bogus", "x.yaml").returncode == 2


def test_missing_file(init_binary, tmp_path):
    out = check(init_binary, str(tmp_path / "absent.yaml"))
    assert out.returncode == 1
    assert "cannot open the policy file" in out.stderr.decode()


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_special_file_is_refused_at_once(init_binary, tmp_path, kind):
    """Opening a FIFO waits for a writer: check-policy must not hang on one
    (the timeout turns a hang into a failure) and must say what it got."""
    path = {"fifo": tmp_path / "policy.yaml", "directory": tmp_path, "device": "/dev/null"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    good = os.path.join(DEFAULTS, "base.yaml")
    started = time.monotonic()
    out = check(init_binary, str(path), good, timeout=5)
    assert time.monotonic() - started < 2
    assert out.returncode == 1
    name = {"fifo": "FIFO", "directory": "directory", "device": "character device"}[kind]
    assert out.stderr.decode().splitlines() == [
        f"{path}: error: is a {name}, not a regular file; a policy is read from a regular file only"]
