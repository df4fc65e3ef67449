"""Arbiter's data layer: the AR data contract, loaders, importer, simulator and features."""
