#!/usr/bin/env python3
"""Keeps docs/runbook.md in step with the code: every metric of the catalogue in
src/core/metrics.cpp, every job state the evidence job enters, every collection outcome, every
original setting src/config/schema.cpp knows and every original template parameter is described,
and every link inside the page points at a heading that exists.

Usage: runbook_test.py SOURCE_DIR
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import arm_template_test  # noqa: E402
import connector_settings  # noqa: E402

SOURCE_DIR = None


def read(*parts):
    with open(os.path.join(SOURCE_DIR, *parts), encoding="utf-8") as f:
        return f.read()


def anchor(heading):
    # GitHub's rule: lower case, drop punctuation except - and _, spaces become -.
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


class Runbook(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = read("docs", "runbook.md")
        # Only table rows and code count as "described": a name in passing prose is not enough.
        cls.rows = "\n".join(l for l in cls.text.splitlines() if l.startswith("|"))

    def test_every_metric_is_described(self):
        catalogue = re.findall(r'\{"(vc_\w+)"', read("src", "core", "metrics.cpp"))
        self.assertGreater(len(catalogue), 10)
        missing = [m for m in catalogue if f"| `{m}` |" not in self.rows]
        self.assertEqual(missing, [], "metrics without a row in the runbook's metric table")

    def test_every_job_state_is_described(self):
        code = read("src", "pipelines", "defender_alerts", "evidence_job.cpp")
        states = set(re.findall(r'(?:Go|End)\("(\w+)"', code))
        states |= set(re.findall(r's == "(\w+)"\) return', code))
        states |= {"done", "failed"}
        self.assertGreater(len(states), 8)
        missing = sorted(s for s in states if f"| `{s}`" not in self.rows)
        self.assertEqual(missing, [], "job states without a row in the runbook")

    def test_every_collection_outcome_is_described(self):
        code = read("src", "pipelines", "defender_alerts", "quarantine_collection.cpp")
        block = code[code.index("kOutcomes[]"):]
        block = block[:block.index("};")]
        outcomes = re.findall(r'\{"(\w+)",', block) + ["uploaded"]
        missing = [o for o in outcomes if f"| `{o}` |" not in self.rows]
        self.assertEqual(missing, [], "collection outcomes without a row in the runbook")

    def test_every_original_setting_is_mapped(self):
        keys, unsupported = connector_settings.load(
            os.path.join(SOURCE_DIR, "src", "config", "schema.cpp"))
        for key in keys.values():
            if key.original_name:
                self.assertRegex(self.rows, rf"\| `{key.original_name}`[^|]*\| `{re.escape(key.path)}` \|",
                                 f"{key.original_name} is not mapped to {key.path}")
        for name in sorted(unsupported | set(arm_template_test.ORIGINAL_PARAMETERS)):
            self.assertIn(f"`{name}`", self.rows, f"{name} is not in the settings table")

    def test_internal_links_resolve(self):
        headings = {anchor(h) for h in re.findall(r"^#+ (.+)$", self.text, re.M)}
        links = re.findall(r"\]\(#([^)]+)\)", self.text)
        self.assertGreater(len(links), 5)
        broken = [l for l in links if l not in headings]
        self.assertEqual(broken, [], f"links to missing headings; headings are {sorted(headings)}")

    def test_named_files_exist(self):
        for path in re.findall(r"`((?:deploy|docs|src|scripts)/[\w./-]+)`", self.text):
            self.assertTrue(os.path.exists(os.path.join(SOURCE_DIR, path)), path)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: runbook_test.py SOURCE_DIR", file=sys.stderr)
        sys.exit(2)
    SOURCE_DIR = sys.argv.pop(1)
    unittest.main(verbosity=2)
