"""Where articles come from: fetch (all I/O), parse (pure, one module per source type),
clean (pure), and the `refresh_due` use case that ties them to the store."""
