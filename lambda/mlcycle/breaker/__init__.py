"""The circuit breaker: its state (state.py), the state machine (machine.py), what it does to
AWS (effects.py), what infer and train do under each state (gate.py), and the events that
move it (handling.py)."""
