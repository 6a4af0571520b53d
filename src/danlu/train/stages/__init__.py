"""The training stages, one module each: a trainer builder over the shared runner."""
