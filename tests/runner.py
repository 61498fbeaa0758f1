#!/usr/bin/env python3
"""Build the project and run every test suite, then print one closing line.

Suites:
  build   meson build of everything (build/)
  unit    C unit tests (TAP) built with AddressSanitizer + UBSan (build-asan/)
  fuzz    libFuzzer targets, clang + ASan + UBSan, bounded time (build-fuzz/)
  pytest  behaviour tests against real components (tests/*/test_*.py)

Under CI=true a skipped test is a failure: in CI nothing may be skipped.
"""
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CI = os.environ.get("CI") == "true"
FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "60"))


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []
        self.skips = []

    def add(self, suite, name, outcome, detail=""):
        if outcome == "pass":
            self.passed += 1
        elif outcome == "skip" and CI:
            # In CI nothing may be skipped: the skip is counted as what it is there.
            self.failed += 1
            self.failures.append(f"{suite}: {name}: skipped in CI: {detail}")
        elif outcome == "skip":
            self.skipped += 1
            self.skips.append(f"{suite}: {name}: {detail}")
        else:
            self.failed += 1
            self.failures.append(f"{suite}: {name}")


def run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, **kw).returncode


def meson_build(builddir, options, env=None):
    if not os.path.exists(os.path.join(ROOT, builddir, "build.ninja")):
        if run(["meson", "setup", builddir] + options, env=env) != 0:
            return False
    return run(["ninja", "-C", builddir], env=env) == 0


def suite_build(t):
    ok = meson_build("build", [])
    t.add("build", "meson build", "pass" if ok else "fail")
    return ok


def suite_unit(t):
    if not meson_build("build-asan", ["-Db_sanitize=address,undefined", "-Db_lundef=false"]):
        t.add("unit", "sanitizer build", "fail")
        return
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    run(["meson", "test", "-C", "build-asan", "--suite", "unit", "--print-errorlogs"], env=env)
    log = os.path.join(ROOT, "build-asan", "meson-logs", "testlog.json")
    if not os.path.exists(log):
        t.add("unit", "meson test", "fail")
        return
    with open(log) as f:
        for line in f:
            entry = json.loads(line)
            result = entry.get("result")
            outcome = {"OK": "pass", "SKIP": "skip", "EXPECTEDFAIL": "pass"}.get(result, "fail")
            t.add("unit", entry.get("name", "?"), outcome, result)


def suite_fuzz(t):
    env = dict(os.environ, CC="clang")
    if not meson_build("build-fuzz", ["-Dfuzz=true", "-Db_sanitize=address,undefined",
                                      "-Db_lundef=false"], env=env):
        t.add("fuzz", "fuzz build", "fail")
        return
    fuzz_dir = os.path.join(ROOT, "build-fuzz", "tests", "fuzz")
    targets = sorted(f for f in os.listdir(fuzz_dir)
                     if f.startswith("fuzz-") and os.access(os.path.join(fuzz_dir, f), os.X_OK)
                     and not f.endswith(".p")) if os.path.isdir(fuzz_dir) else []
    if not targets:
        t.add("fuzz", "targets", "fail")
        return
    for target in targets:
        corpus_seed = os.path.join(ROOT, "tests", "fuzz", "corpus", target[len("fuzz-"):])
        work = os.path.join(ROOT, "build-fuzz", "corpus-" + target)
        os.makedirs(work, exist_ok=True)
        cmd = [os.path.join(fuzz_dir, target), f"-max_total_time={FUZZ_SECONDS}",
               "-max_len=4096", "-timeout=10", "-print_final_stats=1", work, corpus_seed]
        rc = run(cmd)
        t.add("fuzz", target, "pass" if rc == 0 else "fail")


def suite_pytest(t):
    xml = os.path.join(ROOT, "build", "pytest.xml")
    run([sys.executable, "-m", "pytest", "-ra", "-v", "-p", "no:cacheprovider",
         f"--junitxml={xml}", "tests"])
    if not os.path.exists(xml):
        t.add("pytest", "pytest run", "fail")
        return
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            t.add("pytest", name, "fail")
        elif case.find("skipped") is not None:
            t.add("pytest", name, "skip", case.find("skipped").get("message", ""))
        else:
            t.add("pytest", name, "pass")
    os.remove(xml)


def stop_on_signal(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main():
    started = time.monotonic()
    t = Tally()
    # A CI timeout's SIGTERM or a ^C still ends with the closing line.
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGHUP, stop_on_signal)
    try:
        if suite_build(t):
            suite_unit(t)
            suite_fuzz(t)
            suite_pytest(t)
    except BaseException as e:  # the summary line must come out whatever broke
        print(f"runner: stopped by {type(e).__name__}: {e}", flush=True)
        t.add("runner", "the runner itself", "fail")
    for s in t.skips:
        print(f"SKIPPED {s}")
    for f in t.failures:
        print(f"FAILED {f}")
    print(f"total time {time.monotonic() - started:.0f} s")
    print(f"{t.passed} passed, {t.failed} failed, {t.skipped} skipped", flush=True)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
