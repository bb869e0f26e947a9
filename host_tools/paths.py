"""Where the repository's own folders are: one home for paths every command needs."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"
COMMITTED_DEFAULT = REPO_ROOT / "models" / "default"
