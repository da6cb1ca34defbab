"""Results of long measurements, kept so that a rerun resumes, and the Markdown tables
they are reported in.

`ResultsStore` is one JSON file: the identity of what it measures (a budget, the
settings, the machine) and the results under keys. Each result is written atomically
as soon as it exists, so an interrupted benchmark loses at most the measurement it
was taking; a rerun with the same identity takes only what is missing. The quality
suite (`ganomaly_keras.training.quality_suite`) and every benchmark of the
repository's `benchmarks/` use it, and print with `markdown_table`.
"""

import json
import os
import sys

from ganomaly_keras.saving import write_json_atomically


class ResultsStore:
    """A JSON file of results under keys, saved after each one.

    Args:
        path: the JSON file (its folder is created).
        identity: JSON-able description of what is measured (budget, settings,
            machine). Results stored under another identity are not reused.
        on_mismatch: "restart" (start over, with a note on stderr) or "refuse"
            (raise a ValueError naming the file) when the file holds results of
            another identity.
        announce: print "measuring <key>" on stderr before each new measurement.

    Example:
    ```python
    store = ResultsStore("runs/bench/results.json", {"steps": 150, "seed": 0})
    auroc = store.measure(("PA_BDP01_TL", "auroc"), lambda: run_folder(...))
    ```
    """

    def __init__(self, path, identity, on_mismatch="restart", announce=False):
        if on_mismatch not in ("restart", "refuse"):
            raise ValueError(f'on_mismatch must be "restart" or "refuse"; got {on_mismatch!r}.')
        self.path = os.fspath(path)
        self.announce = announce
        self.identity = json.loads(json.dumps(identity))
        self.data = {"identity": self.identity, "results": {}}
        if os.path.exists(self.path):
            with open(self.path) as handle:
                previous = json.load(handle)
            if previous.get("identity") == self.identity:
                self.data = previous
            elif on_mismatch == "refuse":
                raise ValueError(
                    f"{self.path} holds results of another setting "
                    f"({previous.get('identity')!r}); pass another path or delete it."
                )
            else:
                print(f"{self.path} holds results of another setting "
                      f"({previous.get('identity')!r}): starting over.", file=sys.stderr)

    @property
    def results(self):
        """The stored results: a dict of keys to values (nested for tuple keys)."""
        return self.data["results"]

    def _parent(self, keys, create):
        keys = (keys,) if isinstance(keys, str) else tuple(str(k) for k in keys)
        node = self.results
        for key in keys[:-1]:
            if key not in node:
                if not create:
                    return None, keys[-1]
                node[key] = {}
            node = node[key]
        return node, keys[-1]

    def __contains__(self, keys):
        node, last = self._parent(keys, create=False)
        return node is not None and last in node

    def get(self, keys, default=None):
        """The value stored under `keys` (a string, or a tuple for nested keys)."""
        node, last = self._parent(keys, create=False)
        return default if node is None else node.get(last, default)

    def put(self, keys, value):
        """Store `value` under `keys` and save the file."""
        node, last = self._parent(keys, create=True)
        node[last] = value
        self.save()
        return value

    def measure(self, keys, function):
        """The value under `keys`, taken by `function()` and saved if absent.

        Args:
            keys: a string, or a tuple of strings for nested keys.
            function: takes the measurement; returns a JSON-able value.

        Returns:
            the stored or new value.
        """
        if keys in self:
            return self.get(keys)
        if self.announce:
            name = keys if isinstance(keys, str) else "/".join(str(k) for k in keys)
            print(f"measuring {name}", file=sys.stderr, flush=True)
        return self.put(keys, function())

    def save(self):
        """Write the file atomically."""
        write_json_atomically(self.path, self.data)


def markdown_table(header, rows):
    """A Markdown table.

    Args:
        header: the column titles.
        rows: sequences of cells, each as many as `header` (formatted with `str`).

    Returns:
        the table's lines joined by newlines, with a trailing newline.
    """
    header = [str(h) for h in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [str(c) for c in row]
        if len(cells) != len(header):
            raise ValueError(f"a row has {len(cells)} cells for {len(header)} columns: {cells}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
