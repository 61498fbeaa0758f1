# SPDX-License-Identifier: MIT
"""The binary that carries a file capability is built hardened: full RELRO
(the GOT read-only after start-up, every symbol bound at once), PIE, a
non-executable stack, and libc calls checked by _FORTIFY_SOURCE. Read from
the ELF file itself, so a build flag lost in meson.build shows here."""
import re
import subprocess

import pytest

from buildpaths import INIT, build_option, sanitized


def readelf(*args):
    return subprocess.run(["readelf", "--wide", *args, INIT], capture_output=True, text=True, check=True).stdout


def test_full_relro_and_bind_now(init_binary):
    dynamic = readelf("--dynamic")
    assert re.search(r"\(FLAGS\)\s+.*BIND_NOW", dynamic) or re.search(r"\(FLAGS_1\)\s+Flags:.*\bNOW\b", dynamic), \
        dynamic
    segments = readelf("--program-headers")
    assert "GNU_RELRO" in segments, segments


def test_position_independent_with_a_non_executable_stack(init_binary):
    assert "Type:                              DYN" in readelf("--file-header")
    stack = [l for l in readelf("--program-headers").splitlines() if "GNU_STACK" in l]
    assert stack and not stack[0].rstrip().endswith("E"), stack


def test_libc_calls_are_fortified(init_binary):
    if sanitized() or build_option("optimization") in ("0", "plain"):
        pytest.skip("_FORTIFY_SOURCE needs optimisation and is left out of sanitizer builds")
    symbols = subprocess.run(["nm", "--dynamic", "--undefined-only", INIT], capture_output=True, text=True,
                             check=True).stdout
    fortified = set(re.findall(r"__(\w+)_chk\b", symbols)) - {"stack"}
    # snprintf and memcpy are called with sizes the compiler can see in
    # many places; without fortification neither has a _chk variant.
    assert {"snprintf", "memcpy"} <= fortified, sorted(fortified)
