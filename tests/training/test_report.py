"""training/report.py: every run's report.html, self-contained, rendered in a real
browser (Debian's chromium, which .ci/run installs)."""

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from ganomaly_keras.training.report import gallery_rows
from ganomaly_keras.training.test_scores import read_test_scores
from tests import helpers
from tests.settings import TINY_FLAGS

SECTIONS = ("glance", "figures", "curves", "training", "gallery")


@pytest.fixture(scope="module")
def reported_run(tmp_path_factory):
    """A tiny folder run (rectangular working size, masks) and its report."""
    root = tmp_path_factory.mktemp("report")
    folder = helpers.make_inspection_folder(str(root / "parts"))
    run = str(root / "run")
    assert helpers.status(["train", "--folder", folder, *TINY_FLAGS, "--steps", "4",
                           "--batch-size", "8", "--working-size", "48x32",
                           "--formats", "keras", "--run-dir", run]) == 0
    return run


def test_every_run_leaves_a_self_contained_report(reported_run):
    page = open(os.path.join(reported_run, "report.html")).read()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page, section
    # Nothing to fetch: every image is a data URI, no script, no stylesheet link.
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources), sources[:3]
    assert "<script" not in page and "<link" not in page and "url(" not in page
    rows = read_test_scores(reported_run)
    assert page.count('<figure class="card') == len(gallery_rows(rows)) > 0
    assert "48x32 pixels (width x height), scored over 16-pixel tiles" in page


def test_the_gallery_leads_with_mistakes_then_extremes():
    rows = [
        {"anomaly_score": s, "is_anomaly": d, "label": y}
        for s, d, y in [(0.1, 0, 0), (0.9, 1, 0), (0.2, 0, 1), (0.5, 1, 1), (0.05, 0, 0)]
    ]
    chosen = gallery_rows(rows)
    assert chosen[:2] == [1, 2]  # the false positive, then the false negative
    assert set(chosen) == set(range(5)) and len(chosen) == len(set(chosen))


def test_report_rebuilds_a_finished_run(reported_run, capsys):
    os.remove(os.path.join(reported_run, "report.html"))
    assert helpers.status(["report", reported_run]) == 0
    assert os.path.exists(os.path.join(reported_run, "report.html"))
    assert helpers.status(["report", os.path.dirname(reported_run)]) == 2
    assert "needs a finished run" in capsys.readouterr().err


def page_requests(netlog):
    """The URLs a page asked the network for, from Chromium's net log: requests whose
    initiator is an origin (the browser's own background requests have none). A page
    with `<img src="http://example.com/x.png">` lists that URL here."""
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"] for event in log["events"]
        if event["type"] == start and "url" in event.get("params", {})
        and event["params"].get("initiator") != "not an origin"
    ]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_the_report_renders_in_a_real_browser_without_fetching_anything(reported_run, tmp_path):
    """Headless Chromium renders the page (not blank, every section, the gallery), and
    its network log shows no request but the file itself and its data URIs."""
    page = "file://" + os.path.join(reported_run, "report.html")
    flags = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
    ]
    netlog = tmp_path / "netlog.json"
    dom = subprocess.run(flags + [f"--log-net-log={netlog}", "--dump-dom", page],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for section in SECTIONS:
        assert f'id="{section}"' in dom.stdout, section
    assert dom.stdout.count('class="card') == len(gallery_rows(read_test_scores(reported_run)))
    assert not page_requests(netlog), page_requests(netlog)[:5]
    shot = tmp_path / "report.png"
    rendered = subprocess.run(flags + ["--window-size=1280,1600", f"--screenshot={shot}", page],
                              capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), np.float32)
    assert pixels.std() > 10  # text, plots and images, not a blank page
    # Readable on a phone: the layout reflows instead of overflowing 390 pixels.
    narrow = subprocess.run(flags + ["--window-size=390,1600", f"--screenshot={tmp_path / 'phone.png'}", page],
                            capture_output=True, text=True, timeout=120)
    assert narrow.returncode == 0 and Image.open(tmp_path / "phone.png").size == (390, 1600)
