import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # `import render`, as from the app's own package
