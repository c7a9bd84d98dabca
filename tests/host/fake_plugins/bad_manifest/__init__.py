"""A test plugin with a malformed manifest; importing it would be a host bug."""

raise AssertionError("the host imported a plugin whose manifest is invalid")
