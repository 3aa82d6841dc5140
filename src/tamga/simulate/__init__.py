"""A fleet of simulated trucks under electronic seals, driving real corridors of the Union and reporting to
the device gateways over the real protocols (EGTS, Wialon IPS, MQTT): `tamga simulate`.

`corridors` and `trucks` are pure (routes, tracks, incidents, deterministic per seed); `devices` speaks
the protocols over sockets; `runner` drives many trucks at once in accelerated time.
"""
