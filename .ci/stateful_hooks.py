"""schemathesis hooks for the stateful phase of `.ci/contract` only.

The stateful phase checks resource lifecycles: create, then read, update, delete what was created.
Its generated `Idempotency-Key` values come from a small space (one character is valid), so a
later scenario can repeat an earlier scenario's key and body, and the gateway then rightly replays
the earlier 201, for a resource that scenario has since deleted. ST302 ("created resource not
found") cannot tell that from a bug. Each POST of this phase gets a fresh key; the fuzzing phases,
which run without this module, still generate and check keys of every shape.
"""

import uuid

import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.method.upper() == "POST":
        headers = case.headers if case.headers is not None else {}
        headers["Idempotency-Key"] = str(uuid.uuid4())
        case.headers = headers
