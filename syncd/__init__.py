"""syncd: keeps HubSpot lists and Mailchimp tags in step with customer segments."""

import os as _os

__version__ = "0.1.0"

#: Options for polars' allocator (jemalloc), read when polars is first imported, so set here
#: before anything imports it; a setting of the user's own is kept. Freed pages go back to the
#: system outright instead of lazily (`MADV_FREE`, still counted as resident): see
#: `syncd/memory.py`.
POLARS_ALLOCATOR = "muzzy_decay_ms:0"
_os.environ.setdefault("_RJEM_MALLOC_CONF", POLARS_ALLOCATOR)
