"""A test plugin whose import fails, as a plugin with a missing dependency would."""

raise RuntimeError("cannot import: a required library is missing")
