"""Tests of the virtual board (host_tools/virtual); its names, as tests import them."""
from host_tools.paths import REPO_ROOT  # noqa: F401
from host_tools.virtual.board import VirtualBoard, node_available  # noqa: F401
