"""The house rules that lint cannot state: no import cycle, counting imports under TYPE_CHECKING."""

from __future__ import annotations

import grimp
import networkx as nx


def test_no_module_of_ours_imports_itself_back_through_others():
    graph = grimp.build_graph(
        "dispatch", "geo", "stores", include_external_packages=False, exclude_type_checking_imports=False
    )
    imports = nx.DiGraph()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            imports.add_edge(module, imported)
    cycles = sorted(nx.simple_cycles(imports), key=len)
    assert cycles == [], f"{len(cycles)} import cycles, the shortest: {cycles[:3]}"


def test_the_cycle_check_sees_type_checking_imports():
    """keys.py names Services only for type checking; the graph must still hold that edge."""
    graph = grimp.build_graph("dispatch", include_external_packages=False, exclude_type_checking_imports=False)
    assert "dispatch.services" in graph.find_modules_directly_imported_by("dispatch.keys")
