"""The decision policy: ordered decision tables over scores and facts, evaluated for one
invoice or a million with the same code, with reasons, replay on history and capacity tuning.

The engine has no web imports and never imports ``training``.
"""
