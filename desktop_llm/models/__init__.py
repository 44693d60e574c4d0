"""Models: the store on disk, the embedded default model and the catalog."""
