"""A block worker for tests/test_benchmark.py: `python -m block_worker_task '{...}'`.

Each block returns how many blocks this process has run; `{"fail_after": n}` makes
block n + 1 raise (the worker dies, as a crashing measurement would).
"""

import json
import sys

from benchmarks.measurement import serve_blocks

if __name__ == "__main__":
    options = json.loads(sys.argv[1])
    counter = {"blocks": 0}

    def block():
        if counter["blocks"] == options.get("fail_after", -1):
            raise ValueError("this block fails on purpose")
        counter["blocks"] += 1
        print("a library's chatter on stdout")
        return {"blocks": counter["blocks"], "name": options["name"]}

    serve_blocks(block)
