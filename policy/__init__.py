"""webstack's CrossGuard policy pack: rules in `policy.rules`, the test adapter in `policy.adapter`.

`pulumi preview --policy-pack policy` runs `policy/__main__.py` with this directory on
sys.path (so it imports `rules`); the tests import the same modules as `policy.rules`.
"""
