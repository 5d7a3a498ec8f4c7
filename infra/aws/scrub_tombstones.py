"""Operator job: scrub the content out of hidden replicas written before 2026-12.

Run once per deployment, with the deployment's credentials and its table::

    TABLE_NAME=<MainTable name> AWS_REGION=<region> python -m infra.aws.scrub_tombstones

It prints its report as JSON (scanned, scrubbed, changed_meanwhile) and may be run again at any
time: a second run scrubs nothing. See chalicelib/adapters/dynamo/scrub.py.
"""

from __future__ import annotations

import dataclasses
import json
import sys


def main() -> int:
    from chalicelib.adapters.dynamo.scrub import scrub_content_tombstones
    from chalicelib.container import get_container

    get_container()  # binds the records to the configured table and endpoint
    report = scrub_content_tombstones()
    print(json.dumps(dataclasses.asdict(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
