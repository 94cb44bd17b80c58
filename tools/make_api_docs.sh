#!/usr/bin/env bash
# The API reference, generated from the docstrings with pdoc (in the "test" extra):
#
#     tools/make_api_docs.sh [OUTDIR]        # default build/api (git-ignored); open OUTDIR/index.html
#
# PYTHON=... picks the interpreter (default: python). Documents isreshape (the front door),
# isreshape.reference, isreshape.torch_impl (its modules are listed here: its __all__ names only
# set_device_validation, and pdoc follows __all__) and isreshape.proofs, except private modules
# (a name starting with "_"). The generated HTML is never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/api}
python=${PYTHON:-python}

modules=(isreshape isreshape.reference isreshape.proofs isreshape.torch_impl)
for f in torch_impl/*.py torch_impl/*/__init__.py; do
    name=${f#torch_impl/}
    name=${name%.py}
    name=${name%/__init__}
    [[ $name == _* ]] || modules+=("isreshape.torch_impl.$name")
done

rm -rf "$out"
"$python" -m pdoc --docformat restructuredtext -o "$out" "${modules[@]}" '!isreshape(\..*)?\._' '!isreshape\.proofs\.claims'
echo "API reference: $out/index.html ($(find "$out" -name '*.html' | wc -l) pages)"
