"""Live monitoring of movements in transit: corridor, stops, seal, signal, lateness, borders, spoofing.

`domain` names the rules and holds a movement's plan and state; `engine` applies the rules to batches
of fixes, vectorised; `reference` is the same, one fix at a time (the specification the tests hold the
engine to); `corridor` puts a movement's route in metres; `borders` knows the countries (Natural Earth
1:10m from the npm package world-atlas). All pure: no database, no network, no asyncio.
"""
