"""Files at the edge of the library (NumPy, not JAX): reading inputs, atomic writes."""

__all__: list[str] = []
