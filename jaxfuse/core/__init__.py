"""The method itself, pure JAX: colour (RGB <-> HSI), VGG19 conv1_1 features and their parameters,
the per-pixel weights and the compiled fusion kernel. Nothing here touches files."""

__all__: list[str] = []
