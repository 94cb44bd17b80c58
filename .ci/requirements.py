"""Print the requirements pyproject.toml declares (dependencies plus the named extras), one per
line, for `pip install -r`: CI installs them before the project itself (.ci/run says why).

Usage: python .ci/requirements.py test,trl
"""

import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the parser pip vendors
    from pip._vendor import tomli as tomllib

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
extras = [e for e in (sys.argv[1] if len(sys.argv) > 1 else "").split(",") if e]
unknown = sorted(set(extras) - set(project.get("optional-dependencies", {})))
if unknown:
    sys.exit(f"unknown extra(s): {', '.join(unknown)}")
reqs = list(project["dependencies"])
for e in extras:
    reqs += project["optional-dependencies"][e]
print("\n".join(reqs))
