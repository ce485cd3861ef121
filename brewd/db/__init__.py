"""The schema: ordered SQL migrations shipped inside the package."""
