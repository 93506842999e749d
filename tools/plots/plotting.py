"""What the plot scripts share: matplotlib without a display, and saving a
figure as PNG and SVG."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save(fig, out_dir, name):
    """OUT_DIR/NAME.png and .svg; their paths."""
    paths = []
    for ext in ("png", "svg"):
        path = os.path.join(out_dir, f"{name}.{ext}")
        fig.savefig(path, dpi=110)
        paths.append(path)
    plt.close(fig)
    return paths
