"""A deterministic, seeded simulation of many tap runs in sequence.

In the spirit of FoundationDB's and TigerBeetle's simulation testing: the sandbox is the
world (``world.py``: two accounts, a clock moved between and during runs, faults, profile
changes), the installed tap is the program under test (``tap_process.py``: a real
subprocess over real HTTP on loopback), a warehouse model is the target
(``warehouse.py``, fed by ``target.py``: upserts, ACTIVATE_VERSION, BATCH files, STATE
acknowledged), and an oracle (``oracle.py``, whose docstring defines every invariant) checks
each run against the sandbox's truth. ``plan.py`` draws everything from one seed;
``runner.py`` runs a sequence; ``campaign.py`` runs seeds for a time budget and prints the
seed of any failure, which ``python -m tests.simulation --seed N`` (``make simulate SEED=N``)
replays exactly.
"""
