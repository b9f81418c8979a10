#!/usr/bin/env python3
"""A small Dockerfile linter for CI, because hadolint is not packaged in Debian.

It enforces the rules the project's images must follow:
  pinned-base       every FROM names a tag or digest, and never "latest"
  multi-stage       at least two stages, so build tools stay out of the runtime image
  non-root-user     the final stage ends with USER <numeric uid>[:<numeric gid>], uid not 0
  healthcheck       the final stage has a HEALTHCHECK (not NONE)
  add-url           no ADD of a URL (use curl with a checksum, or COPY)
  apt-update-alone  apt-get update runs in the same RUN as apt-get install
  apt-recommends    apt-get install uses --no-install-recommends
  apt-yes           apt-get install uses -y (builds are not interactive)
  apt-clean         a RUN that installs with apt-get removes /var/lib/apt/lists in the same RUN
  exec-form         ENTRYPOINT and CMD use the JSON (exec) form, so signals reach the process

Usage: dockerfile_lint.py FILE...   (exit 0 when clean, 1 with one line per problem)
"""

import json
import re
import sys
from dataclasses import dataclass


@dataclass
class Instruction:
    line: int  # first line of the instruction, 1-based
    keyword: str  # upper-case
    args: str  # the arguments with continuations joined


@dataclass
class Problem:
    line: int
    rule: str
    message: str

    def __str__(self):
        return f"line {self.line}: [{self.rule}] {self.message}"


def parse_instructions(text):
    """Splits a Dockerfile into instructions, joining backslash continuations and dropping
    comments (also comment lines inside a continued instruction, as Docker does)."""
    instructions = []
    pending = None  # (line, text so far)
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (pending is None and not stripped):
            continue
        continued = stripped.endswith("\\")
        part = stripped[:-1].rstrip() if continued else stripped
        if pending is None:
            pending = (number, part)
        else:
            pending = (pending[0], (pending[1] + " " + part).strip())
        if not continued:
            first, _, rest = pending[1].partition(" ")
            instructions.append(Instruction(pending[0], first.upper(), rest.strip()))
            pending = None
    if pending is not None:
        first, _, rest = pending[1].partition(" ")
        instructions.append(Instruction(pending[0], first.upper(), rest.strip()))
    return instructions


def split_stages(instructions):
    stages = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            stages.append([instruction])
        elif stages:
            stages[-1].append(instruction)
    return stages


def from_image(args):
    """Returns (image, alias) of a FROM, skipping options such as --platform."""
    words = [w for w in args.split() if not w.startswith("--")]
    image = words[0] if words else ""
    alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    return image, alias


def check_base(instruction, aliases, problems):
    image, _ = from_image(instruction.args)
    if image in aliases or image == "scratch":
        return
    if "$" in image:
        problems.append(Problem(instruction.line, "pinned-base",
                                f"base image '{image}' comes from a build argument; "
                                "name a fixed tag or digest"))
        return
    if "@sha256:" in image:
        return
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    if not tag:
        problems.append(Problem(instruction.line, "pinned-base",
                                f"base image '{image}' has no tag; pin one such as "
                                f"'{image}:12' (or a digest)"))
    elif tag == "latest":
        problems.append(Problem(instruction.line, "pinned-base",
                                f"base image '{image}' uses 'latest'; pin a version tag "
                                "or digest"))


def shell_commands(run_args):
    """The simple commands of a shell-form RUN, split on && || ; and |."""
    return [c.strip() for c in re.split(r"&&|\|\||;|\|", run_args) if c.strip()]


def is_apt_get(command, sub):
    words = command.split()
    for i, word in enumerate(words):
        if word in ("apt-get", "apt") and sub in words[i + 1:]:
            return True
    return False


def check_run(instruction, problems):
    args = instruction.args
    if args.startswith("["):
        try:
            args = " ".join(json.loads(args))
        except ValueError:
            pass
    commands = shell_commands(args)
    updates = any(is_apt_get(c, "update") for c in commands)
    installs = [c for c in commands if is_apt_get(c, "install")]
    if updates and not installs:
        problems.append(Problem(instruction.line, "apt-update-alone",
                                "apt-get update without apt-get install in the same RUN "
                                "leaves a stale package list cached in its own layer"))
    for command in installs:
        words = command.split()
        if "--no-install-recommends" not in words:
            problems.append(Problem(instruction.line, "apt-recommends",
                                    "apt-get install without --no-install-recommends pulls "
                                    "in packages the image does not need"))
        if not any(w in ("-y", "--yes", "--assume-yes", "-qy", "-yq") for w in words):
            problems.append(Problem(instruction.line, "apt-yes",
                                    "apt-get install without -y waits for an answer"))
    if installs or updates:
        if not re.search(r"rm\s+(-[a-zA-Z]+\s+)*/var/lib/apt/lists/\*?", args):
            problems.append(Problem(instruction.line, "apt-clean",
                                    "apt-get in a RUN that does not end with "
                                    "'rm -rf /var/lib/apt/lists/*': the package lists stay "
                                    "in the layer"))


def check_exec_form(instruction, problems):
    try:
        value = json.loads(instruction.args)
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    except ValueError:
        ok = False
    if not ok:
        problems.append(Problem(instruction.line, "exec-form",
                                f"{instruction.keyword} in shell form runs under /bin/sh, "
                                "which does not pass SIGTERM on; write "
                                f"{instruction.keyword} [\"program\", \"arg\"]"))


def lint(text):
    problems = []
    instructions = parse_instructions(text)
    stages = split_stages(instructions)
    if not stages:
        return [Problem(1, "multi-stage", "no FROM instruction")]
    if len(stages) < 2:
        problems.append(Problem(stages[0][0].line, "multi-stage",
                                "one stage only: build in a builder stage and copy the "
                                "result into a small runtime stage"))
    aliases = set()
    for stage in stages:
        check_base(stage[0], aliases, problems)
        _, alias = from_image(stage[0].args)
        if alias:
            aliases.add(alias)
        for instruction in stage[1:]:
            if instruction.keyword == "RUN":
                check_run(instruction, problems)
            elif instruction.keyword == "ADD":
                if re.search(r"(^|\s)(https?|ftp)://|(^|\s)git@", instruction.args):
                    problems.append(Problem(instruction.line, "add-url",
                                            "ADD of a URL downloads unverified content; "
                                            "download with a checksum check in a RUN"))
            elif instruction.keyword in ("ENTRYPOINT", "CMD"):
                if stage is stages[-1]:
                    check_exec_form(instruction, problems)

    final = stages[-1]
    users = [i for i in final if i.keyword == "USER"]
    if not users:
        problems.append(Problem(final[0].line, "non-root-user",
                                "the final stage has no USER, so the container runs as root; "
                                "add USER <uid>:<gid> with a fixed numeric uid"))
    else:
        user = users[-1]
        match = re.fullmatch(r"(\d+)(:(\d+))?", user.args)
        if not match:
            problems.append(Problem(user.line, "non-root-user",
                                    f"USER {user.args} is not numeric; a numeric uid lets "
                                    "runtimes verify that the user is not root"))
        elif int(match.group(1)) == 0:
            problems.append(Problem(user.line, "non-root-user", "USER 0 is root"))
    health = [i for i in final if i.keyword == "HEALTHCHECK"]
    if not health:
        problems.append(Problem(final[0].line, "healthcheck",
                                "the final stage has no HEALTHCHECK"))
    elif health[-1].args.strip().upper() == "NONE":
        problems.append(Problem(health[-1].line, "healthcheck", "HEALTHCHECK NONE"))
    return problems


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    failed = False
    for path in argv[1:]:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            print(f"{path}: cannot read: {e.strerror}", file=sys.stderr)
            return 2
        problems = lint(text)
        for problem in problems:
            print(f"{path}:{problem}")
        if problems:
            failed = True
        else:
            print(f"{path}: OK ({len(parse_instructions(text))} instructions)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
