#!/usr/bin/env bash
# Draw a run's report.html as a PNG with headless Chromium, as in the README:
#   docs/screenshot.sh RUN_DIR docs/images/report.png
# The report is self-contained, so the page renders without a network.
set -euo pipefail
run_dir=${1:?usage: docs/screenshot.sh RUN_DIR OUT.png}
out=${2:?usage: docs/screenshot.sh RUN_DIR OUT.png}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1280,2000 --screenshot="$(realpath -m "$out")" \
    "file://$(realpath "$run_dir")/report.html"
