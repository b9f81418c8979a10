#!/usr/bin/env python3
"""Checks that the Dockerfile's runtime stage installs exactly the Debian packages that hold the
shared libraries vmray-connector links (its DT_NEEDED entries), so the image neither fails at
start with a missing library nor carries packages it does not use. The binary built on this
Debian 12 machine stands in for the image's (both link the same bookworm packages).

Usage: runtime_libs_test.py BINARY DOCKERFILE
Exit 77 (skipped) when dpkg or readelf is missing (not a Debian build machine).
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerfile_lint  # noqa: E402

# In debian:12-slim already (essential packages), so the Dockerfile need not name them.
BASE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}
# Installed for reasons other than linking: TLS roots and the HEALTHCHECK's HTTP client.
NON_LIBRARY_PACKAGES = {"ca-certificates", "curl"}


def needed(binary):
    out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout)


def resolved_paths(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True)
    paths = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            paths[m.group(1)] = m.group(2)
    return paths


def package_of(path):
    # dpkg records the /usr-merged or the original path; try both.
    candidates = [path, os.path.realpath(path)]
    candidates += [p.replace("/usr/lib/", "/lib/", 1) for p in candidates if p.startswith("/usr/")]
    for candidate in candidates:
        out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.split(":", 1)[0].strip()
    return None


def installed_by_runtime_stage(dockerfile):
    with open(dockerfile, encoding="utf-8") as f:
        stages = dockerfile_lint.split_stages(dockerfile_lint.parse_instructions(f.read()))
    packages = set()
    for instruction in stages[-1]:
        if instruction.keyword != "RUN":
            continue
        for command in dockerfile_lint.shell_commands(instruction.args):
            words = command.split()
            if "apt-get" in words and "install" in words:
                start = words.index("install") + 1
                packages |= {w for w in words[start:] if not w.startswith("-")}
    return packages


def main(argv):
    if len(argv) != 3:
        print("usage: runtime_libs_test.py BINARY DOCKERFILE", file=sys.stderr)
        return 2
    binary, dockerfile = argv[1], argv[2]
    for tool in ("dpkg", "readelf", "ldd"):
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} is not available; this check needs a Debian build machine")
            return 77
    if not os.path.isfile(binary):
        print(f"FAIL: {binary} does not exist; build the vmray-connector target first")
        return 1
    sonames = needed(binary)
    sanitizers = [s for s in sonames if re.match(r"lib(asan|ubsan|tsan|lsan)\.so", s)]
    if sanitizers:
        print(f"SKIP: {binary} is a sanitizer build ({', '.join(sanitizers)}); the image ships "
              "the release preset's build, so this check runs in the dev and release builds")
        return 77
    paths = resolved_paths(binary)
    wanted = set()
    problems = []
    for soname in sonames:
        path = paths.get(soname)
        package = package_of(path) if path else None
        if package is None:
            problems.append(f"{soname} ({path}) belongs to no Debian package")
            continue
        print(f"{soname} -> {package}")
        if package not in BASE_PACKAGES:
            wanted.add(package)
    listed = installed_by_runtime_stage(dockerfile)
    for package in sorted(wanted - listed):
        problems.append(f"the runtime stage does not install {package}, which the binary links")
    for package in sorted(listed - wanted - NON_LIBRARY_PACKAGES):
        problems.append(f"the runtime stage installs {package}, which the binary does not link")
    for problem in problems:
        print(f"FAIL: {problem}")
    if problems:
        return 1
    print(f"ok: the runtime stage installs exactly {sorted(wanted)} plus "
          f"{sorted(NON_LIBRARY_PACKAGES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
