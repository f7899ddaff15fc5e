"""Link kinds, their profiles, propagation and power models, and link emulation."""
