"""Filter bindings that canonicalise the client's value before comparing.

Data stored normalised (lower-cased tags, trimmed and lower-cased emails)
must be looked up normalised too, or `tags:"VIP"` would never match a tag
that was saved as `vip`.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement

from crm_common.filtering import Comparison, Has
from crm_common.storage.filter_sql import FieldBinding

_Node = TypeVar("_Node", Comparison, Has)


@dataclass(frozen=True, eq=False)
class NormalisedValue(FieldBinding):
    """Applies `normalise` to string values, then lets `binding` test them."""

    binding: FieldBinding
    normalise: Callable[[str], str]

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        return self.binding.compare(self._normalised(node))

    def has(self, node: Has) -> ColumnElement[bool]:
        return self.binding.has(self._normalised(node))

    def _normalised(self, node: _Node) -> _Node:
        if not isinstance(node.value, str):
            return node
        return dataclasses.replace(node, value=self.normalise(node.value))
