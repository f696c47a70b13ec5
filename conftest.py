"""Root conftest: the repository's own tests run with the plugin installed (entry point).

pytester's in-process runs restore ``sys.modules`` afterwards, dropping modules first imported
during the run; a C extension such as DuckDB crashes when imported a second time. Importing them
here, before any run, keeps them loaded for the whole session.
"""

import duckdb  # noqa: F401
import psutil  # noqa: F401
