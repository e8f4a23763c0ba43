"""Multiscale transforms (Laplacian pyramid, DWT, curvelet, contourlet, NSCT) and their fusion rule."""

__all__: list[str] = []
