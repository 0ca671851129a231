"""Data: catalog reading, survey schemas, embedded sample generators, graph building, caching and
Lightning data modules whose batches are TensorDicts."""
