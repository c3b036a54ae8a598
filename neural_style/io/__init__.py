"""Files: images in and out, weights (read, verify, fetch), atomic writes, the style cache."""
