"""The connector's setting names, read from src/config/schema.cpp (the single key table), so the
deployment files are checked against what the binary actually reads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ENV_PREFIX = "VMRAY_CONNECTOR_"


@dataclass
class Key:
    path: str
    type: str = ""
    default: str = ""
    original_name: str = ""
    min: int | None = None
    max: int | None = None
    values: list = field(default_factory=list)

    @property
    def env_name(self):
        return ENV_PREFIX + self.path.replace(".", "_").upper()


def _cpp_string(text):
    """Joins adjacent C++ string literals and undoes the escapes the schema uses."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', text)
    return "".join(parts).replace('\\"', '"').replace("\\\\", "\\")


def _int(expr):
    # The schema writes a few limits as products, e.g. 4LL * 1024 * 1024 * 1024.
    value = 1
    for factor in expr.split("*"):
        value *= int(factor.strip().rstrip("LlUu"))
    return value


def load(schema_cpp_path):
    """Returns ({path: Key}, {unsupported original name}) from schema.cpp."""
    with open(schema_cpp_path, encoding="utf-8") as f:
        text = f.read()
    keys = {}
    chunks = text.split("{VC_KEY(")[1:]
    if not chunks:
        raise ValueError(f"{schema_cpp_path}: no VC_KEY entries found; has the schema moved?")
    for chunk in chunks:
        path = chunk.split(")", 1)[0].strip()
        # One entry ends at the next entry; the last chunk also holds the rest of the file,
        # so stop at the end of the table.
        body = chunk.split("};", 1)[0]
        key = Key(path)
        m = re.search(r"\.type\s*=\s*KeyType::k(\w+)", body)
        key.type = m.group(1) if m else ""
        m = re.search(r"\.default_text\s*=\s*((?:\s*\"(?:[^\"\\]|\\.)*\")+)", body)
        key.default = _cpp_string(m.group(1)) if m else ""
        m = re.search(r"\.original_name\s*=\s*\"([^\"]*)\"", body)
        key.original_name = m.group(1) if m else ""
        m = re.search(r"\.min\s*=\s*([-\dLl *]+)", body)
        key.min = _int(m.group(1)) if m else None
        m = re.search(r"\.max\s*=\s*([-\dLl *]+)", body)
        key.max = _int(m.group(1)) if m else None
        m = re.search(r"\.values\s*=\s*\{([^}]*)\}", body)
        key.values = re.findall(r'"([^"]*)"', m.group(1)) if m else []
        keys[path] = key
    unsupported = set()
    m = re.search(r"UnsupportedSettings\(\)\s*\{(.*?)\n\}", text, re.S)
    if m:
        unsupported = set(re.findall(r'\{\s*"(\w+)"\s*,', m.group(1)))
    return keys, unsupported


def is_known_env(name, keys, unsupported):
    """Whether the connector reads (or knowingly accepts) an environment variable."""
    if name == ENV_PREFIX + "CONFIG":
        return True
    if any(k.env_name == name or k.original_name == name for k in keys.values()):
        return True
    return name in unsupported

