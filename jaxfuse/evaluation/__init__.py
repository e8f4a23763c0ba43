"""Running fusion methods over folders of pairs, scoring them, and reporting the results."""

__all__: list[str] = []
