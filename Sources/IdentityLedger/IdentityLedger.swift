// The engine; see the DocC catalog.
