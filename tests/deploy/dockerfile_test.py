#!/usr/bin/env python3
"""Checks deploy/Dockerfile without Docker: the lint rules (and that each rule really fires on a
bad file), the image's contract with the connector (entry point, ops listener, store volume,
setting names the binary reads), and its HEALTHCHECK command run against a local HTTP server.

Usage: dockerfile_test.py SOURCE_DIR
"""

import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connector_settings  # noqa: E402
import dockerfile_lint  # noqa: E402

SOURCE_DIR = None

GOOD = """\
FROM debian:12 AS builder
RUN apt-get update \\
 && apt-get install -y --no-install-recommends g++ \\
 && rm -rf /var/lib/apt/lists/*
FROM debian:12-slim
COPY --from=builder /out/app /usr/local/bin/app
USER 10001:10001
HEALTHCHECK CMD ["app", "check"]
ENTRYPOINT ["app"]
CMD ["run"]
"""


def rules(text):
    return sorted({p.rule for p in dockerfile_lint.lint(text)})


class LintRules(unittest.TestCase):
    """Each rule fires on a file that breaks it, and only then."""

    def test_good_file_is_clean(self):
        self.assertEqual(rules(GOOD), [])

    def test_unpinned_and_latest_bases(self):
        self.assertEqual(rules(GOOD.replace("FROM debian:12 AS", "FROM debian AS")),
                         ["pinned-base"])
        self.assertEqual(rules(GOOD.replace("debian:12-slim", "debian:latest")), ["pinned-base"])
        self.assertEqual(rules(GOOD.replace("debian:12-slim", "registry:5000/x/debian")),
                         ["pinned-base"])
        self.assertEqual(rules(GOOD.replace("debian:12-slim", "registry:5000/debian:12")), [])
        self.assertEqual(rules(GOOD.replace("debian:12-slim", "debian@sha256:" + "a" * 64)), [])
        # A later stage may start from an earlier one by its name.
        self.assertEqual(rules(GOOD.replace("debian:12-slim", "builder")), [])

    def test_single_stage(self):
        single = GOOD.split("FROM debian:12-slim\n")[1]
        single = "FROM debian:12-slim\n" + single.replace("--from=builder ", "")
        self.assertEqual(rules(single), ["multi-stage"])

    def test_root_named_or_missing_user(self):
        self.assertEqual(rules(GOOD.replace("USER 10001:10001", "USER app")), ["non-root-user"])
        self.assertEqual(rules(GOOD.replace("USER 10001:10001", "USER 0")), ["non-root-user"])
        self.assertEqual(rules(GOOD.replace("USER 10001:10001\n", "")), ["non-root-user"])
        # A USER in the builder stage does not count for the final one.
        moved = GOOD.replace("USER 10001:10001\n", "").replace("RUN apt", "USER 10001\nRUN apt")
        self.assertEqual(rules(moved), ["non-root-user"])

    def test_healthcheck(self):
        self.assertEqual(rules(GOOD.replace('HEALTHCHECK CMD ["app", "check"]\n', "")),
                         ["healthcheck"])
        self.assertEqual(rules(GOOD.replace('CMD ["app", "check"]', "NONE")), ["healthcheck"])

    def test_add_url(self):
        text = GOOD.replace("USER", "ADD https://example.com/x.tar.gz /opt/\nUSER")
        self.assertEqual(rules(text), ["add-url"])
        self.assertEqual(rules(GOOD.replace("USER", "ADD local.tar.gz /opt/\nUSER")), [])

    def test_apt_hygiene(self):
        self.assertEqual(rules(GOOD.replace(" --no-install-recommends", "")), ["apt-recommends"])
        self.assertEqual(rules(GOOD.replace(" -y", "")), ["apt-yes"])
        self.assertEqual(rules(GOOD.replace(" \\\n && rm -rf /var/lib/apt/lists/*", "")),
                         ["apt-clean"])
        # Cleaning in a later RUN leaves the lists in the earlier layer.
        later = GOOD.replace(" \\\n && rm -rf /var/lib/apt/lists/*",
                             "\nRUN rm -rf /var/lib/apt/lists/*")
        self.assertEqual(rules(later), ["apt-clean"])
        split = GOOD.replace("RUN apt-get update \\\n && apt-get",
                             "RUN apt-get update && rm -rf /var/lib/apt/lists/*\nRUN apt-get")
        self.assertEqual(rules(split), ["apt-update-alone"])

    def test_shell_form_entrypoint(self):
        self.assertEqual(rules(GOOD.replace('ENTRYPOINT ["app"]', "ENTRYPOINT app")),
                         ["exec-form"])
        self.assertEqual(rules(GOOD.replace('CMD ["run"]', "CMD run")), ["exec-form"])

    def test_continuations_and_comments(self):
        text = GOOD.replace(" && apt-get install", "# a comment inside the RUN\n && apt-get install")
        self.assertEqual(rules(text), [])
        problems = dockerfile_lint.lint(GOOD.replace(" -y", ""))
        self.assertEqual([p.line for p in problems], [2])  # reported at the RUN's first line

    def test_command_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "Dockerfile")
            with open(bad, "w") as f:
                f.write(GOOD.replace("USER 10001:10001", "USER root"))
            out = subprocess.run([sys.executable, dockerfile_lint.__file__, bad],
                                 capture_output=True, text=True)
            self.assertEqual(out.returncode, 1)
            self.assertIn("[non-root-user]", out.stdout)
            self.assertIn(f"{bad}:line 7:", out.stdout)


class ProjectDockerfile(unittest.TestCase):
    """deploy/Dockerfile itself."""

    @classmethod
    def setUpClass(cls):
        cls.path = os.path.join(SOURCE_DIR, "deploy", "Dockerfile")
        with open(cls.path, encoding="utf-8") as f:
            cls.text = f.read()
        cls.stages = dockerfile_lint.split_stages(dockerfile_lint.parse_instructions(cls.text))
        cls.final = cls.stages[-1]
        cls.keys, cls.unsupported = connector_settings.load(
            os.path.join(SOURCE_DIR, "src", "config", "schema.cpp"))

    def final_args(self, keyword):
        return [i.args for i in self.final if i.keyword == keyword]

    def env(self):
        values = {}
        for args in self.final_args("ENV"):
            for word in shlex.split(args):
                name, _, value = word.partition("=")
                values[name] = value
        return values

    def test_lint_clean(self):
        self.assertEqual([str(p) for p in dockerfile_lint.lint(self.text)], [])

    def test_bases_are_debian_12(self):
        bases = [dockerfile_lint.from_image(s[0].args)[0] for s in self.stages]
        self.assertEqual(bases[0], "debian:12")
        self.assertEqual(bases[-1], "debian:12-slim")

    def test_builder_uses_setup_script_and_release_preset(self):
        runs = " ".join(i.args for i in self.stages[0] if i.keyword == "RUN")
        self.assertIn("scripts/setup.sh", runs)
        self.assertRegex(runs, r"cmake --preset release\b")
        self.assertRegex(runs, r"--target vmray-connector\b")
        self.assertIn("-DVC_BUILD_TESTS=OFF", runs)
        # The binary the builder installs is the one the final stage copies.
        copies = self.final_args("COPY")
        self.assertTrue(any(c.startswith("--from=builder /out/vmray-connector") for c in copies),
                        copies)

    def test_entrypoint_user_and_volume(self):
        self.assertEqual([json.loads(a) for a in self.final_args("ENTRYPOINT")],
                         [["vmray-connector"]])
        self.assertEqual([json.loads(a) for a in self.final_args("CMD")], [["run"]])
        self.assertEqual(self.final_args("USER")[-1], "10001:10001")
        volumes = " ".join(self.final_args("VOLUME"))
        self.assertIn("/var/lib/vmray-connector", volumes)
        self.assertIn("9464", " ".join(self.final_args("EXPOSE")))

    def test_environment_names_are_settings_the_connector_reads(self):
        env = self.env()
        self.assertEqual(env.get("VMRAY_CONNECTOR_OPS_LISTEN"), "0.0.0.0:9464")
        self.assertTrue(env.get("VMRAY_CONNECTOR_STORE_PATH", "").startswith(
            "/var/lib/vmray-connector/"), env)
        for name in env:
            self.assertTrue(connector_settings.is_known_env(name, self.keys, self.unsupported),
                            f"ENV {name} is not a setting in src/config/schema.cpp")

    def test_runtime_uid_matches_azure_template(self):
        with open(os.path.join(SOURCE_DIR, "deploy", "azure", "azuredeploy.json")) as f:
            template = json.load(f)
        self.assertEqual(template["variables"]["runAsUid"], self.final_args("USER")[-1].split(":")[0])

    def test_dockerignore_keeps_local_state_out(self):
        with open(os.path.join(SOURCE_DIR, "deploy", "Dockerfile.dockerignore")) as f:
            patterns = {l.strip() for l in f if l.strip() and not l.startswith("#")}
        for needed in (".git", "build", "**/*.db"):
            self.assertIn(needed, patterns)

    def healthcheck_command(self):
        args = self.final_args("HEALTHCHECK")[-1]
        self.assertIn(" CMD ", " " + args)
        return args.split("CMD", 1)[1].strip()

    def run_healthcheck(self, listen):
        env = dict(os.environ, VMRAY_CONNECTOR_OPS_LISTEN=listen)
        return subprocess.run(["sh", "-c", self.healthcheck_command()], env=env,
                              capture_output=True, text=True, timeout=30)

    def test_healthcheck_probes_healthz_on_the_ops_port(self):
        seen = []
        status = {"code": 200}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(self.path)
                self.send_response(status["code"])
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n")

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.server_address[1]
            result = self.run_healthcheck(f"0.0.0.0:{port}")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(seen, ["/healthz"])
            status["code"] = 503
            self.assertEqual(self.run_healthcheck(f"0.0.0.0:{port}").returncode, 1)
        finally:
            server.shutdown()
            server.server_close()
        # Nothing listening: unhealthy, not a hang.
        self.assertEqual(self.run_healthcheck(f"0.0.0.0:{port}").returncode, 1)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: dockerfile_test.py SOURCE_DIR", file=sys.stderr)
        sys.exit(2)
    SOURCE_DIR = sys.argv.pop(1)
    unittest.main(verbosity=2)
