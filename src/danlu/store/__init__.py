"""The local model store: manifests, import, pull, copy and remove.

`Catalog(settings)` is the entry point; nothing here touches the disk at import.
"""

from danlu.store.catalog import Catalog, Listing
from danlu.store.manifest import Manifest

__all__ = ["Catalog", "Listing", "Manifest"]
