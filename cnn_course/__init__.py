"""Helper package of the CNN basics course."""
