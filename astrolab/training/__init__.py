"""The runs: ``train`` and ``evaluate`` (compose config → build data, model, trainer → fit/test → write
outputs), and the design's Python API."""
