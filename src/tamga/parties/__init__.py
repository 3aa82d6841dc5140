"""Economic operators of both states, carriers with their vehicles, electronic seals."""
