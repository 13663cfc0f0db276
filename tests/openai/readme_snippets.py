"""Extract the Python and JavaScript snippets of the README's "OpenAI-compatible API"
section, so the test runner runs them exactly as documented.

Usage: readme_snippets.py README.md OUT_DIR  →  OUT_DIR/readme.py, tests/openai/.readme-snippet.mjs
(the JavaScript file sits beside node_modules so that `import "openai"` resolves).
"""

import os
import re
import sys

readme, out = sys.argv[1], sys.argv[2]
text = open(readme, encoding="utf-8").read()
section = text.split("## OpenAI-compatible API", 1)[1].split("\n## ", 1)[0]
blocks = dict(re.findall(r"```(python|js)\n(.*?)```", section, re.S))
if set(blocks) != {"python", "js"}:
    sys.exit(f"README: expected a python and a js block in the section, found {sorted(blocks)}")
with open(os.path.join(out, "readme.py"), "w", encoding="utf-8") as f:
    f.write(blocks["python"])
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, ".readme-snippet.mjs"), "w", encoding="utf-8") as f:
    f.write(blocks["js"])
