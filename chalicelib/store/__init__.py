"""Persistence: one store per item family (``chalicelib.store.<family>``), built together by
``chalicelib.store.registry`` (``AppContext.stores``). Nothing is imported here, so that
importing a record or one family does not import them all."""
