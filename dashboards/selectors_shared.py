"""Selectors that the alert rules and the dashboards share, written once.

The text is what goes between PromQL's double quotes (backslashes escaped
for PromQL). rules/alerts.yml restates it in each disk rule (YAML has no way
to splice a string into a PromQL expression); rules/tests/check_rules.py
fails when any copy there differs from these.
"""

# In-memory (tmpfs, ramfs: HighMemoryUsage covers them), image (squashfs,
# always full) and borrowed (overlay, fuse.*: someone else's disk) filesystems.
FS_TYPES_EXCLUDED = r"tmpfs|ramfs|devtmpfs|squashfs|overlay|nsfs|autofs|fuse\\..+"
# Kernel and runtime trees, for exporters started without node_exporter's
# default mount-point exclusions.
MOUNTPOINTS_EXCLUDED = r"/(dev|proc|sys|run)(/.*)?"


def real_filesystems(extra: str = "") -> str:
    """The matchers of a node_filesystem_* selector for real filesystems."""
    base = f'fstype!~"{FS_TYPES_EXCLUDED}", mountpoint!~"{MOUNTPOINTS_EXCLUDED}"'
    return f"{extra}, {base}" if extra else base
