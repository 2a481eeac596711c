"""A worked rdpkit plugin; see CONTRIBUTING.md of rdpkit."""
