"""The tap as an Airbyte source: ``source-knowbe4`` (spec, check, discover, read).

A thin adapter: the tap reads, settles and remembers exactly as for Singer; this package
translates its settings into a spec (:mod:`.spec`), its streams into a catalog
(:mod:`.catalog`), its state into Airbyte's per-stream states (:mod:`.state`), its messages
into Airbyte's (:mod:`.writer`, :mod:`.output`, built with the protocol's published models:
:mod:`.protocol`), and its run report into stream statuses and an exit code (:mod:`.source`).
"""
