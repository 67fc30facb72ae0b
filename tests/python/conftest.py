"""Makes `support` importable by every Python test tier."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
