#!/usr/bin/env python3
"""Round trip through the real binary: the environment the Azure template and the Dockerfile
give the container is rendered the way ARM renders it (string() of a bool is "True", of an
array is JSON), then `vmray-connector validate` must accept it and `vmray-connector config print`
must show every mapped setting taken from that variable with the value the template meant.
Secrets are DO-NOT-LOG canaries that must not appear in any output.

Usage: template_env_test.py BINARY SOURCE_DIR
"""

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import arm_template_test  # noqa: E402
import connector_settings  # noqa: E402
import dockerfile_lint  # noqa: E402

BINARY = None
SOURCE_DIR = None
CANARY = "DO-NOT-LOG"

# Values for the parameters without a default, as an operator would give them.
REQUIRED = {
    "ContainerImage": "myregistry.azurecr.io/vmray-connector:0.1.0",
    "AzureClientID": "22222222-3333-4444-5555-666666666666",
    "AzureTenantID": "11111111-2222-3333-4444-555555555555",
    "AzureClientSecret": CANARY + "-client-secret",
    "VmrayBaseURL": "https://eu.cloud.vmray.com",
    "VmrayAPIKey": CANARY + "-vmray-key",
}
# What listKeys() yields at deployment time, for the Key Vault secrets made from it.
STORAGE_KEY = base64.b64encode((CANARY + "-storage-account-key").encode()).decode()


def arm_string(value):
    """ARM's string(): bools as True/False, arrays and objects as compact JSON."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class Evaluator:
    """The few ARM template functions the container's env uses."""

    def __init__(self, template, params):
        self.template = template
        self.params = params

    def eval(self, text):
        if not (text.startswith("[") and text.endswith("]")):
            return text
        value, rest = self._expr(text[1:-1].strip())
        if rest.strip():
            raise ValueError(f"cannot evaluate {text!r} (left: {rest!r})")
        return value

    def _expr(self, s):
        s = s.lstrip()
        if s.startswith("'"):
            end = s.index("'", 1)
            return s[1:end], s[end + 1:]
        m = re.match(r"-?\d+", s)
        if m:
            return int(m.group(0)), s[m.end():]
        m = re.match(r"(\w+)\(", s)
        if not m:
            raise ValueError(f"cannot evaluate {s!r}")
        name, s = m.group(1), s[m.end():]
        args = []
        while not s.lstrip().startswith(")"):
            value, s = self._expr(s)
            args.append(value)
            s = s.lstrip()
            if s.startswith(","):
                s = s[1:]
        s = s.lstrip()[1:]
        if name == "parameters":
            return self.params[args[0]], s
        if name == "variables":
            value = self.template["variables"][args[0]]
            return (self.eval(value) if isinstance(value, str) else value), s
        if name == "string":
            return arm_string(args[0]), s
        if name == "concat":
            return "".join(arm_string(a) for a in args), s
        raise ValueError(f"function {name}() is not supported by this test")


def container_env(template):
    params = {}
    for name, spec in template["parameters"].items():
        if name in REQUIRED:
            params[name] = REQUIRED[name]
        elif "defaultValue" in spec:
            default = spec["defaultValue"]
            # A string default in brackets is an expression (resourceGroup().location, ...).
            expression = isinstance(default, str) and default.startswith("[")
            params[name] = "computed" if expression else default
    ev = Evaluator(template, params)
    app = arm_template_test.resources_of(template, "Microsoft.App/containerApps")[0]
    secrets = {s["name"]: s["keyVaultUrl"] for s in app["properties"]["configuration"]["secrets"]}
    vault = {}
    for secret in arm_template_test.resources_of(template, "Microsoft.KeyVault/vaults/secrets"):
        m = re.search(r"'([^']+)'\)\]$", secret["name"])
        value = secret["properties"]["value"]
        if "listKeys" in value and "AccountName=" in value:
            value = ("DefaultEndpointsProtocol=https;AccountName=vmraystorage;AccountKey=" +
                     STORAGE_KEY + ";EndpointSuffix=core.windows.net")
        elif "listKeys" in value:
            value = STORAGE_KEY
        else:
            value = ev.eval(value)
        vault[m.group(1)] = value
    env = {}
    container = app["properties"]["template"]["containers"][0]
    for entry in container["env"]:
        if "secretRef" in entry:
            url = secrets[entry["secretRef"]]
            name = re.search(r"vaults/secrets', [^,]+, '([^']+)'\)", url).group(1)
            env[entry["name"]] = vault[name]
        else:
            env[entry["name"]] = arm_string(ev.eval(entry["value"]))
    return env, container


def dockerfile_env(source_dir):
    with open(os.path.join(source_dir, "deploy", "Dockerfile"), encoding="utf-8") as f:
        stages = dockerfile_lint.split_stages(dockerfile_lint.parse_instructions(f.read()))
    env = {}
    for instruction in stages[-1]:
        if instruction.keyword == "ENV":
            for word in shlex.split(instruction.args):
                name, _, value = word.partition("=")
                env[name] = value
    return env


def parse_print(text):
    """config print output -> ({"section.key": value}, {"section.key": source})."""
    values = tomllib.loads(text)
    sources = {}
    section = ""
    for line in text.splitlines():
        m = re.match(r"^\[([\w.]+)\]$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^(\w+) = .*  # (.+)$", line)
        if m:
            sources[f"{section}.{m.group(1)}"] = m.group(2)

    flat = {}

    def walk(node, prefix):
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, path + ".")
            else:
                flat[path] = value
    walk(values, "")
    return flat, sources


def expected_value(key, text):
    if key.type == "Secret":
        return "********"
    if key.type == "Int":
        return int(text)
    if key.type == "Bool":
        return text.strip().lower() in ("true", "1", "yes")
    if key.type in ("EnumList", "StringList"):
        items = json.loads(text) if text.strip().startswith("[") else text.split(",")
        return [i.strip() for i in items if i.strip()]
    return text


class TemplateEnvironment(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(SOURCE_DIR, "deploy", "azure", "azuredeploy.json")) as f:
            cls.template = json.load(f)
        cls.keys, cls.unsupported = connector_settings.load(
            os.path.join(SOURCE_DIR, "src", "config", "schema.cpp"))
        cls.tmp = tempfile.TemporaryDirectory()
        env = dockerfile_env(SOURCE_DIR)
        arm_env, _ = container_env(cls.template)
        env.update(arm_env)
        # The image's store path is not writable here; the value itself is checked below.
        cls.image_store_path = env["VMRAY_CONNECTOR_STORE_PATH"]
        env["VMRAY_CONNECTOR_STORE_PATH"] = os.path.join(cls.tmp.name, "vmray-connector.db")
        cls.env = env
        run_env = {"PATH": "/usr/bin:/bin", "HOME": cls.tmp.name, **env}
        cls.validate = subprocess.run([BINARY, "validate"], env=run_env, cwd=cls.tmp.name,
                                      capture_output=True, text=True, timeout=60)
        cls.printed = subprocess.run([BINARY, "config", "print"], env=run_env,
                                     cwd=cls.tmp.name, capture_output=True, text=True,
                                     timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_validate_accepts_the_template_environment(self):
        out = self.validate.stdout + self.validate.stderr
        self.assertEqual(self.validate.returncode, 0, out)
        self.assertIn("configuration is valid", out)
        # The only warnings are for original settings this build knowingly ignores.
        for line in out.splitlines():
            if line.startswith("warning:"):
                m = re.match(r"warning: env (\w+):", line)
                self.assertTrue(m and m.group(1) in self.unsupported, line)

    def test_every_mapped_setting_comes_from_its_variable(self):
        self.assertEqual(self.printed.returncode, 0, self.printed.stderr)
        values, sources = parse_print(self.printed.stdout)
        checked = 0
        for name, text in self.env.items():
            key = next((k for k in self.keys.values()
                        if name in (k.original_name, k.env_name)), None)
            if key is None:
                continue
            checked += 1
            if text == "":
                # An empty variable counts as unset, as an empty app setting did in Azure.
                self.assertEqual(sources.get(key.path), "default", key.path)
                continue
            self.assertEqual(sources.get(key.path), f"env {name}", key.path)
            self.assertEqual(values.get(key.path), expected_value(key, text),
                             f"{key.path} from env {name}={text!r}")
        self.assertGreaterEqual(checked, 20)

    def test_image_settings(self):
        values, _ = parse_print(self.printed.stdout)
        self.assertEqual(values["ops.listen"], "0.0.0.0:9464")
        self.assertEqual(values["log.format"], "json")
        self.assertTrue(self.image_store_path.startswith("/var/lib/vmray-connector/"))

    def test_no_secret_in_any_output(self):
        for result in (self.validate, self.printed):
            self.assertNotIn(CANARY, result.stdout + result.stderr)
            self.assertNotIn(STORAGE_KEY, result.stdout + result.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print("usage: template_env_test.py BINARY SOURCE_DIR", file=sys.stderr)
        sys.exit(2)
    BINARY = os.path.abspath(sys.argv.pop(1))
    SOURCE_DIR = sys.argv.pop(1)
    if not os.path.isfile(BINARY):
        print(f"FAIL: {BINARY} does not exist; build the vmray-connector target first")
        sys.exit(1)
    unittest.main(verbosity=2)
