"""Hooks for tools/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

`cursor` (every list) and `since` (GET /api/sync) are tokens the server
mints: a page's `next_cursor`, a sync's `next_token`. No generator can make
a valid one, and the server rightly refuses a forged one with 400, so a
generated value that the document admits is dropped from the request just
before it is sent (in every phase): the request then reads the first page,
which it must be served. Values the document refuses are kept, so their
refusal is still checked.
"""

import re

import schemathesis

MINTED = {
    "cursor": re.compile(r"[A-Za-z0-9_-]{1,1024}"),
    "since": re.compile(r"s[A-Za-z0-9_-]+"),
}


@schemathesis.hook
def before_call(context, case, kwargs):
    query = case.query
    if not query:
        return
    for name, token in MINTED.items():
        value = query.get(name)
        if isinstance(value, str) and token.fullmatch(value):
            del query[name]
