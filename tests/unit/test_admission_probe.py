"""The admission probe's AIService must decode on the API server as PyYAML wrote it."""

import re

from airlock_dev import admission_probe

# What a YAML 1.1 decoder such as the API server's takes for a number: digits with an optional
# fraction and an optional exponent, with or without a dot ("81e23350" is a float there, a string to PyYAML).
NUMBER = re.compile(r"^[-+]?[0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?$")


def test_the_probe_token_is_never_read_as_a_number():
    assert NUMBER.match("81e23350") and NUMBER.match("12345678")
    for _ in range(2000):
        token = admission_probe._aiservice()["metadata"]["annotations"][admission_probe.TOKEN]
        assert not NUMBER.match(token), token
