#!/usr/bin/env python3
"""Checks deploy/azure/azuredeploy.json without Azure: ARM structure, that every original
template parameter is there and reaches the container as the environment variable of the same
name, that those names and their defaults and limits agree with src/config/schema.cpp, that
secrets travel only as secure parameters into Key Vault and from there by reference, the
storage account and its two containers, and the container app's /healthz probe. Each check is
also run against a deliberately broken copy, so a check that could not fail would show.

Usage: arm_template_test.py SOURCE_DIR
"""

import copy
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connector_settings  # noqa: E402

SOURCE_DIR = None

SCHEMA_URL = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
TOP_LEVEL_KEYS = {"$schema", "contentVersion", "apiProfile", "metadata", "parameters",
                  "variables", "functions", "resources", "outputs"}
PARAMETER_TYPES = {"string", "securestring", "int", "bool", "object", "secureObject", "array"}

# The parameters of the original VMRay Defender templates (reference: original-defender-connector
# section 8.1) that users know and that this template must keep, each passed on as an env var.
ORIGINAL_PARAMETERS = [
    "AzureClientID", "AzureClientSecret", "AzureTenantID", "VmrayBaseURL", "VmrayAPIKey",
    "VmrayResubmitAfter", "VmrayAPIRetryTimeout", "VmrayAPIMaxRetry", "VmrayAnalysisJobTimeout",
    "DefenderApiRetryTimeout", "DefenderApiMaxRetry", "MachineAvailabilityTimeout",
    "MachineAvailabilityRetry", "CreateIndicatorsInDefender", "VmraySampleVerdict",
    "DefenderIndicatorActionForMaliciousIPAddressURL",
    "DefenderIndicatorActionForSuspiciousIPAddressURL", "DefenderIndicatorActionForMaliciousFile",
    "DefenderIndicatorActionForSuspiciousFile", "DefenderIndicatorAlert",
    "IndicatorExpirationInDays", "AddTagsToIncident", "AddCommentsToIncident", "AddAlertIdTags",
    "FetchQuarantinedFiles", "FilterAlertTitleWith", "DefenderAlertSeverity",
    "DefenderAlertStatus",
]
CONTAINERS = ["vmray-defender-quarantine-files", "vmray-defender-functionapp-status"]
HEALTH_PATH = "/healthz"


def walk(node, path="$"):
    """Yields (path, value) of every string in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def refs(text, kind):
    return re.findall(kind + r"\('([^']+)'\)", text)


def resolve_variables(text, variables):
    """Replaces variables('x') whose value is a plain literal, to read resource names."""
    def literal(m):
        value = variables.get(m.group(1))
        if isinstance(value, (str, int)) and not str(value).startswith("["):
            return f"'{value}'"
        return m.group(0)
    return re.sub(r"variables\('([^']+)'\)", literal, text)


def resources_of(template, type_name):
    return [r for r in template.get("resources", []) if r.get("type") == type_name]


def env_value_param(value):
    """The parameter an env value passes on unchanged (possibly through string())."""
    m = re.fullmatch(r"\[(?:string\()?parameters\('([^']+)'\)\)?\]", value or "")
    return m.group(1) if m else None


def check(template, keys, unsupported):
    problems = []
    add = problems.append

    # Structure.
    if template.get("$schema") != SCHEMA_URL:
        add(f"$schema is {template.get('$schema')!r}, expected {SCHEMA_URL}")
    if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", str(template.get("contentVersion", ""))):
        add("contentVersion is missing or not of the form 1.0.0.0")
    for key in sorted(set(template) - TOP_LEVEL_KEYS):
        add(f"unknown top-level key {key!r}")
    params = template.get("parameters", {})
    variables = template.get("variables", {})
    resources = template.get("resources", [])
    if not isinstance(resources, list) or not resources:
        add("resources must be a non-empty array")
        return problems
    for name, spec in params.items():
        if spec.get("type") not in PARAMETER_TYPES:
            add(f"parameter {name} has type {spec.get('type')!r}")
        if "description" not in spec.get("metadata", {}):
            add(f"parameter {name} has no metadata.description")
    for i, resource in enumerate(resources):
        for field in ("type", "apiVersion", "name"):
            if field not in resource:
                add(f"resource {i} ({resource.get('type')}) has no {field}")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", resource.get("apiVersion", "")):
            add(f"resource {resource.get('type')} has apiVersion {resource.get('apiVersion')!r}")

    # Every reference resolves, every parameter is used.
    body = {"variables": variables, "resources": resources,
            "outputs": template.get("outputs", {})}
    used = set()
    for path, text in walk(body):
        for name in refs(text, "parameters"):
            used.add(name)
            if name not in params:
                add(f"{path} refers to undefined parameter {name}")
        for name in refs(text, "variables"):
            if name not in variables:
                add(f"{path} refers to undefined variable {name}")
    for _, text in walk(params):
        used.update(refs(text, "parameters"))
    for name in params:
        if name not in used:
            add(f"parameter {name} is never used")
    types = {r.get("type") for r in resources}
    for resource in resources:
        for dep in resource.get("dependsOn", []):
            m = re.match(r"\[resourceId\('([^']+)'", dep)
            if m and m.group(1) not in types:
                add(f"{resource['type']} depends on a {m.group(1)} the template does not create")

    # The container app.
    apps = resources_of(template, "Microsoft.App/containerApps")
    if len(apps) != 1:
        add(f"expected one Microsoft.App/containerApps, found {len(apps)}")
        return problems
    app = apps[0]
    identity = app.get("identity", {}).get("type", "")
    if "UserAssigned" not in identity and "SystemAssigned" not in identity:
        add("the container app has no managed identity")
    template_spec = app.get("properties", {}).get("template", {})
    containers = template_spec.get("containers", [])
    if len(containers) != 1:
        add(f"expected one container in the app, found {len(containers)}")
        return problems
    container = containers[0]
    env = {}
    for entry in container.get("env", []):
        if entry.get("name") in env:
            add(f"env {entry.get('name')} is set twice")
        env[entry.get("name")] = entry
    scale = template_spec.get("scale", {})
    if scale.get("minReplicas") != 1 or scale.get("maxReplicas") != 1:
        add("the app must run exactly one replica (one daemon per store): minReplicas = "
            "maxReplicas = 1")

    # Secrets: secure parameters, stored in Key Vault, referenced by the app.
    secure = {n for n, s in params.items() if s.get("type") in ("securestring", "secureObject")}
    for name in secure:
        if "defaultValue" in params[name]:
            add(f"secure parameter {name} has a default value")
    vault_secrets = resources_of(template, "Microsoft.KeyVault/vaults/secrets")
    if not resources_of(template, "Microsoft.KeyVault/vaults"):
        add("no Key Vault (Microsoft.KeyVault/vaults)")
    stored = {}  # secret name expression -> value expression
    for secret in vault_secrets:
        stored[secret.get("name", "")] = secret.get("properties", {}).get("value", "")
    for path, text in walk(body):
        for name in set(refs(text, "parameters")) & secure:
            if not (path.startswith("$.resources[") and path.endswith(".properties.value")
                    and text in stored.values()):
                add(f"secure parameter {name} is used at {path}, outside a Key Vault secret")
    for path, text in walk(template.get("outputs", {})):
        if re.search(r"\blist\w*\(", text):
            add(f"output {path} exposes a key")
    app_secrets = {}
    for secret in app.get("properties", {}).get("configuration", {}).get("secrets", []):
        if "value" in secret:
            add(f"container app secret {secret.get('name')} holds its value instead of a Key "
                "Vault reference")
        if not secret.get("keyVaultUrl") or not secret.get("identity"):
            add(f"container app secret {secret.get('name')} is not a Key Vault reference with "
                "an identity")
        app_secrets[secret.get("name")] = secret.get("keyVaultUrl", "")
    secret_env = {k.original_name for k in keys.values() if k.type == "Secret" and k.original_name}
    secret_env |= {k.env_name for k in keys.values() if k.type == "Secret"}
    for name, entry in env.items():
        if "secretRef" in entry:
            if entry["secretRef"] not in app_secrets:
                add(f"env {name} refers to undefined secret {entry['secretRef']}")
        elif name in secret_env:
            add(f"env {name} is a secret but is set by value, not by secretRef")
        elif "value" not in entry:
            add(f"env {name} has neither value nor secretRef")

    def secret_source(secret_ref):
        """The parameter whose Key Vault secret an app secret refers to."""
        url = app_secrets.get(secret_ref, "")
        m = re.search(r"resourceId\('Microsoft\.KeyVault/vaults/secrets',\s*[^,]+,\s*'([^']+)'\)",
                      url)
        if not m:
            return None
        for name_expr, value in stored.items():
            if name_expr.rstrip("]").rstrip(")").endswith(f"'{m.group(1)}'"):
                return env_value_param(value)
        return None

    # The original parameters, each as the env var of the same name.
    for name in ORIGINAL_PARAMETERS:
        if name not in params:
            add(f"original parameter {name} is missing")
            continue
        entry = env.get(name)
        if entry is None:
            add(f"original parameter {name} is not passed to the container as env {name}")
        elif "secretRef" in entry:
            if name not in secure:
                add(f"env {name} comes from a secret but parameter {name} is not secure")
            elif secret_source(entry["secretRef"]) != name:
                add(f"env {name} refers to secret {entry['secretRef']}, which does not hold "
                    f"parameter {name}")
        elif env_value_param(entry.get("value")) != name:
            add(f"env {name} is {entry.get('value')!r}, not parameter {name}")
    for name, spec in keys.items():
        if spec.type == "Secret" and spec.original_name in params and \
                spec.original_name not in secure:
            add(f"parameter {spec.original_name} holds a secret but is not a securestring")

    # Every env var is one the connector reads, and agrees with the schema's rules.
    for name in env:
        if not connector_settings.is_known_env(name, keys, unsupported):
            add(f"env {name} is not a setting in src/config/schema.cpp")
    by_original = {k.original_name: k for k in keys.values() if k.original_name}
    for name, spec in params.items():
        key = by_original.get(name)
        if key is None or "defaultValue" not in spec:
            continue
        default = spec["defaultValue"]
        if key.type == "Int":
            if default != int(key.default):
                add(f"parameter {name} defaults to {default}, the connector to {key.default}")
            if spec.get("minValue") != key.min or spec.get("maxValue") != key.max:
                add(f"parameter {name} allows {spec.get('minValue')}..{spec.get('maxValue')}, "
                    f"the connector {key.min}..{key.max}")
        elif key.type == "Bool":
            if default != (key.default == "true"):
                add(f"parameter {name} defaults to {default}, the connector to {key.default}")
        elif key.type == "Enum":
            if default != key.default or sorted(spec.get("allowedValues", [])) != \
                    sorted(key.values):
                add(f"parameter {name} default/allowedValues differ from the connector's")
        elif key.type == "EnumList":
            if default != key.default.split(","):
                add(f"parameter {name} defaults to {default}, the connector to {key.default}")
        elif default != key.default:
            add(f"parameter {name} defaults to {default!r}, the connector to {key.default!r}")

    # Storage account and its containers.
    accounts = resources_of(template, "Microsoft.Storage/storageAccounts")
    if len(accounts) != 1:
        add(f"expected one storage account, found {len(accounts)}")
    else:
        account = accounts[0]
        props = account.get("properties", {})
        if account.get("kind") != "StorageV2":
            add("the storage account is not StorageV2")
        if props.get("minimumTlsVersion") != "TLS1_2":
            add("the storage account does not require TLS 1.2")
        if props.get("allowBlobPublicAccess") is not False:
            add("the storage account allows public blob access")
        if props.get("supportsHttpsTrafficOnly") is False:
            add("the storage account accepts plain HTTP")
    names = [resolve_variables(c.get("name", ""), variables) for c in
             resources_of(template, "Microsoft.Storage/storageAccounts/blobServices/containers")]
    for wanted in CONTAINERS:
        matching = [n for n in names if n.rstrip("')]").endswith(wanted)]
        if not matching:
            add(f"blob container {wanted} is not created")
    for c in resources_of(template, "Microsoft.Storage/storageAccounts/blobServices/containers"):
        if c.get("properties", {}).get("publicAccess", "None") != "None":
            add(f"blob container {c.get('name')} is public")

    # Logs and health.
    environments = resources_of(template, "Microsoft.App/managedEnvironments")
    if len(environments) != 1:
        add(f"expected one Container Apps environment, found {len(environments)}")
    else:
        logs = environments[0].get("properties", {}).get("appLogsConfiguration", {})
        if logs.get("destination") != "log-analytics":
            add("the Container Apps environment does not send logs to Log Analytics")
    if not resources_of(template, "Microsoft.OperationalInsights/workspaces"):
        add("no Log Analytics workspace")
    listen = env.get("VMRAY_CONNECTOR_OPS_LISTEN", {}).get("value", "")
    listen = resolve_variables(listen, variables)
    m = re.search(r"(\d+)'?\)*\]?$", listen)
    listen_port = int(m.group(1)) if m else None
    if not listen.startswith("[concat('0.0.0.0:'") and not listen.startswith("0.0.0.0:"):
        add("env VMRAY_CONNECTOR_OPS_LISTEN must make the ops listener listen on 0.0.0.0")
    probes = container.get("probes", [])
    liveness = [p for p in probes if p.get("type") == "Liveness"]
    if not liveness:
        add("the container has no Liveness probe")
    for probe in probes:
        get = probe.get("httpGet", {})
        if get.get("path") != HEALTH_PATH:
            add(f"{probe.get('type')} probe checks {get.get('path')!r}, not {HEALTH_PATH}")
        port = get.get("port")
        if isinstance(port, str):
            port = resolve_variables(port, variables).strip("[]'")
        if str(port) != str(listen_port):
            add(f"{probe.get('type')} probe uses port {port}, the ops listener {listen_port}")
    return problems


class ArmTemplate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(SOURCE_DIR, "deploy", "azure", "azuredeploy.json"),
                  encoding="utf-8") as f:
            cls.template = json.load(f)
        cls.keys, cls.unsupported = connector_settings.load(
            os.path.join(SOURCE_DIR, "src", "config", "schema.cpp"))

    def problems(self, template):
        return check(template, self.keys, self.unsupported)

    def broken(self, change):
        template = copy.deepcopy(self.template)
        change(template)
        return "\n".join(self.problems(template))

    def app(self, template):
        return resources_of(template, "Microsoft.App/containerApps")[0]

    def container(self, template):
        return self.app(template)["properties"]["template"]["containers"][0]

    def env_entry(self, template, name):
        return next(e for e in self.container(template)["env"] if e["name"] == name)

    def test_template_passes_every_check(self):
        self.assertEqual(self.problems(self.template), [])

    def test_missing_env_mapping(self):
        def drop(t):
            env = self.container(t)["env"]
            env[:] = [e for e in env if e["name"] != "VmrayAPIMaxRetry"]
        self.assertIn("VmrayAPIMaxRetry is not passed to the container", self.broken(drop))

    def test_env_fed_from_another_parameter(self):
        def swap(t):
            self.env_entry(t, "DefenderApiMaxRetry")["value"] = \
                "[string(parameters('VmrayAPIMaxRetry'))]"
        self.assertIn("env DefenderApiMaxRetry is", self.broken(swap))

    def test_missing_original_parameter(self):
        def drop(t):
            del t["parameters"]["FilterAlertTitleWith"]
        out = self.broken(drop)
        self.assertIn("original parameter FilterAlertTitleWith is missing", out)
        self.assertIn("undefined parameter FilterAlertTitleWith", out)

    def test_unused_parameter(self):
        def extra(t):
            t["parameters"]["Unused"] = {"type": "string", "metadata": {"description": "x"}}
        self.assertIn("parameter Unused is never used", self.broken(extra))

    def test_misspelt_env_name(self):
        def typo(t):
            self.env_entry(t, "VmrayAPIMaxRetry")["name"] = "VmrayApiMaxRetry"
        self.assertIn("env VmrayApiMaxRetry is not a setting", self.broken(typo))

    def test_secret_as_plain_value(self):
        def plain(t):
            entry = self.env_entry(t, "AzureClientSecret")
            del entry["secretRef"]
            entry["value"] = "[parameters('AzureClientSecret')]"
        out = self.broken(plain)
        self.assertIn("secure parameter AzureClientSecret is used at", out)
        self.assertIn("env AzureClientSecret is a secret but is set by value", out)

    def test_secret_parameter_not_secure(self):
        def insecure(t):
            t["parameters"]["VmrayAPIKey"]["type"] = "string"
        self.assertIn("parameter VmrayAPIKey holds a secret but is not a securestring",
                      self.broken(insecure))

    def test_app_secret_with_inline_value(self):
        def inline(t):
            secret = self.app(t)["properties"]["configuration"]["secrets"][0]
            del secret["keyVaultUrl"]
            secret["value"] = "x"
        self.assertIn("holds its value instead of a Key Vault reference", self.broken(inline))

    def test_secret_ref_to_the_wrong_vault_secret(self):
        def wrong(t):
            self.env_entry(t, "VmrayAPIKey")["secretRef"] = "azure-client-secret"
        self.assertIn("env VmrayAPIKey refers to secret azure-client-secret, which does not hold",
                      self.broken(wrong))

    def test_output_with_a_key(self):
        def leak(t):
            t["outputs"]["key"] = {"type": "string", "value": "[listKeys(variables('storageId'), "
                                   "'2023-01-01').keys[0].value]"}
        self.assertIn("exposes a key", self.broken(leak))

    def test_default_drift_from_the_connector(self):
        def drift(t):
            t["parameters"]["VmrayResubmitAfter"]["defaultValue"] = 8
            t["parameters"]["MachineAvailabilityRetry"]["maxValue"] = 1000
            t["parameters"]["VmraySampleVerdict"]["allowedValues"].append("Clean")
        out = self.broken(drift)
        self.assertIn("VmrayResubmitAfter defaults to 8", out)
        self.assertIn("MachineAvailabilityRetry allows 1..1000", out)
        self.assertIn("VmraySampleVerdict default/allowedValues differ", out)

    def test_container_names(self):
        def rename(t):
            t["variables"]["statusContainer"] = "vmray-status"
        self.assertIn("blob container vmray-defender-functionapp-status is not created",
                      self.broken(rename))

    def test_public_storage(self):
        def public(t):
            resources_of(t, "Microsoft.Storage/storageAccounts")[0]["properties"][
                "allowBlobPublicAccess"] = True
        self.assertIn("allows public blob access", self.broken(public))

    def test_probe_path_and_port(self):
        def probe(t):
            probes = self.container(t)["probes"]
            probes[-1]["httpGet"]["path"] = "/health"
            probes[0]["httpGet"]["port"] = 8080
        out = self.broken(probe)
        self.assertIn("probe checks '/health', not /healthz", out)
        self.assertIn("probe uses port 8080, the ops listener 9464", out)

    def test_replicas(self):
        def scale(t):
            self.app(t)["properties"]["template"]["scale"]["maxReplicas"] = 3
        self.assertIn("exactly one replica", self.broken(scale))

    def test_structure(self):
        def bad(t):
            t["$schema"] = "https://example.com/schema"
            t["resourcez"] = []
            t["resources"][0]["apiVersion"] = "latest"
        out = self.broken(bad)
        self.assertIn("$schema is", out)
        self.assertIn("unknown top-level key 'resourcez'", out)
        self.assertIn("has apiVersion 'latest'", out)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: arm_template_test.py SOURCE_DIR", file=sys.stderr)
        sys.exit(2)
    SOURCE_DIR = sys.argv.pop(1)
    unittest.main(verbosity=2)
