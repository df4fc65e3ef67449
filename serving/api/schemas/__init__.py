"""Request and response schemas, one pair per entity, with constraints and examples."""
