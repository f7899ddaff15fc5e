"""The examples in the router's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "emcomm.router.policy", "emcomm.router.cost", "emcomm.router.compiled", "emcomm.router.contact_plan",
    "emcomm.router.synthetic", "emcomm.router.router", "emcomm.cli.route_cmd",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
