"""Resource layers, access per cell, gap score and siting (no Streamlit here)."""
