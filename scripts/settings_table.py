"""Print the Markdown table of every DynamiteSettings field (for docs/configuration.md).

.venv/bin/python scripts/settings_table.py
"""

import dataclasses
import inspect
import re

from rllib_dynamite.config import SETTING_TYPES, DynamiteSettings

source = inspect.getsource(DynamiteSettings)
helps = dict(re.findall(r"^\s+(\w+): .*?#\s*(.*)$", source, flags=re.M))
print("| setting | type | default | meaning |")
print("| --- | --- | --- | --- |")
for f in dataclasses.fields(DynamiteSettings):
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    kind = str(SETTING_TYPES[f.name]).replace("typing.", "")
    kind = kind.replace("<class '", "").replace("'>", "").replace("|", "\\|")
    print(f"| `{f.name}` | {kind} | `{default!r}` | {helps.get(f.name, '')} |")
