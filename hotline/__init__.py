"""The composition root and the launcher: settings → stores → processes."""
