"""How the objective's terms are scaled, by name (``--loss``): the registry the
configuration (choices, help) and the graph (:meth:`.graph.StyleGraph.set_weights`) both
read. No MXNet here, so :mod:`neural_style.config` stays cheap to import."""

from __future__ import annotations

from typing import Dict

#: How the terms are scaled (``--loss``). The weights multiply these normalised terms.
LOSSES: Dict[str, str] = {
    "example": "MXNet's example: a style layer's Gram error / (C²·H·W), the content error "
    "raw, TV as it is; deep layers and large images weigh differently",
    "relative": "every term relative to its target's size: ‖G − A‖² / ‖A‖² for a style "
    "layer, ‖F − P‖² / ‖P‖² for a content layer, each averaged over its layers, TV "
    "relative to the content's own; each layer counts the same, at any image size",
}
